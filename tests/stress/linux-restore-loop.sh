#!/bin/bash
# linux-restore-loop.sh: the reproducer of issue 3. A 2-vCPU Linux guest (Debian's bzImage, the
# test initramfs's memcounter) is saved and restored into a fresh kvmmig-vm again and again, each
# restored VMM the source of the next cycle. Every cycle checks that the console counter goes on
# past the last value before the save, with checksums ok, and on 2+ vCPUs that CPU 1's heartbeat
# does too (memcounter alone runs on any one vCPU: a dead AP would pass). It stops at the first failure; the one
# seen (a few percent of restores on 6.1 test hosts) is a fault of the test host's emulated SVM:
# vCPU 1 fails VM entry with an interrupt handed back as an exception, the guest's state already
# broken (see user/vmm/vcpu.c). The VMM logs the registers, the code at rip and the IDT gate.
#
#   tests/stress/linux-restore-loop.sh [--kernel 6.1|6.12] [--cycles N] [--seconds S] [--load N]
#
# --load N runs N busy loops in the test host beside the guest (more preemption of the vCPU
# threads, so more exits in the middle of an interrupt delivery). It stops after N cycles or once
# S seconds went by, whichever comes first. Slow (10-30 s a cycle): not in tests/run.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/stress/lib.sh

kver=6.1 cycles=1000 seconds=1200 load=0 cpus=2 mem=160M
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--cycles) cycles=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--load) load=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	*) echo "usage: $0 [--kernel K] [--cycles N] [--seconds S] [--load N] [--cpus N] [--mem M]" >&2
		exit 2 ;;
	esac
done

if [ -z "${KVMMIG_TESTHOST:-}" ]; then
	. tests/vm/vmlib.sh
	vm_build
	# The scratch dir keeps the console and VMM log of a failed cycle.
	scratch=$PWD/build/restore-loop/$(date +%Y%m%d-%H%M%S)
	mkdir -p "$scratch"
	echo "info: the console of a failed cycle goes to $scratch"
	run_in_testhost $((seconds + 420)) --scratch "$scratch" -- tests/stress/linux-restore-loop.sh "${args[@]}"
fi

. tests/vm/vmlib.sh
. tests/flight.sh
. tests/guests/linux/console.sh
vm_build
flight_start
TEST_SUFFIX=" [$(uname -r)]"
kernel=$repo/build/testhost/$(uname -r)/boot/vmlinuz-$(uname -r)
initrd=$build/guests/linux-initramfs.cpio.gz
append="console=ttyS0 reboot=k panic=-1"

start() {
	local name=$1
	shift
	"$vm_bin" -v --name "$name" --console "file:$vm_tmp/$name.out" "$@" 2>"$vm_tmp/$name.err" &
	vm_pids+=($!)
	eval "vm_pid_$name=$!"
	wait_for 120 test -S "$KVMMIG_RUN_DIR/$name.sock"
}
counters() { guest_counters "$vm_tmp/$1.out"; }
count_counters() { [ "$(counters "$1" | wc -l)" -ge "$2" ]; }
# CPU 1's heartbeat (the guest's init, 2+ vCPUs): the last beat in NAME's console.
beat() { guest_beats "$vm_tmp/$1.out" | tail -n 1; }
beat_past() { [ "$(beat "$1")" -gt "$2" ] 2>/dev/null; }
alive() { kill -0 "$(vm_pid "$1")" 2>/dev/null; }
# ctl NAME REQUEST...: a control request that gives up after 60 s, then shows where the VMM's
# threads are.
ctl() {
	local name=$1 pid t
	shift
	timeout 60 "$vmctl_bin" "$KVMMIG_RUN_DIR/$name.sock" "$@" && return 0
	[ $? = 124 ] || return 1
	pid=$(vm_pid "$name")
	echo "info: $name: '$*' got no answer in 60 s; its threads:" >&2
	for t in /proc/$pid/task/*; do
		echo "info:   $(cat "$t/comm") $(cat "$t/wchan" 2>/dev/null) $(tr '\n' ' ' <"$t/stack" 2>/dev/null | cut -c1-300)" >&2
	done
	return 1
}
# A counter line after a restore, or the VMM gone (a failed entry ends it).
progress_or_death() { count_counters "$1" "$2" || ! alive "$1"; }
# keep NAME: the console and the VMM's log of a failed cycle go to the scratch dir, with the VMM
# log of the cycle before.
keep() {
	[ -n "${KVMMIG_SCRATCH:-}" ] || return
	cp "$vm_tmp/$1.out" "$KVMMIG_SCRATCH/$1.console" 2>/dev/null
	cp "$vm_tmp/$1.err" "$KVMMIG_SCRATCH/$1.err" 2>/dev/null
	cp "$vm_tmp/$cur.err" "$KVMMIG_SCRATCH/$cur.err" 2>/dev/null
	echo "info: console and VMM log kept in $KVMMIG_SCRATCH"
}

busy_loops "$load"
trap 'kill ${load_pids[*]} 2>/dev/null; flight_stop; vm_cleanup' EXIT

start g0 --cpus "$cpus" --mem "$mem" --kernel "$kernel" --initrd "$initrd" --append "$append"
if ! wait_for 300 count_counters g0 3; then
	fail "the $cpus-vCPU Linux guest boots" "$(tail -n 3 "$vm_tmp/g0.out" "$vm_tmp/g0.err" | tr '\n' ' ')"
	exit 1
fi

t0=$(date +%s) n=0 ok=0 svmfaults=0 failed_entries=0 bad=''
cur=g0
while [ $n -lt "$cycles" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	next=g$n
	rm -f "$vm_images/s.mem" # save-memory writes only a new file
	if ! { ctl $cur pause && ctl $cur save-state >"$vm_tmp/s.state" &&
		ctl $cur save-memory s.mem && ctl $cur quit; } >/dev/null 2>"$vm_tmp/ctl.err"; then
		bad="cycle $n: save failed: $(tail -n 30 "$vm_tmp/ctl.err" "$vm_tmp/$cur.err" | tr '\n' ' ')"
		keep $cur
		break
	fi
	vm_wait_exit $cur 20
	before=$(counters $cur | tail -n 1) beat_before=$(beat $cur)
	start $next --cpus "$cpus" --mem "$mem" --incoming --mem-file "$vm_images/s.mem"
	if ! ctl $next restore-state <"$vm_tmp/s.state" >/dev/null 2>"$vm_tmp/ctl.err" ||
		! ctl $next resume >/dev/null 2>>"$vm_tmp/ctl.err"; then
		bad="cycle $n: restore failed: $(tail -n 30 "$vm_tmp/ctl.err" "$vm_tmp/$next.err" | tr '\n' ' ')"
		keep $next
		break
	fi
	wait_for 90 progress_or_death $next 4
	r=$(grep -c "handed back interrupt [0-9]* labeled as an exception" "$vm_tmp/$next.err")
	f=$(grep -c "VM entry failed" "$vm_tmp/$next.err")
	svmfaults=$((svmfaults + r)) failed_entries=$((failed_entries + f))
	first=$(counters $next | head -n 1)
	if [ "$f" -gt 0 ] || ! alive $next; then
		bad="cycle $n: the restored VMM died: $(grep -h -A4 'VM entry failed\|vCPU' "$vm_tmp/$next.err" | tail -n 8 | tr '\n' ' ')$(flight_verdict restored)"
		keep $next
		break
	fi
	if [ -z "$first" ] || [ "$first" -le "${before:-0}" ] || grep -q MISMATCH "$vm_tmp/$next.out"; then
		keep $next
		bad="cycle $n: counter before $before, after '${first}': $(tail -n 2 "$vm_tmp/$next.out" | tr '\n' ' ')"
		break
	fi
	# With 2 vCPUs the AP must run on too: memcounter alone needs only one.
	if [ "$cpus" -ge 2 ] && ! wait_for 30 beat_past $next "${beat_before:-0}"; then
		keep $next
		bad="cycle $n: CPU 1's heartbeat stopped: last before ${beat_before:-none}, after '$(beat $next)'"
		break
	fi
	ok=$((ok + 1))
	echo "info: cycle $n ok ($(($(date +%s) - t0)) s): counter $before -> $first, CPU 1's beat ${beat_before:--} -> $(beat $next)"
	rm -f "$vm_tmp/$cur.out"
	cur=$next
done

summary="$ok of $n cycles on $cpus vCPUs ($(($(date +%s) - t0)) s, load $load): $failed_entries failed entries, $svmfaults of them the emulated-SVM fault"
echo "info: $summary"
if [ -n "$bad" ]; then
	fail "the Linux guest survives repeated save/restore" "$bad; $summary"
else
	pass "the Linux guest survives repeated save/restore: $summary"
fi
if grep -qE "BUG:|Oops|Kernel panic|soft lockup|self-detected stall|hung_task" "$vm_tmp/$cur.out"; then
	fail "the guest kernel logs no oops, lockup or stall" \
		"$(grep -m1 -E 'BUG:|Oops|Kernel panic|soft lockup|self-detected stall|hung_task' "$vm_tmp/$cur.out")"
fi
finish
