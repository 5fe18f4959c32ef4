#!/bin/bash
# tests/bench/datapath.sh: micro-benchmark of the module's data path against
# the same work done from userspace, for the same guest in the same run.
# Not part of the pass/fail suite. Run it in a test host:
#
#   tests/testhost --kernel 6.12 -- tests/bench/datapath.sh [MEM_MIB] [ROUNDS]
#
# One dirtier guest (vCPU rewriting every page, so every round is full of
# dirty pages) is migrated to a draining sink twice: by kvmmig.ko
# (`kvmmig-ctl debug source`), then by the dirtier itself (`ubench`: the
# same harvest with KVM_GET/CLEAR_DIRTY_LOG, the same zero check and wire
# format, batched writev). Prints per-round averages side by side: harvest
# time, send throughput, CPU time of the thread doing the work (module:
# the kvmmig worker kthread, /proc/PID/schedstat; userspace: the dirtier's
# control thread, CLOCK_THREAD_CPUTIME_ID). Absolute numbers under TCG are
# meaningless; the ratio is what to read.
set -u
cd "$(dirname "$0")/../.."
PATH=$PWD/build:$PWD/build/tests:$PATH
MEM=${1:-64}
ROUNDS=${2:-5}
MS=500
PORT=7420
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
lines_gt() { [ "$(wc -l <"$1")" -gt "$2" ]; }
wait_line() { # FILE REGEX SECONDS
	local end=$(($(date +%s) + $3))
	until grep -Eq "$2" "$1"; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.1; done
}

grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"
mkfifo "$tmp/src.in" "$tmp/tool.in"
dirtier src --mem "$MEM" <"$tmp/src.in" >"$tmp/src.out" 2>&1 &
pids+=($!)
exec {src_fd}>"$tmp/src.in"
wait_line "$tmp/src.out" attached 10 || { echo "bench: dirtier failed: $(cat "$tmp/src.out")"; exit 1; }
echo run >&"$src_fd"
wait_line "$tmp/src.out" running 10

sink() {
	tests/kmod/streamtool.py sink $PORT 1099511627776 >"$tmp/sink.out" 2>&1 &
	pids+=($!)
	wait_line "$tmp/sink.out" listening 10
}

# 1. The module.
sink
kvmmig-ctl debug source src 127.0.0.1:$PORT <"$tmp/tool.in" >"$tmp/tool.out" 2>&1 &
pids+=($!)
exec {tool_fd}>"$tmp/tool.in"
wait_line "$tmp/tool.out" started 20 || { echo "bench: source start failed: $(cat "$tmp/tool.out")"; exit 1; }
worker=$(pgrep -P 2 '^kvmmig-src')
for r in $(seq 0 $((ROUNDS - 1))); do
	sleep "$(echo "scale=3; $MS / 1000" | bc)"
	c0=$(cut -d' ' -f1 /proc/"$worker"/schedstat)
	n=$(wc -l <"$tmp/tool.out")
	if [ "$r" = 0 ]; then echo "round full" >&"$tool_fd"; else echo round >&"$tool_fd"; fi
	until lines_gt "$tmp/tool.out" "$n"; do sleep 0.05; done
	c1=$(cut -d' ' -f1 /proc/"$worker"/schedstat)
	echo "$(tail -n 1 "$tmp/tool.out") cpu_ns=$((c1 - c0))" >>"$tmp/module.rounds"
done
echo stop >&"$tool_fd"
wait_line "$tmp/tool.out" stopped 20
exec {tool_fd}>&-

# 2. Userspace, same guest, same sink, same rounds.
sink
n=$(wc -l <"$tmp/src.out")
echo "ubench 127.0.0.1 $PORT $ROUNDS $MS" >&"$src_fd"
wait_line "$tmp/src.out" "ubench done|^error" 600
grep '^ubench round' "$tmp/src.out" >"$tmp/user.rounds"
grep '^error' "$tmp/src.out" && exit 1

summary() { # FILE: averages over the rounds after round 0 (incremental rounds), then round 0
	awk -v label="$2" '
	function f(k,   i, a) { for (i = 1; i <= NF; i++) if (split($i, a, "=") == 2 && a[1] == k) return a[2] + 0; return 0 }
	{ r = f("round"); if (r == 0) { h0 = f("harvest_ns"); s0 = f("send_ns"); b0 = f("bytes"); c0 = f("cpu_ns"); next }
	  n++; d += f("dirty"); h += f("harvest_ns"); s += f("send_ns"); b += f("bytes"); c += f("cpu_ns") }
	END { printf "%-10s %8.2f %10.2f %10.1f %10.2f   | %8.2f %10.1f %10.2f\n", label,
	        d / n, h / n / 1e6, (s ? b / s * 1e3 : 0), c / n / 1e6,
	        h0 / 1e6, (s0 ? b0 / s0 * 1e3 : 0), c0 / 1e6 }' "$1"
}
echo "kvmmig data-path benchmark: $(uname -r), guest ${MEM} MiB, $ROUNDS rounds ${MS} ms apart (TCG: compare, do not quote)"
printf "%-10s %8s %10s %10s %10s   | %8s %10s %10s\n" "" "dirty/rd" "harvest ms" "send MB/s" "cpu ms/rd" "r0 harv" "r0 MB/s" "r0 cpu ms"
summary "$tmp/module.rounds" module
summary "$tmp/user.rounds" userspace
echo "raw:"
sed 's/^/  module: /' "$tmp/module.rounds"
sed 's/^/  user:   /' "$tmp/user.rounds"
