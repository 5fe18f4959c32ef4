#!/bin/bash
# dirtylimit.sh: kvmmig-vm's dirty limit (the control socket's "dirty-limit
# PAGES [MASK]", QEMU's dirty-limit: what kvmmig-ctl migrate --converge auto
# asks of a dirty-ring VM whose vCPUs dirty faster than their share of the
# link): a limited vCPU sleeps where its ring fills until its pages fit the
# limit, so it dirties no faster than the limit, while a vCPU outside the
# mask keeps its pace; the limit lasts exactly as long as the connection
# that asked (held as the throttle is, tests/vm/throttle.sh).
# Each verdict compares rates measured in the same run: switched off (the
# windows before and after), the limited vCPU dirties several times the
# limit, so the window in force is the proof.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

# window NAME SECS: vCPU 0's and vCPU 1's dirty pages (the ring's, reaped)
# and iterations in SECS seconds: "pages0 pages1 iter0 iter1".
ring_pages() { vm_ctl "$1" dirty-ring-reap | sed -n "s/^vcpu$2 //p"; }
window() {
	local p0 p1 i0 i1
	p0=$(ring_pages "$1" 0) p1=$(ring_pages "$1" 1) i0=$(last_iter "$1" 0) i1=$(last_iter "$1" 1)
	sleep "$2"
	echo $(($(ring_pages "$1" 0) - p0)) $(($(ring_pages "$1" 1) - p1)) \
		$(($(last_iter "$1" 0) - ${i0:-0})) $(($(last_iter "$1" 1) - ${i1:-0}))
}
limit_of() { vm_ctl "$1" status | sed -n 's/^dirty-limit //p'; }

# vCPU 1 dirties 64 pages an iteration, vCPU 0 one: a 256-entry ring fills
# many times a second on vCPU 1.
vm_start d1 --cpus 2 --mem 64M --dirty-ring 256 --payload "$dirtymem" \
	--append "pages=4096 rate=64 rate0=1 report_ms=20 gap_ms=100000"
wait_iter d1 0 10 10 && wait_iter d1 1 10 10 || { fail "the guest runs" "$(vm_out d1 | tail -n 2)"; exit 1; }
vm_ctl d1 dirty-log on >/dev/null
expect_output "status says no dirty limit at start" "^dirty-limit 0$" vm_ctl d1 status

read -r free_p0 free_p1 free_i0 free_i1 < <(window d1 3)
# The limit: an eighth of vCPU 1's own rate, so that unenforced it would be
# exceeded eightfold.
limit=$((free_p1 / 3 / 8))
if [ "$limit" -lt 64 ]; then
	fail "vCPU 1 dirties enough to limit" "$free_p1 pages in 3 s"
	finish
	exit
fi
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/d1.sock" "dirty-limit $limit 0x2"; }
read -r -t 10 answer <&"${HOLD[0]}"
if [ "$answer" = "ok 0" ] && [ "$(limit_of d1)" = "$limit" ] &&
	vm_ctl d1 status | grep -qx 'dirty-limit-vcpus 0x2'; then
	pass "dirty-limit $limit 0x2: answered ok, status says so"
else
	fail "dirty-limit $limit 0x2: answered ok, status says so" "answer '$answer', status: $(vm_ctl d1 status | grep dirty-limit | tr '\n' ' ')"
fi
sleep 1 # the ring that was filling when the limit came
read -r held_p0 held_p1 held_i0 held_i1 < <(window d1 3)
rate=$((held_p1 / 3))
# At most the limit and one ring's burst a window, with slack: 2x.
if [ "$rate" -le $((limit * 2)) ] && [ "$held_p1" -lt $((free_p1 / 2)) ]; then
	pass "vCPU 1 dirties at most its limit: $rate pages/s against $limit ($((free_p1 / 3)) before)"
else
	fail "vCPU 1 dirties at most its limit" "$rate pages/s against $limit ($((free_p1 / 3)) before)"
fi
# vCPU 0 is not limited: it keeps at least three times the share of its
# work that vCPU 1 keeps (both measured in the same windows).
if [ "$free_i0" -gt 0 ] && [ "$free_i1" -gt 0 ] && [ $((held_i0 * free_i1)) -ge $((3 * held_i1 * free_i0)) ]; then
	pass "only vCPU 1 is limited: vCPU 0 $free_i0 -> $held_i0, vCPU 1 $free_i1 -> $held_i1 iterations in 3 s"
else
	fail "only vCPU 1 is limited" "vCPU 0 $free_i0 -> $held_i0, vCPU 1 $free_i1 -> $held_i1 iterations in 3 s"
fi
expect_output "another connection cannot change the held limit" "another control connection holds" \
	vm_ctl d1 dirty-limit 0
expect_output "a limit that is not a number is refused" "dirty-limit needs pages a second" vm_ctl d1 "dirty-limit 1e6"

# The holder dies: the limit goes with it, and vCPU 1's pace comes back.
{ kill -9 "$HOLD_PID" && wait "$HOLD_PID"; } 2>/dev/null
if wait_for 5 sh -c "[ \"\$($vmctl_bin $KVMMIG_RUN_DIR/d1.sock status | sed -n 's/^dirty-limit //p')\" = 0 ]"; then
	pass "the holder killed: the limit is lifted"
else
	fail "the holder killed: the limit is lifted" "status dirty-limit $(limit_of d1)"
fi
read -r after_p0 after_p1 after_i0 after_i1 < <(window d1 3)
[ $((after_p1 / 3)) -gt $((limit * 4)) ] &&
	pass "lifted, vCPU 1 dirties freely again: $((after_p1 / 3)) pages/s (limit was $limit)" ||
	fail "lifted, vCPU 1 dirties freely again" "$((after_p1 / 3)) pages/s (limit was $limit)"

expect_output "a mask naming a vCPU the VM lacks is refused" "names a vCPU the VM does not have" \
	vm_ctl d1 "dirty-limit 100 0x4"

# A pause wakes a limited vCPU from its sleep: at 64 pages a second a
# 256-entry ring's fill costs vCPU 1 four seconds of sleep. The median of 8.
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/d1.sock" "dirty-limit 64 0x2"; }
read -r -t 10 answer <&"${HOLD[0]}"
sleep 1
read -r median times < <(pause_times d1)
if [ "$answer" = "ok 0" ] && [ "$median" -lt 200 ]; then
	pass "a pause does not wait for a limited vCPU's sleep: 8 pauses at 64 pages/s, median $median ms ($times)"
else
	fail "a pause does not wait for a limited vCPU's sleep" "answer '$answer'; 8 pauses: median $median ms ($times)"
fi
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null

# A VM without a dirty ring has no limit to set: the throttle is its tool.
vm_start d2 --cpus 1 --mem 64M --payload "$dirtymem"
expect_output "a VM without a dirty ring refuses a dirty limit" "has no dirty ring" vm_ctl d2 dirty-limit 100

# A VMM quits cleanly with a limit in force.
coproc HOLD { exec python3 tests/vm/holdctl.py "$KVMMIG_RUN_DIR/d1.sock" "dirty-limit 64"; }
read -r -t 10 answer <&"${HOLD[0]}"
vm_ctl d1 quit >/dev/null
vm_wait_exit d1 10
[ "$answer" = "ok 0" ] && [ "$vm_status" = 0 ] && pass "quit with a dirty limit in force: the VMM exits 0" ||
	fail "quit with a dirty limit in force: the VMM exits 0" "answer '$answer', status $vm_status: $(tail -n 2 "$vm_tmp/d1.err" | tr '\n' ' ')"
exec {HOLD[1]}>&- 2>/dev/null
! grep -q 'failures [1-9]\|FAIL' "$vm_tmp/d1.out" &&
	pass "the guest's own memory checks passed throughout" ||
	fail "the guest's own memory checks passed throughout" "$(grep -m2 'FAIL\|failures [1-9]' "$vm_tmp/d1.out")"
finish
