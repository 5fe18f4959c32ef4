#!/bin/bash
# tests/bench/harvest.sh: runs inside a test host (tests/bench/run starts it).
# Harvest cost per round, in-kernel against userspace, for one dirtier VM per
# size (tests/tools/dirtier: a vCPU rewriting every STRIDE-th page, pass
# after pass):
#   module:    kvmmig-ctl debug source (KVM_GET_DIRTY_LOG + chunked
#              KVM_CLEAR_DIRTY_LOG from the session's kthread), harvest_ns;
#   userspace: the dirtier's own `hbench` (the same ioctls from the VMM
#              process, the same chunking), harvest_ns.
# Both stream their pages to a draining sink (tests/bench/sink.py).
#
# Every round is "run the vCPU MS ms, pause it at the end of a pass, harvest
# + send": the round holds exactly the pages of whole passes, 1/STRIDE of
# memory, whatever the vCPU's speed (in a nested TCG guest a pass over 10 %
# of 2 GiB takes seconds: with a fixed interval the "10 %" rounds held
# anything between 0 and 10 %). One VM, one round 0 (full) per size and
# method; the stride changes between rounds.
#
#   harvest.sh "MEM_MIB..." "STRIDE..." ROUNDS MS
# Prints one key=value line per round: "harvest mem=... stride=...
# method=module|user round=... dirty=... harvest_ns=... send_ns=..."
# (stride=0: round 0, every page), "harvest-time mem=... seconds=..." per size.
set -u
cd "$(dirname "$0")/../.."
PATH=$PWD/build:$PWD/build/tests:$PATH
SIZES=${1:-256}
STRIDES=${2:-1000 100 10}
ROUNDS=${3:-3}
MS=${4:-100}
STEP_TIMEOUT=${HARVEST_STEP_TIMEOUT:-300}
PORT=7421
tmp=$(mktemp -d)
mkfifo "$tmp/nap"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"

# A step that does not finish in time is reported with where everything is
# waiting (kernel stacks), never waited for forever.
stuck() { # WHAT
	echo "harvest: stuck: $1 after ${STEP_TIMEOUT} s"
	local p t
	for p in $(pgrep -f 'dirtier|kvmmig-ctl|sink.py') $(pgrep '^kvmmig-'); do
		for t in /proc/$p/task/*; do
			echo "  $p/${t##*/} $(cat "$t/comm") state=$(awk '{print $3}' "$t/stat") $(tr '\n' ' ' <"$t/stack" 2>/dev/null)"
		done
	done
}
# The dirtier and the tool answer on fifos read here with bash builtins only:
# polling their output files with tail/grep cost a second per command in a
# loaded emulated test host (a fork there takes 10-100 ms).
declare -A partial
# expect RD LOG REGEX WHAT: read lines from fd RD (each appended to LOG) up
# to one matching REGEX or starting with "error"; that line in $reply.
expect() {
	local rd=$1 log=$2 re=$3 end=$((SECONDS + STEP_TIMEOUT)) line
	reply=
	while [ $SECONDS -lt $end ]; do
		if IFS= read -r -t 1 line <&"$rd"; then
			line=${partial[$rd]:-}$line
			partial[$rd]=
			echo "$line" >>"$log"
			if [[ $line =~ $re || $line == error* ]]; then
				reply=$line
				break
			fi
		elif [ $? -le 128 ]; then # EOF, not a timeout
			echo "harvest: $4: the process ended: $(tail -n 3 "$log" | tr '\n' ' ')"
			return 1
		else # a timeout can fall in the middle of a line (bash reads a pipe byte by byte)
			partial[$rd]=${partial[$rd]:-}$line
		fi
	done
	[ -n "$reply" ] || { stuck "$4"; return 1; }
	case "$reply" in error*) echo "harvest: $4: $reply"; return 1 ;; esac
}
# cmd WR RD LOG REGEX TEXT: TEXT to fd WR, then expect; times per command
# word to $tmp/steps.
cmd() {
	local t0=$EPOCHREALTIME
	echo "$5" >&"$1"
	expect "$2" "$3" "$4" "'$5'" || return 1
	echo "${5%% *} $t0 $EPOCHREALTIME" >>"$tmp/steps"
}
nap() { read -r -t "$1" <>"$tmp/nap" || :; } # sleep, as a builtin
printf -v nap_s '%d.%03d' $((MS / 1000)) $((MS % 1000))

sink() {
	tests/bench/sink.py $PORT >"$tmp/sink.out" 2>&1 &
	sink_pid=$!
	pids+=($sink_pid)
	local end=$((SECONDS + 30))
	until grep -q listening "$tmp/sink.out" 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		nap 0.05
	done
}

one() { # MEM
	local mem=$1 s r src_wr src_rd tool_wr tool_rd
	rm -f "$tmp"/*.in "$tmp"/*.pipe "$tmp"/*.out "$tmp/steps"
	mkfifo "$tmp/src.in" "$tmp/src.pipe" "$tmp/tool.in" "$tmp/tool.pipe"
	dirtier bsrc --mem "$mem" --stride "${STRIDES%% *}" <"$tmp/src.in" >"$tmp/src.pipe" 2>&1 &
	local dpid=$!
	pids+=($dpid)
	exec {src_wr}>"$tmp/src.in" {src_rd}<"$tmp/src.pipe"
	expect $src_rd "$tmp/src.out" '^attached' "dirtier start" || return 1
	cmd $src_wr $src_rd "$tmp/src.out" '^running' run || return 1
	cmd $src_wr $src_rd "$tmp/src.out" '^paused' pause || return 1

	# The module: round 0 (every page), then per stride ROUNDS rounds.
	sink || { echo "harvest: the sink did not start"; return 1; }
	kvmmig-ctl debug source bsrc 127.0.0.1:$PORT <"$tmp/tool.in" >"$tmp/tool.pipe" 2>&1 &
	local tpid=$!
	pids+=($tpid)
	exec {tool_wr}>"$tmp/tool.in" {tool_rd}<"$tmp/tool.pipe"
	expect $tool_rd "$tmp/tool.out" '^started' "debug source" || return 1
	cmd $tool_wr $tool_rd "$tmp/tool.out" '^round' "round full" || return 1
	echo "harvest mem=$mem stride=0 method=module ${reply#round }"
	for s in $STRIDES; do
		cmd $src_wr $src_rd "$tmp/src.out" '^stride' "stride $s" || return 1
		for r in $(seq "$ROUNDS"); do
			cmd $src_wr $src_rd "$tmp/src.out" '^running' run || return 1
			nap "$nap_s"
			cmd $src_wr $src_rd "$tmp/src.out" '^paused' pause || return 1
			cmd $tool_wr $tool_rd "$tmp/tool.out" '^round' round || return 1
			echo "harvest mem=$mem stride=$s method=module ${reply#round }"
		done
	done
	cmd $tool_wr $tool_rd "$tmp/tool.out" '^stopped' stop || return 1
	exec {tool_wr}>&- {tool_rd}<&-
	wait "$tpid" 2>/dev/null
	kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null

	# Userspace: same VM, same rounds (its round 0 sends every page again).
	sink || { echo "harvest: the sink did not start"; return 1; }
	cmd $src_wr $src_rd "$tmp/src.out" '^hbench done' \
		"hbench 127.0.0.1 $PORT $ROUNDS $MS $(echo $STRIDES | tr ' ' ,)" || return 1
	grep '^ubench stride=' "$tmp/src.out" |
		sed -E "s/^ubench stride=([0-9]+) /harvest mem=$mem stride=\1 method=user /"
	echo quit >&"$src_wr"
	exec {src_wr}>&- {src_rd}<&-
	wait "$dpid" 2>/dev/null
	kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null
	return 0
}

for mem in $SIZES; do
	t0=$(date +%s)
	one "$mem" || echo "harvest mem=$mem failed"
	echo "harvest-time mem=$mem seconds=$(($(date +%s) - t0)) $(awk '{s[$1] += $3 - $2} END {for (k in s) printf "%s=%.1f ", k, s[k]}' "$tmp/steps" 2>/dev/null)"
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
done
