#!/bin/bash
# flight.sh: the flight recorder's verdicts (tests/flight.sh) on trace lines of real deaths.
# A guest that could not fetch the instruction it was executing at its exit before (a
# not-present instruction-fetch #PF at the same RIP) is named the emulator's only when its
# memory is known not to be the cause: a booting guest no session touched, a payload whose
# VMM's post mortem found its page tables and GDT intact (the same fault at the instruction
# after one KVM emulated at an MMIO exit, too). Nothing else is set aside.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/flight.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flight=$tmp # the recorder's instance directory, frozen
echo 0 >"$tmp/tracing_on"
host_text() { return 1; } # no guest RIP below is host text
# As the recorder writes them with record-tgid: thread, then its process (the VMM, pid 317).
ev() { printf '           vcpu0-%-7s (    317) [001] d..2.  %s: %s\n' "$@"; }
# Run 4 of issue 19's loop: a migrated payload, NPF exits on fresh pages at 0x100b52, then the
# shutdown (EXITINTINFO 0x80000b0e: #PF; error 0x14: instruction fetch, user, not present).
npf() { ev 322 "$1" "kvm_exit: vcpu 0 reason npf rip 0x100b52 info1 0x0000000100000004 info2 0x00000000012e$2000 intr_info 0x00000000 error_code 0x00000000"; }
death() { # ERROR-CODE [PREVIOUS-RIP]
	{
		ev 300 100.0 "kvm_exit: vcpu 1 reason io rip 0x100321 info1 0x00e90000 info2 0x0 intr_info 0x00000000 error_code 0x00000000"
		npf 100.1 a
		npf 100.2 b
		ev 322 100.3 "kvm_page_fault: vcpu 0 rip ${2:-0x100b52} address 0x00000000012ec000 error_code 0x100000004"
		ev 322 100.3 "kvm_exit: vcpu 0 reason npf rip ${2:-0x100b52} info1 0x0000000100000004 info2 0x00000000012ec000 intr_info 0x00000000 error_code 0x00000000"
		ev 322 100.4 "kvm_exit: vcpu 0 reason shutdown rip 0x100b52 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000b0e error_code $1"
	} >"$tmp/trace"
}
named='could not fetch the instruction at 0x100b52 it was executing at its exit before, .*a fault of the emulator'

death 0x00000014
expect_output "a payload with intact tables that lost its own code: the emulator's, the reason said" \
	"$named" emulator_verdict intact
expect_output "the reason is the post mortem's" "its page tables and GDT in memory intact" emulator_verdict intact
expect_output "a booting guest of the same shape: the emulator's" "no migration session had touched it: a fault of the emulator" emulator_verdict boot
expect_output "and a restored guest whose VMM writes none of its memory: the emulator's" "a restored guest whose VMM writes none of its memory .*: a fault of the emulator" emulator_verdict restored
expect "without either, a module test's death is not set aside" test -z "$(emulator_verdict)"
expect_output "with the dead VMM's pid, the verdict is that VMM's" "$named" emulator_verdict intact 317
expect "a death of another VMM is not read in this one's trace" test -z "$(emulator_verdict intact 999)"
expect_output "nor are its events shown as this one's" "no KVM events of its own: .*another VMM \(pid 317\)" flight_detail 16 999
expect_output "the dead VMM's own events are shown" "last KVM events of the vCPU thread 322: .*reason shutdown rip 0x100b52" flight_detail 16 317
death 0x00000004
expect "a data access #PF is not that shape" test -z "$(emulator_verdict intact)"
death 0x00000015
expect "nor a fetch that found the page present (a protection fault)" test -z "$(emulator_verdict intact)"
death 0x00000014 0x100a00
expect "nor one whose exit before was at another RIP" test -z "$(emulator_verdict intact)"

# The instruction after one KVM emulated at an MMIO exit (the shape of a QEMU guest's death
# in CI, December 2026: an MMIO exit at 0x822c008d, then a not-present fetch at the next).
mmio_death() { # SHUTDOWN-RIP
	{
		ev 445 200.1 "kvm_exit: vcpu 0 reason npf rip 0xffffffff822c008d info1 0x000000010000000e info2 0x00000000febfb000 intr_info 0x00000025 error_code 0x00000000"
		ev 445 200.1 "kvm_page_fault: vcpu 0 rip 0xffffffff822c008d address 0x00000000febfb000 error_code 0x10000000e"
		ev 445 200.2 "kvm_exit: vcpu 0 reason shutdown rip $1 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000b0e error_code 0x00000010"
	} >"$tmp/trace"
}
mmio_death 0xffffffff822c0090
expect_output "a payload with intact tables that lost the instruction after the one KVM emulated: the emulator's" \
	"right after the one at 0xffffffff822c008d KVM emulated .*page tables and GDT in memory intact.*: a fault of the emulator" emulator_verdict intact 317
expect "the same death without intact tables or a mode (a QEMU guest: its devices write its memory) is not set aside" test -z "$(emulator_verdict)"
expect_output "the same death of a QEMU guest at a migration's source: the emulator's, with the control run named" \
	"a QEMU guest at a migration's source, which kvmmig only reads, lost the same way without kvmmig .*qemu-cancel-loop.sh.*: a fault of the emulator" emulator_verdict qemu-source 317
expect_output "and of any guest at a migration's source, whose memory kvmmig only reads: the emulator's" \
	"a guest at a migration's source, whose memory kvmmig.ko only reads .*: a fault of the emulator" emulator_verdict source 317
expect "but not another VMM's death, read in this one's trace" test -z "$(emulator_verdict source 999)"
mmio_death 0xffffffff822c00a0
expect "nor a fetch more than one instruction (15 bytes) further" test -z "$(emulator_verdict intact)"
mmio_death 0xffffffff822c1002
expect "nor one on another page" test -z "$(emulator_verdict intact)"

# The instruction after a WRMSR KVM carried out (qemu.sh's good hop source under QEMU 7.2, CI,
# December 2026: the TSC-deadline write at 0xffffffff8c89d6e8, then a not-present fetch at the
# next instruction, two bytes on).
step_death() { # REASON-OF-THE-EXIT-BEFORE
	{
		ev 340 400.0 "kvm_inj_virq: IRQ 0xec"
		ev 340 400.1 "kvm_exit: vcpu 0 reason $1 rip 0xffffffff8c89d6e8 info1 0x0000000000000001 info2 0x0000000000000000 intr_info 0x000000ec error_code 0x00000000"
		ev 340 400.2 "kvm_exit: vcpu 0 reason shutdown rip 0xffffffff8c89d6ea info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x80000b0e error_code 0x00000010"
	} >"$tmp/trace"
}
step_death msr
expect_output "a QEMU source guest that lost the instruction after a WRMSR KVM carried out: the emulator's" \
	"right after the one at 0xffffffff8c89d6e8 KVM emulated .*qemu-cancel-loop.sh.*: a fault of the emulator" emulator_verdict qemu-source 317
step_death io
expect_output "the same after an OUT KVM carried out" "right after the one at 0xffffffff8c89d6e8" emulator_verdict qemu-source 317
step_death interrupt
expect "but not after an interrupt exit, whose instruction did not complete" test -z "$(emulator_verdict qemu-source 317)"

# A QEMU guest at the fault sequence's source (qemu.sh under QEMU 7.2, CI, December 2026):
# interrupts delivered from user RIP 0x401618 (their handlers ran), then IRQ 0x28 at the
# same RIP a triple fault (EXITINTINFO 0x80000028: an external interrupt being delivered).
irq_death() { # SHUTDOWN-INTR-INFO [SHUTDOWN-RIP] [FIRST-HANDLER-RIP]
	{
		ev 508 300.0 "kvm_exit: vcpu 0 reason interrupt rip 0x401618 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000"
		ev 508 300.0 "kvm_inj_virq: IRQ 0xec"
		ev 508 300.1 "kvm_exit: vcpu 0 reason interrupt rip ${3:-0xffffffff9589b8b6} info1 0x0 info2 0x0 intr_info 0x000000ec error_code 0x00000000"
		ev 508 300.2 "kvm_exit: vcpu 0 reason interrupt rip 0x401618 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000"
		ev 508 300.2 "kvm_inj_virq: IRQ 0x28"
		ev 508 300.3 "kvm_exit: vcpu 0 reason shutdown rip ${2:-0x401618} info1 0x0 info2 0x0 intr_info $1 error_code 0x00000000"
	} >"$tmp/trace"
}
irq_death 0x80000028
expect_output "a guest that died as an interrupt was delivered where the last one had been: the emulator's" \
	"died as KVM delivered interrupt 0x28 at 0x401618, .*a QEMU guest at a migration's source.*: a fault of the emulator" \
	emulator_verdict qemu-source 317
expect "the same death without a mode is not set aside" test -z "$(emulator_verdict)"
irq_death 0x80000028 0x401620
expect "nor one at another RIP than its exit before (an instruction completed)" test -z "$(emulator_verdict qemu-source 317)"
irq_death 0x80000028 0x401618 0x401618
expect "nor one with no earlier delivery seen to work (its handler never ran)" test -z "$(emulator_verdict qemu-source 317)"
irq_death 0x80000b0d
expect "nor an exception being delivered (a #GP: the guest's own doing)" test -z "$(emulator_verdict qemu-source 317)"
irq_death 0x80000002
expect "nor an NMI-range vector" test -z "$(emulator_verdict qemu-source 317)"

# A QEMU guest at a good hop's destination (qemu10.sh, CI, December 2026): NPF exits on fresh
# pages at 0x4016ca, then a #PF with error code 0x1c (fetch, user, RSVD, not present).
death 0x0000001c 0x100b52
expect_output "a page fault no walk produces (reserved bit without present): the emulator's, even at a destination" \
	"error code 0x0000001c, reserved bit without present.*: a fault of the emulator" emulator_verdict
expect_output "and in a VMM's own verdict" "reserved bit without present" emulator_verdict "" 317
expect "but not another VMM's" test -z "$(emulator_verdict "" 999)"
death 0x0000001d
expect "a reserved-bit fault with present set (a real walk's) is not set aside" test -z "$(emulator_verdict)"
death 0x00000014
expect "nor a plain not-present fetch at a destination" test -z "$(emulator_verdict)"

# miglib.sh's reading of the post mortem (user/vm/payload.c's words).
. /dev/stdin <<<"$(sed -n '/^tables_intact()/,/^}/p' tests/kmod/miglib.sh)"
cat >"$tmp/intact.err" <<'ERR'
kvmmig-vm: post mortem: the payload's page tables (0x2000-0x7fff): intact, 0 of 3072 entries differ
kvmmig-vm: post mortem: the boot GDT: intact
ERR
sed 's/intact, 0 of/1 of/' "$tmp/intact.err" >"$tmp/changed.err"
expect "tables_intact reads an intact post mortem" tables_intact "$tmp/intact.err"
not() { ! "$@"; }
expect "and not one that found an entry changed" not tables_intact "$tmp/changed.err"
# fail() with the verdict in a module script (miglib.sh, bglib.sh): it stops
# there (tests/retry.sh runs it again); any other failure, or another script, goes on.
stops() { bash -c '. tests/lib.sh; STOP_AT_EMULATOR_FAULT='"$1"'; fail x "'"$2"'" >/dev/null; echo went on'; }
expect "a module script stops at a failure the emulator caused" test -z "$(stops 1 'lost: a fault of the emulator (QEMU TCG)')"
expect "but goes on after any other failure" test "$(stops 1 'the digests differ')" = "went on"
expect "and a script that did not ask goes on after either" test "$(stops 0 'lost: a fault of the emulator (QEMU TCG)')" = "went on"
finish
