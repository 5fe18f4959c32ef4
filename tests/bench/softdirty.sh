#!/bin/bash
# softdirty.sh: what one soft-dirty clear (/proc/PID/clear_refs "4", the
# candidate tracker for a QEMU's own writes) costs a running KVM guest:
# kvmmig-vm runs the dirtymem payload writing every page of MIB MiB each
# iteration (its memfd mapped shared, as QEMU's RAM file); the write
# syscall's time is the clear itself (a page-table walk of the whole mm),
# the guest's iterations per second show the re-faulting afterwards (the
# clear invalidates the mm through the MMU notifier: KVM zaps its NPT for
# all of guest RAM). Runs on the build machine (it has /dev/kvm).
#   tests/bench/softdirty.sh [MIB] (default 1024)
set -eu
cd "$(dirname "$0")/../.."
mib=${1:-1024}
pages=$((mib * 256 - 1024))
tmp=$(mktemp -d)
trap 'kill $vm 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
KVMMIG_RUN_DIR=$tmp build/kvmmig-vm --name sd --mem ${mib}M --payload build/guests/dirtymem.bin \
	--append "pages=$pages rate=$pages delay_us=0 report_ms=500" --console file:$tmp/console &
vm=$!
iters() { grep -o 'iter [0-9]*' "$tmp/console" | tail -n1 | cut -d' ' -f2; }
sleep 4
rate() { local a b; a=$(iters); sleep "$1"; b=$(iters); awk -v d=$((b - a)) -v s="$1" 'BEGIN {printf "%.1f\n", d / s}'; }
echo "guest $mib MiB, all pages written each iteration"
echo "iterations/s, no clears: $(rate 4)"
python3 - "$vm" "$tmp" <<'PY' &
import os, sys, time
pid, tmp = sys.argv[1], sys.argv[2]
t = []
end = time.time() + 4
while time.time() < end:
    a = time.perf_counter()
    with open("/proc/%s/clear_refs" % pid, "w") as f:
        f.write("4")
    t.append(time.perf_counter() - a)
    time.sleep(0.1)
t.sort()
open(tmp + "/clears", "w").write("%d clears, median %.2f ms, max %.2f ms\n" % (len(t), t[len(t) // 2] * 1e3, t[-1] * 1e3))
PY
clearer=$!
echo "iterations/s, one clear every 100 ms: $(rate 4)"
wait $clearer
echo "clear_refs write: $(cat "$tmp/clears")"
echo "iterations/s, after: $(rate 4)"
