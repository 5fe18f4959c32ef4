#!/bin/bash
# tests/bench/scale.sh: runs inside a test host (tests/bench/run starts it).
# kvmmig's total time by guest memory: the dirtymem payload guest
# (tests/guests, boots at once, unlike Linux) at each size, dirtying
# RATE pages per iteration with DELAY_US between iterations over a fixed
# 64 MiB working set, migrated on loopback with kvmmig-ctl migrate --json,
# once with KVM's dirty bitmap and once with its dirty ring (kvmmig-vm
# --dirty-ring: the VMM reaps it before each round; the round's harvest
# time includes the reap). Prints per size and method
#   "scale mem=N method=bitmap|ring gap_ms=G harvests=MS,.. done={json} round0={json}"
# (harvests: each pre-copy round's harvest after round 0, in ms).
#   scale.sh "MEM_MIB..." MAX_DOWNTIME_MS
set -u
cd "$(dirname "$0")/../.."
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=${KVMMIG_RUN_DIR:-/tmp/kvmmig-run}
mkdir -p "$KVMMIG_RUN_DIR"
SIZES=${1:-256 1024}
MAXDT=${2:-300}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"
wait_for() { local end=$(($(date +%s) + $1)); shift; until "$@"; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.1; done; }
# kvmmig-ctl with authentication (issue 8) wants --key or --insecure: the
# scale runs are plain TCP, as the link they are compared with.
auth=()
kvmmig-ctl migrate --help 2>&1 | grep -q -- --insecure && auth=(--insecure)
# No vCPU throttle (--converge auto, the default since issue 17): the guest's
# own pace is measured. (migrate's option only: incoming refuses it, which
# left every scale run without a destination until December 2026.)
mig_opts=()
kvmmig-ctl migrate --help 2>&1 | grep -q -- --converge && mig_opts=(--converge off)
port=7480
for run in $SIZES; do
  for method in bitmap ring; do
	mem=$run
	port=$((port + 1))
	ipids=()
	ring=()
	[ $method = ring ] && ring=(--dirty-ring 65536)
	kvmmig-vm --name s$mem --mem ${mem}M "${ring[@]}" --payload build/guests/dirtymem.bin \
		--append "pages=16384 rate=16 delay_us=2000 report_ms=250 gap_ms=40" --console "file:$tmp/s$mem.log" &
	ipids+=($!)
	kvmmig-vm --incoming --name d$mem --mem ${mem}M --console "file:$tmp/d$mem.log" &
	ipids+=($!)
	wait_for 30 grep -qs ' iter ' "$tmp/s$mem.log" && wait_for 60 test -S "$KVMMIG_RUN_DIR/d$mem.sock" ||
		{ echo "scale mem=$mem method=$method failed to start"; kill -9 "${ipids[@]}"; wait; continue; }
	kvmmig-ctl incoming d$mem --listen 127.0.0.1:$port --timeout 300 "${auth[@]}" >"$tmp/in$mem" 2>&1 &
	ipids+=($!)
	pids+=("${ipids[@]}")
	wait_for 10 grep -q waiting "$tmp/in$mem"
	sleep 2
	out=$(kvmmig-ctl migrate s$mem 127.0.0.1:$port --json --max-downtime "$MAXDT" --timeout 300 "${auth[@]}" "${mig_opts[@]}" 2>&1)
	done=$(echo "$out" | grep '"event":"done"')
	r0=$(echo "$out" | grep '"round":0,' | head -n1)
	sleep 1
	gap=$(grep -o 'gap_ms [0-9]*' "$tmp/d$mem.log" | awk '{print $2}' | sort -n | tail -n1)
	harvests=$(echo "$out" | python3 -c 'import json, sys
rs = [json.loads(l) for l in sys.stdin if l.startswith("{")]
print(",".join("%.2f" % (r["harvest_ns"] / 1e6) for r in rs
               if r.get("event") == "round" and r.get("round", 0) > 0 and not r.get("final")))' 2>/dev/null)
	echo "scale mem=$mem method=$method gap_ms=${gap:-0} harvests=${harvests:-} done=${done:-none} round0=${r0:-none}"
	[ -n "$done" ] || echo "scale mem=$mem method=$method error: $(echo "$out" | tail -n 1)"
	kill "${ipids[@]}" 2>/dev/null
	wait 2>/dev/null
	pids=()
  done
done
