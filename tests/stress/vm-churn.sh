#!/bin/bash
# vm-churn.sh [SECONDS]: a second control run for source guests that died
# by triple fault, inside a test host started with --no-module: kvmmig.ko
# is never loaded. Two payload guests like the suite's sources run for
# SECONDS (default 300) while other VMs are created, run for a moment and
# destroyed beside them, as every destination, fake destination and next
# case of the suite does. CI lost a source guest that had never been
# migrated (secure.sh: a triple fault a second after a destination VMM
# started), so the deaths may come with VM churn, not with kvmmig. Fails
# if a steady guest died, with its last KVM events (miglib.sh's flight
# recorder). Its first run with the early-verifying VMs (6.1, QEMU 7.2,
# kvmmig.ko never loaded, kernel not tainted) ended after about 5 minutes
# in a test-host panic, "corrupted stack end detected inside scheduler",
# in a VMM's vCPU thread: test-host memory corrupted with no kvmmig at all.
set -u
cd "$(dirname "$0")/../.."
MIGLIB_NO_MODULE=1
. tests/kmod/miglib.sh
secs=${1:-300}
[ -e /dev/kvmmig ] && { fail "VM churn without kvmmig.ko" "kvmmig.ko is loaded"; exit 1; }
start_source steady1 1 "$light"
start_source steady2 2 "pages=8192 rate=512 delay_us=300000 report_ms=100"
end=$(($(date +%s) + secs)) n=0 died=
while [ "$(date +%s)" -lt $end ]; do
	# Each verifies early: its first pass reads 16 MiB it never wrote, as
	# secure.sh's guest did when it died (every page a fresh NPT fault).
	start_source churn$((n % 2)) $((n % 2 + 1)) "pages=4096 rate=16 delay_us=20000 verify_every=4 report_ms=100"
	sleep 1
	kill "$(cat "$tmp/churn$((n % 2)).src.pid")" 2>/dev/null
	wait "$(cat "$tmp/churn$((n % 2)).src.pid")" 2>/dev/null
	n=$((n + 1))
	for g in steady1 steady2; do
		alive "$tmp/$g.src.pid" || { died="$g after $n VMs"; break 2; }
	done
done
echo "info: $n VMs created, run and destroyed beside the steady guests${died:+; $died}"
for g in steady1 steady2; do
	if alive "$tmp/$g.src.pid"; then
		pass "steady guest $g ran beside $n short-lived VMs without kvmmig.ko: $(reports "$tmp/$g.src.log") reports"
	else
		fail "steady guest $g ran beside $n short-lived VMs without kvmmig.ko" "$(why_stopped "$tmp/$g.src.log" "$tmp/$g.src.pid")"
	fi
done
finish
