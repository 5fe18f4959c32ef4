/*
 * fault.c: every payload guest reports its own exceptions. The boot GDT
 * (payload_abi.h) has no TSS and there is no IDT, so an exception used to
 * be a silent triple fault, which SVM answers by resetting the vCPU: its
 * registers were lost. Each vCPU now gets a copy of the boot GDT plus a
 * TSS of its own (RSP0: a CPL 0 stack for exceptions from CPL 3), and all
 * share an IDT whose 32 exception gates lead to fault_report(). That says
 * on the console, in one line a vCPU, what happened, where, and what the
 * guest's own page tables say about the faulting address now, then ends
 * the VM with PAYLOAD_FAULT_STATUS.
 */
#include "fault.h"
#include "lib.h"

#define KERNEL_CS  0x08
#define TSS_SEL	   0x30
#define BOOT_GDT_N 5 /* null, code, data, user code, user data */
#define STACK_SIZE 4096

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
	/*
	 * Ports 0-255 allowed (the payload's are 0xe9 and 0xf4), then the
	 * terminating byte. IOPL 3 should make this moot, but a KVM that runs
	 * CPL 3 natively (PVM) checks the bitmap once a TSS is loaded.
	 */
	uint8_t iomap[32 + 1];
} __attribute__((packed));

struct gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* 0x8e: present, DPL 0, 64-bit interrupt gate */
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* Boot entries, then the TSS descriptor (16 bytes) at TSS_SEL. */
static uint64_t gdt[PAYLOAD_MAX_CPUS][BOOT_GDT_N + 3] __attribute__((aligned(16)));
static struct tss tss[PAYLOAD_MAX_CPUS] __attribute__((aligned(128)));
static uint8_t stacks[PAYLOAD_MAX_CPUS][STACK_SIZE] __attribute__((aligned(16)));
static struct gate idt[32] __attribute__((aligned(16)));
static struct line fault_lines[PAYLOAD_MAX_CPUS];

extern const uint64_t fault_stubs[32]; /* entry.S */

void fault_setup(uint64_t cpu)
{
	struct desc_ptr boot, p;
	uint64_t base = (uint64_t)(uintptr_t)&tss[cpu], limit = sizeof(struct tss) - 1;
	uint64_t *g = gdt[cpu];

	__asm__ volatile("sgdt %0" : "=m"(boot));
	memcpy(g, (const void *)(uintptr_t)boot.base, BOOT_GDT_N * 8);
	tss[cpu].rsp[0] = (uint64_t)(uintptr_t)&stacks[cpu][STACK_SIZE];
	tss[cpu].iomap_base = __builtin_offsetof(struct tss, iomap);
	tss[cpu].iomap[32] = 0xff;
	/* 64-bit available TSS (type 9), present, DPL 0. */
	g[TSS_SEL / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
			 ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	g[TSS_SEL / 8 + 1] = base >> 32;

	for (int v = 0; v < 32; v++) {
		uint64_t off = fault_stubs[v];

		idt[v] = (struct gate){.off0 = off & 0xffff, .sel = KERNEL_CS, .type = 0x8e,
				       .off1 = off >> 16 & 0xffff, .off2 = off >> 32};
	}
	p = (struct desc_ptr){.limit = sizeof(gdt[cpu]) - 1, .base = (uint64_t)(uintptr_t)g};
	__asm__ volatile("lgdt %0" : : "m"(p));
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
	p = (struct desc_ptr){.limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(p));
}

static uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Which vCPU this is: the CPL 0 stack in use is its own (fault_setup). */
static uint64_t cpu_index(void)
{
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);

	for (uint64_t c = 0; c < PAYLOAD_MAX_CPUS; c++)
		if (sp >= (uint64_t)(uintptr_t)stacks[c] &&
		    sp < (uint64_t)(uintptr_t)stacks[c] + STACK_SIZE)
			return c;
	return 0;
}

static void field(struct line *l, const char *name, uint64_t v)
{
	line_str(l, " ");
	line_str(l, name);
	line_str(l, " ");
	line_hex(l, v);
}

/* The identity map: a guest-physical table address is its virtual address. */
static uint64_t entry_at(uint64_t table, uint64_t index)
{
	return ((volatile uint64_t *)(uintptr_t)(table & 0x000ffffffffff000ull))[index];
}

__attribute__((noreturn)) void fault_report(struct fault_frame *f)
{
	uint64_t cpu = cpu_index();
	struct line *l = &fault_lines[cpu];
	uint64_t cr2 = read_cr2(), cr3 = read_cr3(), va = f->vector == 14 ? cr2 : f->rip;
	uint64_t pml4e = entry_at(cr3, va >> 39 & 511), pdpte = 0, pde = 0;

	if (pml4e & 1)
		pdpte = entry_at(pml4e, va >> 30 & 511);
	if (pdpte & 1)
		pde = entry_at(pdpte, va >> 21 & 511);

	line_str(l, "FAULT cpu ");
	line_u64(l, cpu);
	line_str(l, " vector ");
	line_u64(l, f->vector);
	field(l, "error", f->error);
	field(l, "rip", f->rip);
	field(l, "cs", f->cs);
	field(l, "rflags", f->rflags);
	field(l, "rsp", f->rsp);
	field(l, "cr2", cr2);
	field(l, "cr3", cr3);
	line_send(l);
	line_str(l, "FAULT page walk of");
	field(l, "va", va);
	field(l, "pml4e", pml4e);
	field(l, "pdpte", pdpte);
	field(l, "pde", pde);
	line_str(l, " code");
	for (int i = 0; i < 8; i++) {
		line_str(l, " ");
		line_hex(l, ((volatile uint8_t *)(uintptr_t)f->rip)[i]);
	}
	line_send(l);
	line_str(l, "FAULT registers");
	field(l, "rax", f->rax);
	field(l, "rbx", f->rbx);
	field(l, "rcx", f->rcx);
	field(l, "rdx", f->rdx);
	field(l, "rsi", f->rsi);
	field(l, "rdi", f->rdi);
	field(l, "rbp", f->rbp);
	line_send(l);
	guest_exit(PAYLOAD_FAULT_STATUS);
}
