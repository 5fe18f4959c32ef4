#!/bin/bash
# blobversion.sh: what the state blob format promises across VMM versions (user/vmm/state.h),
# so that hosts can be upgraded one at a time and evacuated onto each other meanwhile:
#   - a version-1 blob (what VMMs before record versions wrote) still restores;
#   - a record this VMM does not know is skipped when it is optional, and refused, naming
#     it, when it is flagged must-understand; so is a newer version of a record it knows;
#   - a header version from the future and unknown record flags are refused;
#   - a device's state (a DEVICE record) of a version the device does not read is refused,
#     naming the device and the versions, when must-understand, and skipped when optional
#     (the device keeps its reset state).
# The guest restored last (from the blob with an unknown optional record) must run on clean.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

vm_saved_blob

# restores NAME: restore-state of $vm_tmp/blob must succeed.
restores() {
	local out
	if out=$(vm_ctl dst restore-state <"$vm_tmp/blob" 2>&1); then
		pass "$1 restores"
	else
		fail "$1 restores" "$out"
	fi
}
# rejects NAME REGEX: restore-state of $vm_tmp/blob must fail with an error matching REGEX.
rejects() { vm_restore_refused "$vm_tmp/blob" "$1 is refused" "$2"; }
regs=$(record_offset 0x10 1)

# Record head word 3 = version | flags << 16; flag 1 = must-understand.
cp "$good" "$vm_tmp/blob" && "$vmctl_bin" --insert "$vm_tmp/blob" 0x7e 0 1 1 24
rejects "an unknown must-understand record" "record type 0x7e.*must-understand"

cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" $((regs + 12)) $((2 | 1 << 16)) && "$vmctl_bin" --fix-crc "$vm_tmp/blob"
rejects "a must-understand REGS record of a newer version" "REGS .*version 2.*reads up to version 1"

# VM_INFO, the first record, of a newer version and optional: skipping it
# would skip the vCPU-count and CPU-model checks it carries (found by
# tests/unit/fuzz-state.sh).
info=$(record_offset 0x01 0)
cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" $((info + 12)) 2 && "$vmctl_bin" --fix-crc "$vm_tmp/blob"
rejects "an optional VM_INFO of a newer version" "lacks a VM_INFO record this VMM reads"

cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" $((regs + 12)) $((1 | 3 << 16)) && "$vmctl_bin" --fix-crc "$vm_tmp/blob"
rejects "a record with an unknown flag" "unknown flags 0x2"

cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" 8 3
rejects "a blob of header version 3" "unsupported state blob version 3"

# serial0's DEVICE record; kvmmig-vm's serial0 writes and reads state version 1 only.
serial=$(record_offset 0x30 1)
cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" $((serial + 12)) $((2 | 1 << 16)) && "$vmctl_bin" --fix-crc "$vm_tmp/blob"
rejects "serial0's state of version 2 (must-understand)" \
	"device 'serial0' state version 2, which this kvmmig-vm reads in versions 1 to 1"

expect_output "after the refusals resume is still refused" "no state yet" vm_ctl dst resume

cp "$good" "$vm_tmp/blob"
"$vmctl_bin" --poke "$vm_tmp/blob" $((serial + 12)) 2 && "$vmctl_bin" --fix-crc "$vm_tmp/blob"
restores "a blob with serial0's state of version 2, optional (serial0 keeps its reset state)"

cp "$good" "$vm_tmp/blob" && "$vmctl_bin" --v1 "$vm_tmp/blob"
restores "a version-1 blob (the format of VMMs before record versions)"

# Last, so that its guest is the one resumed (a restore may be repeated until the resume): an
# unknown optional record is skipped.
cp "$good" "$vm_tmp/blob" && "$vmctl_bin" --insert "$vm_tmp/blob" 0x7f 3 1 0 40
restores "a blob with an unknown optional record"
expect "resume" vm_ctl dst resume
saved=$(image_iter "$vm_images/mem" 1)
if wait_iter dst 0 "$saved" 10 && wait_iter dst 1 "$((saved + 100))" 10; then
	pass "the restored guest runs on"
else
	fail "the restored guest runs on" "$(vm_out dst | tail -n 2 | tr '\n' ' ')"
fi
if vm_out dst | grep -q FAIL || ! vm_out dst | grep -q "verifies [1-9][0-9]* failures 0$"; then
	fail "the restored guest's memory verification passes" "$(vm_out dst | grep -m2 -E 'FAIL|failures' | tr '\n' ' ')"
else
	pass "the restored guest's memory verification passes"
fi
vm_ctl dst quit >/dev/null
finish
