#!/bin/bash
# qemu-cancel-loop.sh: runs inside a test host: the control run for the QEMU
# guest tests/kmod/qemu.sh's fault sequence lost at the source (a triple
# fault after a few aborted migrations). The same guest (tests/kmod/qemulib.sh),
# the same QEMU, kvmmig.ko never loaded: QEMU's own migration, to a sink, with
# pause-before-switchover, cancelled at pre-switchover and the guest resumed,
# again and again. Without x-ignore-shared QEMU harvests and clears KVM's
# dirty log of the RAM file itself, as kvmmig.ko does in a RAM-file session
# (write-protect on clear, logging off at cancel). A guest that dies here
# died without kvmmig.
#
#   tests/testhost --kernel 6.12 --no-module --timeout 3600 -- \
#       tests/stress/qemu-cancel-loop.sh [--cycles N] [--qemu BIN] [--ignore-shared]
#
# --ignore-shared sets x-ignore-shared as kvmmig does (QEMU then never clears
# the RAM file's log). Slow: not in tests/run.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

cycles=20 qemu=qemu-system-x86_64 ignore_shared=false
while [ $# -gt 0 ]; do
	case "$1" in
	--cycles) cycles=$2; shift 2 ;;
	--qemu) qemu=$2; shift 2 ;;
	--ignore-shared) ignore_shared=true; shift ;;
	*) echo "usage: $0 [--cycles N] [--qemu BIN] [--ignore-shared]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d)
. tests/flight.sh
flight_start
. tests/kmod/qemulib.sh
qemu_guest "$(qemu_guest_kver)"
trap 'qemu_cleanup; flight_stop; rm -rf "$tmp"' EXIT
echo "info: $("$qemu" --version | head -n1), x-ignore-shared $ignore_shared, kvmmig.ko $([ -e /dev/kvmmig ] && echo loaded || echo absent)"

boot_qemu src || { fail "the source guest boots" "$booted_why"; exit 1; }
pid=$(cat "$tmp/src.pid")
# cycle: one QEMU migration to a sink, held at pre-switchover, cancelled, resumed.
cycle() {
	timeout 300 python3 - "$tmp/src.qmp" "$ignore_shared" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
qmp("qmp_capabilities")
qmp("migrate-set-capabilities", capabilities=[
    {"capability": "pause-before-switchover", "state": True},
    {"capability": "x-ignore-shared", "state": sys.argv[2] == "true"}])
qmp("migrate-set-parameters", **{"downtime-limit": 20000, "max-bandwidth": 1 << 30})
print(qmp("migrate", uri="exec:cat >/dev/null"))
t0 = time.time()
while True:
    st = qmp("query-migrate")["return"]
    if st.get("status") in ("pre-switchover", "failed", "cancelled", "completed") or time.time() - t0 > 200:
        break
    time.sleep(0.2)
print("reached", st.get("status"), "after %.1f s" % (time.time() - t0), "ram", st.get("ram", {}).get("transferred"))
qmp("migrate_cancel")
while qmp("query-migrate")["return"].get("status") not in ("cancelled", "failed"):
    time.sleep(0.1)
if qmp("query-status")["return"]["status"] != "running":
    qmp("cont")
print("status", qmp("query-status")["return"]["status"])
EOF
}
died=0
for i in $(seq 1 "$cycles"); do
	out=$(cycle 2>&1 | tr '\n' ' ')
	n0=$(count 'diskcheck: step .* ok' "$tmp/src.console")
	wait_for 60 sh -c "! kill -0 $pid || [ \$(grep -c 'diskcheck: step .* ok' $tmp/src.console) -ge $((n0 + 3)) ]"
	if ! kill -0 "$pid" 2>/dev/null; then
		died=1
		echo "info: cycle $i: $out"
		fail "the guest runs on after $cycles cancelled migrations" "died in cycle $i: $(qemu_state src)"
		break
	fi
	echo "info: cycle $i: $out; runs on"
done
[ $died = 0 ] && pass "the guest runs on after $cycles cancelled migrations (x-ignore-shared $ignore_shared)"
finish
