#!/bin/bash
# throttle.sh: kvmmig-vm's vCPU throttle (the control socket's "throttle",
# what kvmmig-ctl migrate --converge auto asks of a guest that outruns the
# link): the guest's own work rate falls while it is in force and comes
# back when it is lifted; it lasts exactly as long as the connection that
# asked (a client that dies leaves no throttle), one connection holds it
# at a time, and a pause never waits for a throttled vCPU's sleep.
# Every rate is compared with one measured in the same run, side by side:
# the machine's speed and load do not decide the verdicts.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

# work NAME SECS: the iterations vCPUs 0 and 1 each completed in SECS seconds of this machine's time.
work() {
	local a0 b0 a1 b1
	a0=$(last_iter "$1" 0) b0=$(last_iter "$1" 1)
	sleep "$2"
	a1=$(last_iter "$1" 0) b1=$(last_iter "$1" 1)
	echo $((${a1:-0} - ${a0:-0})) $((${b1:-0} - ${b0:-0}))
}
throttle_of() { vm_ctl "$1" status | sed -n 's/^throttle //p'; }

vm_start t1 --cpus 2 --mem 64M --payload "$dirtymem" \
	--append "pages=2048 rate=64 report_ms=20 gap_ms=100000"
wait_iter t1 0 10 10 && wait_iter t1 1 10 10 || { fail "the guest runs" "$(vm_out t1 | tail -n 2)"; exit 1; }
expect_output "status says no throttle at start" "^throttle 0$" vm_ctl t1 status

read -r before0 before1 < <(work t1 3)
slept_before=$(asleep "$(vm_pid t1)" 2)
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/t1.sock" "throttle 95"; }
read -r -t 10 answer <&"${HOLD[0]}"
if [ "$answer" = "ok 0" ] && [ "$(throttle_of t1)" = 95 ]; then
	pass "throttle 95: answered ok, status says so"
else
	fail "throttle 95: answered ok, status says so" "answer '$answer', status $(throttle_of t1)"
fi
# Both vCPUs: the whole guest is slowed. 95% leaves it 10 ms of every 200.
read -r during0 during1 < <(work t1 3)
slept_during=$(asleep "$(vm_pid t1)" 2)
# On this machine the vCPU threads share it with test hosts: a woken vCPU
# waits for a CPU, and the two vCPUs' console writes wait for each other
# (asleep too), so the sleep share is information here; the verdict
# compares work measured side by side, below (tests/kmod/converge.sh, one
# vCPU in a test host, checks the sleep share).
echo "info: vCPU 0's thread sleeps $slept_during% of the time at 95% ($slept_before% before)"

expect_output "another connection cannot take or lift the held throttle" \
	"another control connection holds the throttle" vm_ctl t1 throttle 0
expect_output "throttle above 99 is refused" "throttle needs a percentage from 0 to 99" vm_ctl t1 throttle 100

# The holder idles longer than the 5 s a request may take: it is not dropped.
sleep 6
expect_output "an idle connection that holds the throttle is not dropped after 5 s" "^throttle 95$" vm_ctl t1 status

# A pause wakes a throttled vCPU from its sleep: at 99% the vCPUs sleep
# 990 ms of every second, so a pause that waited for the sleep to end would
# take half a second on average (a kick signal may cut it short, not
# always). The median of 8 pauses: a loaded machine may delay one or two.
echo "throttle 99" >&"${HOLD[1]}"
read -r -t 10 answer <&"${HOLD[0]}"
read -r median times < <(pause_times t1)
if [ "$answer" = "ok 0" ] && [ "$median" -lt 200 ]; then
	pass "a pause does not wait for a throttled vCPU's sleep: 8 pauses at 99%, median $median ms ($times)"
else
	fail "a pause does not wait for a throttled vCPU's sleep" "answer '$answer'; 8 pauses at 99%: median $median ms ($times)"
fi

# The holder dies: its throttle goes with it, and the guest's work comes back.
{ kill -9 "$HOLD_PID" && wait "$HOLD_PID"; } 2>/dev/null
if wait_for 5 sh -c "[ \"\$($vmctl_bin $KVMMIG_RUN_DIR/t1.sock status | sed -n 's/^throttle //p')\" = 0 ]"; then
	pass "the holder killed: the throttle is lifted"
else
	fail "the holder killed: the throttle is lifted" "status throttle $(throttle_of t1)"
fi
read -r after0 after1 < <(work t1 3)
slept_after=$(asleep "$(vm_pid t1)" 2)
echo "info: vCPU 0's thread sleeps $slept_after% of the time after"
# Throttled against lifted, each measured over 3 s seconds apart: at 95%
# the guest gets a twentieth of the time when idle (5935 -> 126992), but on
# a machine shared with test hosts the lifted guest gets only part of a CPU
# while the throttled one runs at once when it wakes (39507 -> 129193 seen):
# under half is the verdict; "before" (measured first, under another load)
# is information.
if [ "$after0" -gt $((during0 * 2)) ] && [ "$after1" -gt $((during1 * 2)) ]; then
	pass "at 95% both vCPUs did under half the work they do once it is lifted: $during0 -> $after0 and $during1 -> $after1 iterations in 3 s ($before0 and $before1 before)"
else
	fail "at 95% both vCPUs did under half the work they do once it is lifted" "$during0 -> $after0 and $during1 -> $after1 iterations in 3 s ($before0 and $before1 before)"
fi
grep -q "throttle lifted: the control connection that held it closed" "$vm_tmp/t1.err" &&
	pass "the VMM logs why it lifted the throttle" ||
	fail "the VMM logs why it lifted the throttle" "$(tail -n 3 "$vm_tmp/t1.err" | tr '\n' ' ')"

# The holder lifts it itself (throttle 0) and may take it again; hanging up ends it too.
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/t1.sock" "throttle 20" "throttle 50" "throttle 0"; }
read -r -t 10 a1 <&"${HOLD[0]}"
read -r -t 10 a2 <&"${HOLD[0]}"
read -r -t 10 a3 <&"${HOLD[0]}"
if [ "$a1 $a2 $a3" = "ok 0 ok 0 ok 0" ] && [ "$(throttle_of t1)" = 0 ]; then
	pass "the holder raises it (20, 50) and lifts it (0)"
else
	fail "the holder raises it (20, 50) and lifts it (0)" "answers '$a1' '$a2' '$a3', status $(throttle_of t1)"
fi
echo "throttle 30" >&"${HOLD[1]}"
read -r -t 10 a4 <&"${HOLD[0]}"
[ "$a4" = "ok 0" ] && [ "$(throttle_of t1)" = 30 ] && pass "and takes it again (30)" ||
	fail "and takes it again (30)" "answer '$a4', status $(throttle_of t1)"
expect_output "while it holds it no other connection can change it" "another control connection holds" \
	vm_ctl t1 throttle 40
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
wait_for 5 sh -c "$vmctl_bin $KVMMIG_RUN_DIR/t1.sock status | grep -qx 'throttle 0'" &&
	pass "a holder that hangs up leaves no throttle" ||
	fail "a holder that hangs up leaves no throttle" "status throttle $(throttle_of t1)"

# One vCPU only ("throttle PCT MASK": what migrate asks for a dirty-ring VM
# whose per-vCPU rates name the vCPU that dirties too fast): vCPU 1 slows,
# vCPU 0 does not. Both measured in the same two windows, so the machine's
# load weighs on both alike: vCPU 0 must keep at least three times the share
# of its work that vCPU 1 keeps.
read -r free0 free1 < <(work t1 3)
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/t1.sock" "throttle 95 0x2"; }
read -r -t 10 answer <&"${HOLD[0]}"
[ "$answer" = "ok 0" ] && vm_ctl t1 status | grep -qx 'throttle-vcpus 0x2' &&
	pass "throttle 95 0x2: answered ok, status names the throttled vCPUs" ||
	fail "throttle 95 0x2: answered ok, status names the throttled vCPUs" "answer '$answer', status: $(vm_ctl t1 status | grep throttle | tr '\n' ' ')"
read -r held0 held1 < <(work t1 3)
if [ "$free0" -gt 0 ] && [ "$free1" -gt 0 ] && [ $((held0 * free1)) -ge $((3 * held1 * free0)) ] && [ "$held1" -lt $((free1 / 2)) ]; then
	pass "only vCPU 1 is throttled: vCPU 0 $free0 -> $held0, vCPU 1 $free1 -> $held1 iterations in 3 s"
else
	fail "only vCPU 1 is throttled" "vCPU 0 $free0 -> $held0, vCPU 1 $free1 -> $held1 iterations in 3 s"
fi
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
wait_for 5 sh -c "! $vmctl_bin $KVMMIG_RUN_DIR/t1.sock status | grep -q '^throttle-vcpus'" &&
	pass "hung up: no vCPU stays throttled" ||
	fail "hung up: no vCPU stays throttled" "status: $(vm_ctl t1 status | grep throttle | tr '\n' ' ')"
expect_output "a mask naming a vCPU the VM lacks is refused" "names a vCPU the VM does not have" vm_ctl t1 "throttle 50 0x4"
expect_output "and so is one that is not hex" "the vCPU mask is 0x and 1 to 16 hex digits" vm_ctl t1 "throttle 50 2"

# An incoming VM has nothing running to throttle.
vm_start t2 --cpus 1 --mem 64M --incoming
expect_output "an incoming VM refuses a throttle" "the VM is incoming: nothing runs to throttle" \
	vm_ctl t2 throttle 50

# A VMM quits cleanly with the throttle in force.
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/t1.sock" "throttle 99"; }
read -r -t 10 answer <&"${HOLD[0]}"
vm_ctl t1 quit >/dev/null
vm_wait_exit t1 10
[ "$vm_status" = 0 ] && pass "quit with a 99% throttle in force: the VMM exits 0" ||
	fail "quit with a 99% throttle in force: the VMM exits 0" "status $vm_status: $(tail -n 2 "$vm_tmp/t1.err" | tr '\n' ' ')"
exec {HOLD[1]}>&- 2>/dev/null
! grep -q 'failures [1-9]\|FAIL' "$vm_tmp/t1.out" &&
	pass "the guest's own memory checks passed throughout" ||
	fail "the guest's own memory checks passed throughout" "$(grep -m2 'FAIL\|failures [1-9]' "$vm_tmp/t1.out")"
finish
