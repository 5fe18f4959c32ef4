#!/bin/bash
# saverestore.sh: pause, save-state + save-memory, quit; a fresh kvmmig-vm --incoming restores
# both and the dirtymem guest goes on: its counters continue, its own memory verification
# passes, its TSC never runs back. For 1 and 2 vCPUs. Plus: the oracle catches a damaged image.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

guest_args="pages=4096 rate=64 verify_every=4 report_ms=20 delay_us=20"

# save_vm NAME CPUS: runs a guest a while, pauses it and saves its state to $vm_tmp/NAME.state
# and its memory to $vm_images/NAME.mem.
save_vm() {
	local name=$1 cpus=$2 c
	vm_start "$name" --cpus "$cpus" --mem 64M --payload "$dirtymem" --append "$guest_args"
	for ((c = 0; c < cpus; c++)); do
		wait_iter "$name" $c 200 10 || {
			fail "source guest makes progress" "cpu$c: $(vm_out "$name" | tail -n 2 | tr '\n' ' ')"
			return 1
		}
	done
	vm_ctl "$name" pause >/dev/null &&
		vm_ctl "$name" save-state >"$vm_tmp/$name.state" &&
		vm_ctl "$name" save-memory "$name.mem" &&
		vm_ctl "$name" quit >/dev/null || {
		fail "pause, save-state, save-memory, quit" "a request failed"
		return 1
	}
	vm_wait_exit "$name" 20
	[ "$vm_status" = 0 ] || {
		fail "source VMM exits 0 after quit" "status $vm_status (124: still running after 20 s)"
		return 1
	}
	pass "pause, save-state, save-memory, quit"
}

for cpus in 1 2; do
	TEST_SUFFIX=" [$cpus vCPU]"
	src=src$cpus dst=dst$cpus
	save_vm $src $cpus || continue

	# The image is consistent from outside, by the same oracle the guest uses.
	expect_output "saved memory image passes the dirtymem oracle from outside" "dirtymem image ok" \
		"$vmctl_bin" --check-dirtymem "$vm_images/$src.mem"

	declare -A saved_iter saved_verifies
	for ((c = 0; c < cpus; c++)); do
		saved_iter[$c]=$(image_iter "$vm_images/$src.mem" $c)
		saved_verifies[$c]=$(last_verifies $src $c)
	done

	vm_start $dst --cpus $cpus --mem 64M --incoming --mem-file "$vm_images/$src.mem"
	expect_output "incoming VMM waits in state incoming" "^state incoming$" vm_ctl $dst status
	expect_output "incoming VMM refuses resume before restore-state" "no state yet" vm_ctl $dst resume
	expect "restore-state of the saved blob" vm_ctl $dst restore-state <"$vm_tmp/$src.state"
	expect "resume" vm_ctl $dst resume

	for ((c = 0; c < cpus; c++)); do
		want=$((saved_iter[$c] + 400))
		if wait_iter $dst $c $want 10; then
			pass "restored cpu$c continues past its saved iteration ${saved_iter[$c]}"
		else
			fail "restored cpu$c continues past its saved iteration ${saved_iter[$c]}" \
				"last reported: $(last_iter $dst $c)"
		fi
		first=$(vm_out $dst | sed -n "s/^dirtymem: cpu$c iter \([0-9]*\) .*/\1/p" | head -n1)
		# A vCPU paused between finishing an iteration and reporting it reports it now.
		if [ -n "$first" ] && [ "$first" -ge "${saved_iter[$c]}" ]; then
			pass "cpu$c's first report after restore (iter $first) follows the saved one"
		else
			fail "cpu$c's first report after restore follows the saved one" \
				"first '$first', saved ${saved_iter[$c]}"
		fi
		v=$(last_verifies $dst $c)
		if [ -n "$v" ] && [ "$v" -gt "${saved_verifies[$c]:-0}" ]; then
			pass "cpu$c verified its whole memory again after restore ($v verifications)"
		else
			fail "cpu$c verified its whole memory again after restore" \
				"verifies '$v', before the save ${saved_verifies[$c]}"
		fi
	done
	vm_ctl $dst quit >/dev/null
	vm_wait_exit $dst 5; status=$vm_status
	out=$(vm_out $dst | grep -v " gap_ms ") # gaps are information (a pause the guest saw)
	if echo "$out" | grep -q "start"; then
		fail "restored guest did not start over" "$(echo "$out" | grep -m1 start)"
	else
		pass "restored guest did not start over"
	fi
	if echo "$out" | grep -q FAIL; then
		fail "no verification or TSC failure after restore" "$(echo "$out" | grep -m2 FAIL | tr '\n' ' ')"
	elif ! echo "$out" | grep -q "failures 0$"; then
		fail "no verification or TSC failure after restore" "no report line at all"
	elif echo "$out" | grep -q "failures [1-9]"; then
		fail "no verification or TSC failure after restore" "$(echo "$out" | grep -m1 'failures [1-9]')"
	else
		pass "no verification or TSC failure after restore"
	fi
	[ "$status" = 0 ] && pass "restored VMM exits 0 on quit" ||
		fail "restored VMM exits 0 on quit" "status $status: $(tail -n 2 "$vm_tmp/$dst.err")"
done
TEST_SUFFIX=

# A restored VM saves and restores again like any other: a second hop continues the guest.
vm_start hop1 --cpus 2 --mem 64M --incoming --mem-file "$vm_images/src2.mem"
vm_ctl hop1 restore-state <"$vm_tmp/src2.state" >/dev/null && vm_ctl hop1 resume >/dev/null
wait_iter hop1 1 "$(image_iter "$vm_images/src2.mem" 1)" 10
vm_ctl hop1 pause >/dev/null && vm_ctl hop1 save-state >"$vm_tmp/hop1.state" &&
	vm_ctl hop1 save-memory hop1.mem >/dev/null && vm_ctl hop1 quit >/dev/null
vm_start hop2 --cpus 2 --mem 64M --incoming --mem-file "$vm_images/hop1.mem"
vm_ctl hop2 restore-state <"$vm_tmp/hop1.state" >/dev/null && vm_ctl hop2 resume >/dev/null
h0=$(image_iter "$vm_images/hop1.mem" 0) h1=$(image_iter "$vm_images/hop1.mem" 1)
if [ -n "$h0" ] && [ "$h0" -gt "$(image_iter "$vm_images/src2.mem" 0)" ] && wait_iter hop2 0 "$h0" 10 &&
	wait_iter hop2 1 "$h1" 10 && ! vm_out hop2 | grep -q FAIL; then
	pass "a restored VM saves and restores again: the guest goes on clean after two hops"
else
	fail "a restored VM saves and restores again: the guest goes on clean after two hops" \
		"hop1 saved at $h0/$h1: $(vm_out hop2 | tail -n 2 | tr '\n' ' ')"
fi
vm_ctl hop2 quit >/dev/null

# The oracle must be able to fail: flip one word of a written test page in the image. Pick
# a page half the buffer away from where cpu0 writes next (rate 64 of 4096 pages), so that
# the guest verifies (every 4 iterations) long before it would overwrite the damage.
k=$(image_iter "$vm_images/src1.mem" 0)
page=$(((k * 64 + 2048) % 4096))
cp "$vm_images/src1.mem" "$vm_tmp/bad.mem"
printf '\x77\x77\x77\x77' | dd of="$vm_tmp/bad.mem" bs=1 seek=$((0x1000000 + page * 4096)) conv=notrunc status=none
expect_output "the outside oracle flags a damaged image" "page $page: " \
	sh -c "'$vmctl_bin' --check-dirtymem '$vm_tmp/bad.mem'; true"
vm_start bad --mem 64M --incoming --mem-file "$vm_tmp/bad.mem"
vm_ctl bad restore-state <"$vm_tmp/src1.state" >/dev/null && vm_ctl bad resume >/dev/null
if wait_for 10 sh -c "grep -q 'verify FAIL page $page ' '$vm_tmp/bad.out'"; then
	pass "the guest's own verification flags a damaged page after restore"
else
	fail "the guest's own verification flags a damaged page after restore" \
		"no 'verify FAIL page $page' line: $(vm_out bad | tail -n 2 | tr '\n' ' ')"
fi
vm_ctl bad quit >/dev/null

finish
