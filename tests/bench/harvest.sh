#!/bin/bash
# tests/bench/harvest.sh: runs inside a test host (tests/bench/run starts it).
# Harvest cost per round, in-kernel against userspace, for one dirtier VM
# (tests/tools/dirtier: a vCPU rewriting every STRIDE-th page, so about
# 1/STRIDE of memory is dirty each round) per size:
#   module:    kvmmig-ctl debug source (KVM_GET_DIRTY_LOG + chunked
#              KVM_CLEAR_DIRTY_LOG from the session's kthread), harvest_ns;
#   userspace: the dirtier's own `ubench` (the same ioctls from userspace,
#              the same chunking), harvest_ns.
# Both stream their pages to a draining sink (tests/kmod/streamtool.py).
#
#   harvest.sh "MEM_MIB..." "STRIDE..." ROUNDS MS
# Prints one key=value line per incremental round: "harvest mem=... stride=...
# method=module|user round=... dirty=... harvest_ns=... send_ns=...".
set -u
cd "$(dirname "$0")/../.."
PATH=$PWD/build:$PWD/build/tests:$PATH
SIZES=${1:-256}
STRIDES=${2:-1000 100 10}
ROUNDS=${3:-4}
MS=${4:-500}
PORT=7421
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_line() { # FILE REGEX SECONDS
	local end=$(($(date +%s) + $3))
	until grep -Eq "$2" "$1" 2>/dev/null; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.1; done
}
lines_gt() { [ "$(wc -l <"$1")" -gt "$2" ]; }
grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"

sink() {
	tests/kmod/streamtool.py sink $PORT 1099511627776 >"$tmp/sink.out" 2>&1 &
	sink_pid=$!
	pids+=($sink_pid)
	wait_line "$tmp/sink.out" listening 20
}

one() { # MEM STRIDE
	local mem=$1 stride=$2 n r
	rm -f "$tmp"/*.in "$tmp"/*.out
	mkfifo "$tmp/src.in" "$tmp/tool.in"
	dirtier bsrc --mem "$mem" --stride "$stride" <"$tmp/src.in" >"$tmp/src.out" 2>&1 &
	local dpid=$!
	pids+=($dpid)
	exec {src_fd}>"$tmp/src.in"
	wait_line "$tmp/src.out" attached 30 || { echo "harvest: dirtier failed: $(cat "$tmp/src.out")"; return 1; }
	echo run >&"$src_fd"
	wait_line "$tmp/src.out" running 10

	# The module: round 0 (full), then ROUNDS incremental rounds MS apart.
	sink
	kvmmig-ctl debug source bsrc 127.0.0.1:$PORT <"$tmp/tool.in" >"$tmp/tool.out" 2>&1 &
	local tpid=$!
	pids+=($tpid)
	exec {tool_fd}>"$tmp/tool.in"
	wait_line "$tmp/tool.out" started 30 || { echo "harvest: debug source failed: $(cat "$tmp/tool.out")"; return 1; }
	for r in $(seq 0 "$ROUNDS"); do
		[ "$r" = 0 ] || sleep "$(echo "scale=3; $MS / 1000" | bc)"
		n=$(wc -l <"$tmp/tool.out")
		if [ "$r" = 0 ]; then echo "round full" >&"$tool_fd"; else echo round >&"$tool_fd"; fi
		until lines_gt "$tmp/tool.out" "$n"; do sleep 0.05; done
		tail -n 1 "$tmp/tool.out" | grep -q '^round' || { echo "harvest: module round failed: $(tail -n 1 "$tmp/tool.out")"; return 1; }
		[ "$r" = 0 ] || echo "harvest mem=$mem stride=$stride method=module $(tail -n 1 "$tmp/tool.out" | sed 's/^round //')"
	done
	echo stop >&"$tool_fd"
	wait_line "$tmp/tool.out" stopped 60
	exec {tool_fd}>&-
	wait "$tpid" 2>/dev/null
	kill "$sink_pid" 2>/dev/null

	# Userspace: same VM, same rounds (its round 0 sends every page).
	sink
	n=$(wc -l <"$tmp/src.out")
	echo "ubench 127.0.0.1 $PORT $((ROUNDS + 1)) $MS" >&"$src_fd"
	wait_line "$tmp/src.out" "ubench done|^error" 900 || { echo "harvest: ubench timed out"; return 1; }
	grep '^error' "$tmp/src.out" && return 1
	grep '^ubench round' "$tmp/src.out" | grep -v 'round=0 ' |
		sed "s/^ubench /harvest mem=$mem stride=$stride method=user /"
	echo quit >&"$src_fd"
	exec {src_fd}>&-
	wait "$dpid" 2>/dev/null
	kill "$sink_pid" 2>/dev/null
	return 0
}

for mem in $SIZES; do
	for stride in $STRIDES; do
		t0=$(date +%s)
		one "$mem" "$stride" || echo "harvest mem=$mem stride=$stride failed"
		echo "harvest-time mem=$mem stride=$stride seconds=$(($(date +%s) - t0))" >&2
	done
done
