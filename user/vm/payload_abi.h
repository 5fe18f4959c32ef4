/* payload_abi.h: how kvmmig-vm enters a 64-bit payload guest, and the I/O ports it offers it. */
#ifndef KVMMIG_PAYLOAD_ABI_H
#define KVMMIG_PAYLOAD_ABI_H

/*
 * Shared by kvmmig-vm and the test guests in tests/guests/ (freestanding:
 * this header uses no library). A payload is a flat binary loaded at
 * PAYLOAD_LOAD_GPA and entered there in 64-bit long mode on every vCPU at
 * once:
 *	rip = PAYLOAD_LOAD_GPA
 *	rdi = PAYLOAD_BOOT_INFO_GPA (struct payload_boot_info)
 *	rsi = vCPU index (0 .. ncpus-1)
 *	rsp = PAYLOAD_STACK_TOP(index), 16-byte aligned
 *	rflags = 0x2 (interrupts off), CR0 PE|MP|ET|NE|WP|PG, CR4 PAE|OSFXSR|
 *	OSXMMEXCPT, EFER LME|LMA|SCE|NX, CS 0x8 (64-bit code), DS/ES/SS/FS/GS 0x10.
 *	The GDT also has user segments, 0x1b (64-bit code) and 0x23 (data),
 *	DPL 3, for payloads that drop to CPL 3 (see below).
 *	Paging: [0, 4 GiB) identity-mapped with 2 MiB pages, RWX and user-
 *	accessible (memory beyond the guest's RAM faults as MMIO).
 *	No IDT: an exception ends the VM (triple fault).
 * Why CPL 3: on KVM implementations without hardware virtualization (PVM,
 * as on our development machines) supervisor code of a guest that is not
 * PVM-aware is emulated one instruction at a time (about 1 us each), while
 * CPL 3 code runs natively. A payload that iretq's to CPL 3 with IOPL 3
 * keeps port I/O and runs fast everywhere (tests/guests/entry.S does).
 * The in-kernel irqchip and PIT exist but nothing is wired to the payload:
 * with interrupts off they are inert. Memory is zero except what the VMM
 * put there.
 *
 * Guest physical layout the VMM sets up (the rest of RAM is the guest's):
 *	0x1000	GDT
 *	0x2000	page tables: PML4, 0x3000 PDPT, 0x4000-0x7fff four PDs
 *	0x8000	struct payload_boot_info, then the command line
 *	0x10000	stacks, PAYLOAD_STACK_SIZE each, downwards from 0x90000
 *	0x100000 the payload binary (at most PAYLOAD_MAX_SIZE bytes)
 */
#define PAYLOAD_GDT_GPA	       0x1000
#define PAYLOAD_PML4_GPA       0x2000
#define PAYLOAD_PDPT_GPA       0x3000
#define PAYLOAD_PD_GPA	       0x4000
#define PAYLOAD_BOOT_INFO_GPA  0x8000
#define PAYLOAD_CMDLINE_GPA    0x8100
#define PAYLOAD_CMDLINE_MAX    3840
#define PAYLOAD_STACK_SIZE     0x4000
#define PAYLOAD_STACK_TOP(cpu) (0x90000 - (cpu)*PAYLOAD_STACK_SIZE)
#define PAYLOAD_MAX_CPUS       32
#define PAYLOAD_LOAD_GPA       0x100000
#define PAYLOAD_MAX_SIZE       0x100000
#define PAYLOAD_MIN_MEM	       (16u << 20)

#define PAYLOAD_BOOT_MAGIC   0x544f4f42474d564bull /* "KVMGBOOT" */
#define PAYLOAD_BOOT_VERSION 1

struct payload_boot_info {
	unsigned long long magic;
	unsigned int version;
	unsigned int ncpus;
	unsigned long long mem_bytes;	/* RAM size (all slots) */
	unsigned long long lowmem_end;	/* RAM at [0, lowmem_end) */
	unsigned long long tsc_khz;	/* 0 if unknown */
	unsigned long long cmdline_gpa; /* NUL-terminated --append text */
	unsigned int cmdline_len;	/* without the NUL */
	unsigned int reserved;
};

/*
 * Ports the VMM offers every guest:
 *	PAYLOAD_PORT_CONSOLE (0xe9, the Bochs/QEMU debug console): bytes
 *		written go to the console, line by line per vCPU (a line is
 *		never interleaved with another vCPU's). rep outsb works and
 *		costs one exit per line.
 *	PAYLOAD_PORT_EXIT (0xf4, as QEMU's isa-debug-exit): a 32-bit write of
 *		N ends the VM; kvmmig-vm exits with status N & 0xff.
 */
#define PAYLOAD_PORT_CONSOLE 0xe9
#define PAYLOAD_PORT_EXIT    0xf4

#endif /* KVMMIG_PAYLOAD_ABI_H */
