#!/bin/bash
# payload.sh: kvmmig-vm runs the dirtymem payload guest on /dev/kvm with 1 and 2 vCPUs,
# the host and x86-64-v2 CPU models; the guest's own verdicts decide, not just exit codes.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

for cpus in 1 2; do
	for model in host x86-64-v2; do
		name=run$cpus${model//-/}
		TEST_SUFFIX=" [$cpus vCPU, --cpu $model]"
		vm_start $name --cpus $cpus --mem 64M --cpu $model --payload "$dirtymem" \
			--append "pages=2048 rate=32 verify_every=4 iterations=3000 report_ms=1000"
		vm_wait_exit $name 20; status=$vm_status
		out=$(vm_out $name)
		if [ "$status" = 0 ]; then
			pass "payload guest runs to its end, exit status 0"
		else
			fail "payload guest runs to its end, exit status 0" \
				"status $status: $(tail -n 2 "$vm_tmp/$name.err" | tr '\n' ' ')"
		fi
		done_lines=$(echo "$out" | grep -c "^dirtymem: cpu[0-9]* done iter 3000 verifies [0-9]* failures 0$")
		if [ "$done_lines" = "$cpus" ] && ! echo "$out" | grep -q FAIL; then
			pass "every vCPU verified its memory, no failure"
		else
			fail "every vCPU verified its memory, no failure" \
				"$done_lines of $cpus clean 'done' lines: $(echo "$out" | grep -m2 -E 'FAIL|done' | tr '\n' ' ')"
		fi
	done
done
TEST_SUFFIX=

# The guest's exit port value is the VMM's exit status: a failing guest fails the VMM.
printf '\xb8\x2a\x00\x00\x00\x66\xba\xf4\x00\xef' >"$vm_tmp/exit42.bin" # mov $42,%eax; mov $0xf4,%dx; out %eax,(%dx)
vm_start exit42 --mem 16M --payload "$vm_tmp/exit42.bin"
vm_wait_exit exit42 5; status=$vm_status
[ "$status" = 42 ] && pass "exit port value becomes the VMM's exit status" ||
	fail "exit port value becomes the VMM's exit status" "got $status, want 42"

# A triple fault (ud2 with no IDT) ends the VM instead of hanging it.
printf '\x0f\x0b' >"$vm_tmp/ud2.bin"
vm_start ud2 --mem 16M --payload "$vm_tmp/ud2.bin"
vm_wait_exit ud2 5; status=$vm_status
[ "$status" != 124 ] && pass "a guest triple fault ends the VM" ||
	fail "a guest triple fault ends the VM" "still running after 5 s"

# A payload guest that takes an exception says so itself (tests/guests/fault.c): the
# vector, the faulting address and its page walk, then ends with status 0x7e.
vm_start fault --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=2048 rate=32 fault_iter=50"
vm_wait_exit fault 10; status=$vm_status
out=$(vm_out fault)
if [ "$status" = 126 ] && echo "$out" | grep -q '^FAULT cpu [01] vector 14 error 0x6 rip 0x1[0-9a-f]* .* cr2 0x100000000 ' &&
	echo "$out" | grep -q '^FAULT page walk of va 0x100000000 pml4e 0x30[0-9a-f]* pdpte 0x0 '; then
	pass "a payload guest reports its own page fault (vector, cr2, page walk) and ends with 0x7e"
else
	fail "a payload guest reports its own page fault (vector, cr2, page walk) and ends with 0x7e" \
		"status $status: $(echo "$out" | grep -m3 FAULT | tr '\n' ' ')"
fi

expect_output "--payload and --kernel are exclusive" "exactly one of --kernel and --payload" \
	"$vm_bin" --payload "$dirtymem" --kernel /dev/null
expect_output "an invalid --name is refused" "invalid --name" "$vm_bin" --name 'a/b' --payload "$dirtymem"
expect_output "an invalid --mem is refused" "invalid --mem" "$vm_bin" --mem 12Q --payload "$dirtymem"
expect_output "a missing payload file is reported by name" "unable to read payload /nonexistent" \
	"$vm_bin" --payload /nonexistent

finish
