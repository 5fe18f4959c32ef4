/* fault.h: payload guests report their own exceptions (fault.c) instead of triple-faulting. */
#ifndef GUEST_FAULT_H
#define GUEST_FAULT_H

#include <stdint.h>

/* kvmmig-vm's exit status when a payload guest took an exception. */
#define PAYLOAD_FAULT_STATUS 0x7e

/* What entry.S's exception stubs leave on the CPL 0 stack, lowest address first. */
struct fault_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Gives vCPU @cpu its TSS, GDT and the shared IDT; CPL 0 only. */
void fault_setup(uint64_t cpu);
__attribute__((noreturn)) void fault_report(struct fault_frame *f);

#endif
