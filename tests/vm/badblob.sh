#!/bin/bash
# badblob.sh: an incoming kvmmig-vm rejects truncated and malformed state blobs with a clear
# error and applies nothing; afterwards the good blob still restores and the guest runs clean.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

# A 2-vCPU source guest gives a good blob and image; "dst" waits for a blob.
vm_saved_blob

# rejects NAME REGEX: restore-state of $vm_tmp/bad must fail with an error matching REGEX.
rejects() { vm_restore_refused "$vm_tmp/bad" "$1 is rejected" "$2"; }
# poked OFFSET VALUE: $vm_tmp/bad is the good blob with the u32 at OFFSET set
# to VALUE and its CRC made right again (damage that a CRC does not catch).
poked() { cp "$good" "$vm_tmp/bad" && "$vmctl_bin" --poke "$vm_tmp/bad" "$1" "$2" && "$vmctl_bin" --fix-crc "$vm_tmp/bad"; }
# renamed NAME: $vm_tmp/bad is the good blob with the name of the DEVICE record at $dev set to NAME,
# its CRC made right again.
renamed() {
	cp "$good" "$vm_tmp/bad" &&
		printf '%s\0' "$1" | dd of="$vm_tmp/bad" bs=1 seek=$((dev + 16)) conv=notrunc status=none &&
		"$vmctl_bin" --fix-crc "$vm_tmp/bad"
}

head -c 10 "$good" >"$vm_tmp/bad"
rejects "a 10-byte blob" "truncated state blob"
head -c $((size / 2)) "$good" >"$vm_tmp/bad"
rejects "a blob cut in half" "truncated state blob: the header says $size bytes"
head -c $((size - 1)) "$good" >"$vm_tmp/bad"
rejects "a blob one byte short" "truncated state blob"
: >"$vm_tmp/bad"
rejects "an empty blob" "truncated state blob"
{ cat "$good"; printf 'x'; } >"$vm_tmp/bad"
rejects "a blob with a trailing byte" "malformed state blob"

cp "$good" "$vm_tmp/bad"
printf 'NOTASTAT' | dd of="$vm_tmp/bad" conv=notrunc status=none
rejects "a blob with a bad magic" "bad magic"

cp "$good" "$vm_tmp/bad"
"$vmctl_bin" --poke "$vm_tmp/bad" 8 3
rejects "a version 3 blob" "unsupported state blob version 3"

cp "$good" "$vm_tmp/bad"
printf '\xff' | dd of="$vm_tmp/bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
rejects "a blob with one byte flipped" "CRC mismatch"

# Damage that a CRC does not catch: the CRC is recomputed after each edit.
regs=$(record_offset 0x10 1)
poked "$((regs + 8))" 143
rejects "a REGS record of the wrong size" "vCPU 1 REGS is 143 bytes"

poked "$((regs + 8))" 100000
rejects "a record running past the end" "past the end"

poked "$regs" 0x77
rejects "an unknown must-understand record type" "record type 0x77 .*must-understand"

poked "$((regs + 4))" 7
rejects "a record for a vCPU the VM lacks" "record for vCPU 7"

poked "$((regs + 4))" 0
rejects "a record given twice (and one missing)" "appears twice|lacks"

msrs=$(record_offset 0x15 0)
poked "$((msrs + 16))" 5000
rejects "an MSR count that does not match its record" "MSRS: 5000 entries do not fit"

info=$(record_offset 0x1 0)
poked "$((info + 16))" 1
rejects "a blob of a 1-vCPU VM" "for 1 vCPUs, this VM has 2"

poked "$((info + 16 + 16 + 16))" 0x2000000
rejects "a blob of a VM with other memslots" "memslot 0 .* differs"

dev=$(record_offset 0x30 1)
renamed nosuchdev
rejects "state of a device the VM lacks" "device 'nosuchdev'"

# A name from the blob is quoted in printable characters only: a newline in it must not forge a
# line of the VMM's log.
renamed $'bad\nname'
rejects "a device name with a newline" "device 'bad\?name'"
if grep -q "^kvmmig-vm: restore-state rejected: state blob has state of device 'bad?name'" "$vm_tmp/dst.err"; then
	pass "the log quotes that name on one line"
else
	fail "the log quotes that name on one line" "$(grep -A1 "device 'bad" "$vm_tmp/dst.err" | tr '\n' '|')"
fi

poked "$((dev + 16 + 16))" 0x0
rejects "invalid serial state" "invalid state of device 'serial0'"

# The irqchips: each record's chip_id must be its index, a chip KVM knows (0 PIC master,
# 1 PIC slave, 2 IOAPIC), each exactly once; else KVM would set one chip twice and another not at
# all, or refuse it half-way through the restore.
ioapic=$(record_offset 0x20 2)
poked "$((ioapic + 16))" 0
rejects "an IOAPIC record holding the PIC master" "IRQCHIP record 2 holds chip 0"
pic=$(record_offset 0x20 0)
poked "$((pic + 16))" 7
rejects "an IRQCHIP record of an unknown chip" "IRQCHIP record 0 holds chip 7"

# Device records are numbered 0..n-1, each number once.
poked "$((dev + 4))" 0
rejects "two DEVICE records of one index" "DEVICE index 0 appears twice"
poked "$((dev + 4))" 9
rejects "a DEVICE record index out of range" "DEVICE index 9, the VM has 2 devices"

# A guest using a feature this host's KVM cannot provide (leaf 1 ECX bit 16, reserved
# everywhere) must not land here.
cp "$good" "$vm_tmp/bad"
"$vmctl_bin" --cpuid-or "$vm_tmp/bad" 1 0x1 ecx 0x10000
rejects "a guest CPUID with a feature this host lacks" "CPUID leaf 1 ECX has 0x10000 that this host.s KVM cannot provide: bit 16"

end=$(record_offset 0xffff 0)
head -c "$end" "$good" >"$vm_tmp/bad"
"$vmctl_bin" --poke "$vm_tmp/bad" 16 "$end" && "$vmctl_bin" --fix-crc "$vm_tmp/bad"
rejects "a blob without its END record" "no END record"

# Nothing of all that was applied: the VM still has no state and refuses to run.
expect_output "after the rejections the VM is still incoming" "^state incoming$" vm_ctl dst status
expect_output "after the rejections resume is still refused" "no state yet" vm_ctl dst resume

expect "the good blob then restores" vm_ctl dst restore-state <"$good"
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
expect_output "a second restore-state after resume is refused" "incoming VM whose vCPUs never ran" \
	vm_ctl dst restore-state <"$good"
vm_ctl dst quit >/dev/null

finish
