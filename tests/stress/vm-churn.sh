#!/bin/bash
# vm-churn.sh [SECONDS]: issue 19's second control run, inside a test host
# started with --no-module: kvmmig.ko is never loaded. Two payload guests
# like the suite's sources run for SECONDS (default 300) while other VMs
# are created, run for a moment and destroyed beside them, as every
# destination, fake destination and next case of the suite does. CI lost a
# source guest that had never been migrated (secure.sh: a triple fault a
# second after a destination VMM started), so the deaths may come with VM
# churn, not with kvmmig. Fails if a steady guest died.
set -u
cd "$(dirname "$0")/../.."
MIGLIB_NO_MODULE=1
. tests/kmod/miglib.sh
secs=${1:-300}
[ -e /dev/kvmmig ] && { fail "VM churn without kvmmig.ko" "kvmmig.ko is loaded"; exit 1; }
# A flight recorder: the last KVM events on every CPU (exits, page faults,
# injected exceptions, MMU-notifier unmaps), printed for a guest that dies.
fr=$tracing/instances/kvmmig-flight
if mkdir -p $fr 2>/dev/null; then
	echo 2048 >$fr/buffer_size_kb
	for e in kvm/kvm_exit kvm/kvm_page_fault kvm/kvm_inj_exception kvm/kvm_unmap_hva_range kvm/kvm_entry; do
		[ -e $fr/events/$e/enable ] && echo 1 >$fr/events/$e/enable
	done
fi
start_source steady1 1 "$light"
start_source steady2 2 "pages=8192 rate=512 delay_us=300000 report_ms=100"
vcpu_tids() { ls /proc/"$(cat "$tmp/$1.src.pid")"/task | tr '\n' '|'; }
tids1=$(vcpu_tids steady1) tids2=$(vcpu_tids steady2)
end=$(($(date +%s) + secs)) n=0 died=
while [ "$(date +%s)" -lt $end ]; do
	start_source churn$((n % 2)) $((n % 2 + 1)) "$light"
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
		[ -d $fr ] && echo 0 >$fr/tracing_on &&
			{ t=tids1; [ $g = steady2 ] && t=tids2; echo "info: $g's last KVM events (threads ${!t%|}):"
			  grep -E -- "-(${!t%|}) " $fr/trace | tail -n 40; echo "info: MMU-notifier unmaps before:"; grep unmap_hva $fr/trace | tail -n 5; }
	fi
done
kill "$(cat "$tmp/steady1.src.pid")" "$(cat "$tmp/steady2.src.pid")" 2>/dev/null
[ -d $fr ] && echo 0 >$fr/tracing_on && rmdir $fr 2>/dev/null
finish
