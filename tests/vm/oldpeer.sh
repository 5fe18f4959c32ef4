#!/bin/bash
# oldpeer.sh: a guest moves from this VMM to one that predates state blob
# record versions (kvmmig-vm at 7429f67, built from the repository's history
# by tests/tools/old-vmm.sh), as a rolling upgrade evacuates an upgraded
# host onto one not yet upgraded. That VMM refuses a version-2 blob; this
# one writes version 1 when asked (save-state 1: no record versions, no
# optional record), and the old VMM restores it and runs the guest on.
# status says which versions a VMM writes; the old one says nothing, which
# kvmmig-ctl reads as version 1 only.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

old=$(tests/tools/old-vmm.sh 2>"$vm_tmp/old.err")
case $? in
0) ;;
2) echo "info: not checked: $(cat "$vm_tmp/old.err")"; exit 0 ;;
*) fail "the old VMM builds" "$(cat "$vm_tmp/old.err")"; exit 1 ;;
esac

vm_start src --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=2048 verify_every=4 report_ms=20"
wait_iter src 0 100 10 && wait_iter src 1 100 10
expect_output "status says which state versions this VMM writes" "^blob-versions 1 2$" vm_ctl src status
expect "pause" vm_ctl src pause
vm_ctl src save-state >"$vm_tmp/v2" && vm_ctl src save-state 1 >"$vm_tmp/v1" &&
	vm_ctl src save-memory mem >/dev/null
expect_output "save-state of a version it does not write is refused" \
	"writes state versions 1 to 2, not 3" vm_ctl src save-state 3
vm_ctl src quit >/dev/null

# The version-1 blob: header version 1 (bytes 8..11), no optional record (SREGS2, 0x1c).
good=$vm_tmp/v1
if [ "$(od -An -tu4 -j8 -N4 "$vm_tmp/v1" | tr -d ' ')" = 1 ] &&
	[ -n "$(record_offset 0x10)" ] && [ -z "$(record_offset 0x1c)" ]; then
	pass "save-state 1 writes a version-1 blob without optional records"
else
	fail "save-state 1 writes a version-1 blob without optional records" \
		"header version $(od -An -tu4 -j8 -N4 "$vm_tmp/v1"), records: $("$vmctl_bin" --records "$vm_tmp/v1" | awk '{print $2}' | sort -u | tr '\n' ' ')"
fi

vm_bin=$old
vm_start dst --cpus 2 --mem 64M --incoming --mem-file "$vm_images/mem"
if vm_ctl dst status | grep -q '^blob-versions'; then
	fail "the old VMM's status says no state versions (so: version 1 only)" "$(vm_ctl dst status | grep '^blob-versions')"
else
	pass "the old VMM's status says no state versions (so: version 1 only)"
fi
vm_restore_refused "$vm_tmp/v2" "the old VMM refuses this VMM's version-2 blob" "unsupported state blob version 2"
expect "the old VMM restores the version-1 blob" vm_ctl dst restore-state <"$vm_tmp/v1"
expect "and resumes it" vm_ctl dst resume
saved=$(image_iter "$vm_images/mem" 0)
if wait_iter dst 0 "$((saved + 100))" 10 && wait_iter dst 1 "$(image_iter "$vm_images/mem" 1)" 10 &&
	! vm_out dst | grep -q 'FAIL\|failures [1-9]'; then
	pass "the guest runs on in the old VMM, both vCPUs, its memory checks passing"
else
	fail "the guest runs on in the old VMM, both vCPUs, its memory checks passing" \
		"$(vm_out dst | tail -n 2 | tr '\n' ' ') $(tail -n 2 "$vm_tmp/dst.err" | tr '\n' ' ')"
fi
finish
