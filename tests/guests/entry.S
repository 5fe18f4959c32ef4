/* entry.S: the entry point of payload guests: kvmmig-vm starts every vCPU here in long mode. */

/*
 * rdi = struct payload_boot_info *, rsi = vCPU index, rsp = this vCPU's
 * stack, CPL 0. Drop to CPL 3 with IOPL 3 at once (user segments of the
 * VMM's GDT, user-accessible identity map): port I/O still works, and on
 * PVM hosts CPL 3 runs natively where CPL 0 is emulated (payload_abi.h).
 * Interrupts stay off; with no IDT or TSS nothing may fault from here on.
 */
#define USER_CS 0x1b
#define USER_DS 0x23
#define RFLAGS_IOPL3 0x3002

	.section .text.entry, "ax"
	.globl _start
_start:
	mov %rsp, %rax
	pushq $USER_DS
	pushq %rax
	pushq $RFLAGS_IOPL3
	pushq $USER_CS
	lea user_entry(%rip), %rax
	pushq %rax
	iretq
user_entry:
	mov $USER_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	call payload_main
1:	pause
	jmp 1b

	.section .note.GNU-stack, "", @progbits
