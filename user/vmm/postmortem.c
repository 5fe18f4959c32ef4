/*
 * postmortem.c: what the VMM can still say about a guest that triple-faulted.
 *
 * On AMD, KVM answers a SHUTDOWN intercept by resetting the vCPU (the VMCB
 * is undefined after it), so the registers of a triple fault are gone by
 * the time KVM_RUN returns. The vCPU's state is therefore sampled at exits
 * the VMM handles anyway (port I/O, MMIO), at most every SAMPLE_MS, and
 * after a triple fault the VMM reports that last state, walks the guest's
 * page tables in memory for its RIP and its #PF and #DF gates, and lets
 * the VMM's loader check what it put in memory itself (payload.c: the
 * boot page tables). The point is one question: was the guest's memory
 * what its CPU needed (then the CPU went wrong), or not (then something
 * wrote it)?
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vmm/vmm.h"

#define SAMPLE_MS 100
#define PTE_P	  (1ull << 0)
#define PTE_PS	  (1ull << 7)
#define PTE_ADDR  0x000ffffffffff000ull
#define CR4_LA57  (1ull << 12)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

void vmm_vcpu_sample(struct vmm_vcpu *vcpu)
{
	const struct vmm_vcpu_sample *s = &vcpu->last_seen;

	if (!s->valid || now_ms() - s->at_ms >= SAMPLE_MS)
		vmm_vcpu_sample_now(vcpu);
}

void vmm_vcpu_sample_now(struct vmm_vcpu *vcpu)
{
	struct vmm_vcpu_sample *s = &vcpu->last_seen;
	uint64_t now = now_ms();
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &s->sregs) < 0)
		return;
	s->rip = regs.rip;
	s->rsp = regs.rsp;
	s->at_ms = now;
	s->valid = true;
}

/* Appends to @buf the 4-level walk of @va under @cr3; returns the GPA, or -1 if none. */
static int64_t walk(struct vmm_vm *vm, uint64_t cr3, uint64_t va, char *buf, size_t len)
{
	static const char *const names[] = {"pml4e", "pdpte", "pde", "pte"};
	uint64_t table = cr3 & PTE_ADDR;
	size_t n = strlen(buf);

	for (int level = 0; level < 4; level++) {
		int shift = 39 - 9 * level;
		uint64_t *e = vmm_gpa_to_hva(vm, table + ((va >> shift) & 511) * 8, 8);

		if (!e) {
			snprintf(buf + n, len - n, " table 0x%llx outside RAM",
				 (unsigned long long)table);
			return -1;
		}
		n += snprintf(buf + n, len - n, " %s 0x%llx", names[level],
			      (unsigned long long)*e);
		if (n >= len)
			return -1;
		if (!(*e & PTE_P)) {
			snprintf(buf + n, len - n, " NOT PRESENT");
			return -1;
		}
		if (level == 3 || (level > 0 && (*e & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;
			int64_t gpa = (*e & PTE_ADDR & ~mask) | (va & mask);

			snprintf(buf + n, len - n, " -> 0x%llx", (unsigned long long)gpa);
			return gpa;
		}
		table = *e & PTE_ADDR;
	}
	return -1;
}

/* "gate V -> HANDLER: walk" for IDT vector @v, into @buf. */
static void gate_walk(struct vmm_vm *vm, const struct kvm_sregs *sr, int v, char *buf, size_t len)
{
	uint64_t *gate = NULL;
	int64_t gpa;

	snprintf(buf, len, "gate %d:", v);
	if (v * 16 + 15 > sr->idt.limit) {
		snprintf(buf, len, "gate %d: beyond the IDT's limit 0x%x", v, sr->idt.limit);
		return;
	}
	gpa = walk(vm, sr->cr3, sr->idt.base + v * 16, buf, len);
	if (gpa >= 0 && (gpa & 0xfff) <= 0x1000 - 16)
		gate = vmm_gpa_to_hva(vm, gpa, 16);
	if (gate) {
		uint64_t handler = (gate[0] & 0xffff) | ((gate[0] >> 48) << 16) |
				   ((gate[1] & 0xffffffff) << 32);
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, "; handler 0x%llx%s:", (unsigned long long)handler,
			 gate[0] & (1ull << 47) ? "" : " (gate NOT PRESENT)");
		walk(vm, sr->cr3, handler, buf, len);
	}
}

void vmm_vcpu_post_mortem(struct vmm_vcpu *vcpu)
{
	const struct vmm_vcpu_sample *s = &vcpu->last_seen;
	const struct kvm_sregs *sr = &s->sregs;
	struct vmm_vm *vm = vcpu->vm;
	char buf[512] = "";
	int64_t gpa;

	if (vm->exit_ops && vm->exit_ops->post_mortem)
		vm->exit_ops->post_mortem(vm);
	if (!s->valid) {
		vmm_log("vCPU %d: post mortem: no exit sampled its state before", vcpu->index);
		return;
	}
	vmm_log("vCPU %d: post mortem: state last seen %llu ms before (an exit or its restore): rip 0x%llx "
		"rsp 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx idt 0x%llx/0x%x "
		"gdt 0x%llx/0x%x tr 0x%llx",
		vcpu->index, (unsigned long long)(now_ms() - s->at_ms),
		(unsigned long long)s->rip, (unsigned long long)s->rsp,
		(unsigned long long)sr->cr0, (unsigned long long)sr->cr3,
		(unsigned long long)sr->cr4, (unsigned long long)sr->efer,
		(unsigned long long)sr->idt.base, sr->idt.limit, (unsigned long long)sr->gdt.base,
		sr->gdt.limit, (unsigned long long)sr->tr.base);
	if (!(sr->cr0 & (1ull << 31)) || !(sr->efer & (1ull << 10)) || (sr->cr4 & CR4_LA57)) {
		vmm_log("vCPU %d: post mortem: not in 4-level long mode then: no page walk",
			vcpu->index);
		return;
	}
	gpa = walk(vm, sr->cr3, s->rip, buf, sizeof(buf));
	if (gpa >= 0) {
		const uint8_t *code = vmm_gpa_to_hva(vm, gpa, 8);
		size_t n = strlen(buf);

		for (int i = 0; code && i < 8 && (gpa & 0xfff) + i < 0x1000; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%s%02x", i ? " " : "; code ", code[i]);
	}
	vmm_log("vCPU %d: post mortem: page walk of that rip in memory now:%s", vcpu->index, buf);
	gate_walk(vm, sr, 14, buf, sizeof(buf));
	vmm_log("vCPU %d: post mortem: #PF %s", vcpu->index, buf);
	gate_walk(vm, sr, 8, buf, sizeof(buf));
	vmm_log("vCPU %d: post mortem: #DF %s", vcpu->index, buf);
}
