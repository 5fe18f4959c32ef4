/* entry.S: the entry point of payload guests: kvmmig-vm starts every vCPU here in long mode. */

/*
 * rdi = struct payload_boot_info *, rsi = vCPU index, rsp = this vCPU's
 * stack, CPL 0. Drop to CPL 3 with IOPL 3 at once (user segments of the
 * VMM's GDT, user-accessible identity map): port I/O still works, and on
 * PVM hosts CPL 3 runs natively where CPL 0 is emulated (payload_abi.h).
 * Interrupts stay off. First fault_setup() gives this vCPU a TSS and the
 * exception gates: an exception is reported (fault.c), not a triple fault.
 */
#define USER_CS 0x1b
#define USER_DS 0x23
#define RFLAGS_IOPL3 0x3002

	.section .text.entry, "ax"
	.globl _start
_start:
	push %rdi
	push %rsi
	mov %rsi, %rdi
	call fault_setup
	pop %rsi
	pop %rdi
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

/*
 * Exception stubs: push a zero where the CPU pushes no error code, then the
 * vector, then every general register, and hand the frame (struct
 * fault_frame) to fault_report(), which does not return. The CPU aligned
 * the stack to 16 bytes; 22 quadwords keep it so for the call.
 */
.macro stub vector
fault_stub_\vector:
	.if !(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30)
	pushq $0
	.endif
	pushq $\vector
	jmp fault_common
.endm

	.text
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

fault_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call fault_report
1:	hlt
	jmp 1b

	.section .rodata
	.globl fault_stubs
	.balign 8
fault_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad fault_stub_\v
	.endr

	.section .note.GNU-stack, "", @progbits
