/* linux.c: boots a bzImage (64-bit boot protocol) with an initramfs, e820 and an MP table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/kvmmig-vm.h"

/*
 * Guest physical layout (Documentation/arch/x86/boot.rst, as Firecracker does it):
 *	0x500	GDT (code 0x8, data 0x10)
 *	0x7000	boot_params ("zero page"), rsi at entry
 *	0x8ff0	initial stack
 *	0x9000	identity page tables for [0, 4 GiB)
 *	0x20000	command line
 *	0x9fc00	MP floating pointer + MP table (the last KB of base memory,
 *		where Linux scans for it); e820 marks it reserved
 *	pref_address (16 MiB on Debian) the protected-mode kernel, entered at +0x200
 *	top of slot 0	the initramfs
 */
#define BOOT_GDT_GPA	0x500
#define BOOT_PARAMS_GPA 0x7000
#define BOOT_STACK_GPA	0x8ff0
#define BOOT_PML4_GPA	0x9000
#define CMDLINE_GPA	0x20000
#define CMDLINE_MAX	4096
#define MPTABLE_GPA	0x9fc00
#define EBDA_END	0xa0000
#define BIOS_ROM_GPA	0xf0000
#define HIGH_MEMORY	0x100000

/* Offsets in the bzImage / boot_params (struct setup_header at 0x1f1). */
#define HDR_SETUP_SECTS	    0x1f1
#define HDR_BOOT_FLAG	    0x1fe
#define HDR_JUMP	    0x200
#define HDR_MAGIC	    0x202
#define HDR_VERSION	    0x206
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS	    0x211
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_HEAP_END_PTR    0x224
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_XLOADFLAGS	    0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE	    0x260
#define BP_E820_ENTRIES	    0x1e8
#define BP_E820_TABLE	    0x2d0
#define E820_MAX_ENTRIES    128

#define LOADFLAGS_LOADED_HIGH  0x01
#define LOADFLAGS_CAN_USE_HEAP 0x80
#define XLF_KERNEL_64	       0x01
#define E820_RAM	       1
#define E820_RESERVED	       2

#define IOAPIC_GPA 0xfec00000u
#define LAPIC_GPA  0xfee00000u

static uint16_t get16(const uint8_t *p, size_t off)
{
	return p[off] | (p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return get16(p, off) | ((uint32_t)get16(p, off + 2) << 16);
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static int read_whole_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			free(buf);
			goto out;
		}
		done += n;
	}
	*out = buf;
	*len = done;
out:
	close(fd);
	return err;
}

static void add_e820(uint8_t *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t n = bp[BP_E820_ENTRIES];
	uint8_t *e = bp + BP_E820_TABLE + n * 20;

	memcpy(e, &addr, 8);
	memcpy(e + 8, &size, 8);
	memcpy(e + 16, &type, 4);
	bp[BP_E820_ENTRIES] = n + 1;
}

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/*
 * An Intel MP 1.4 table: what Linux without ACPI reads to find the vCPUs
 * (their LAPIC IDs are the vCPU indexes) and the IOAPIC, and how ISA IRQs
 * reach it: IRQ n on IOAPIC pin n, as KVM's default routing does.
 */
static int write_mptable(struct vmm_vm *vm)
{
	uint8_t buf[1024] = {0};
	uint8_t *fp = buf, *table = buf + 16, *e = table + 44;
	uint8_t ioapic_id = vm->ncpus;
	uint16_t entries = 0;

	if (16 + 44 + (size_t)vm->ncpus * 20 + 8 + 8 + 16 * 8 + 2 * 8 > sizeof(buf))
		return -E2BIG;
	for (int i = 0; i < vm->ncpus; i++, e += 20, entries++) {
		e[0] = 0; /* processor */
		e[1] = i; /* LAPIC ID */
		e[2] = 0x14;
		e[3] = 0x01 | (i == 0 ? 0x02 : 0); /* enabled, BSP */
		put32(e, 4, 0x600);		   /* family 6 */
		put32(e, 8, 0x201);		   /* FPU, APIC */
	}
	e[0] = 1; /* bus */
	e[1] = 0;
	memcpy(e + 2, "ISA   ", 6);
	e += 8;
	entries++;
	e[0] = 2; /* IOAPIC */
	e[1] = ioapic_id;
	e[2] = 0x11;
	e[3] = 0x01;
	put32(e, 4, IOAPIC_GPA);
	e += 8;
	entries++;
	for (int irq = 0; irq < 16; irq++, e += 8, entries++) {
		e[0] = 3; /* I/O interrupt: INT, conforming polarity and trigger */
		e[1] = 0;
		e[4] = 0; /* ISA bus */
		e[5] = irq;
		e[6] = ioapic_id;
		e[7] = irq;
	}
	e[0] = 4; /* local interrupt: ExtINT on LINT0 of every LAPIC */
	e[1] = 3;
	e[6] = 0xff;
	e[7] = 0;
	e += 8;
	entries++;
	e[0] = 4; /* local interrupt: NMI on LINT1 */
	e[1] = 1;
	e[6] = 0xff;
	e[7] = 1;
	e += 8;
	entries++;

	memcpy(table, "PCMP", 4);
	put16(table, 4, e - table);
	table[6] = 4;
	memcpy(table + 8, "KVMMIG  ", 8);
	memcpy(table + 16, "KVMMIG-VM   ", 12);
	put16(table, 34, entries);
	put32(table, 36, LAPIC_GPA);
	table[7] = mp_checksum(table, e - table);

	memcpy(fp, "_MP_", 4);
	put32(fp, 4, MPTABLE_GPA + 16);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4; /* MP 1.4 */
	fp[10] = mp_checksum(fp, 16);
	return vmm_guest_write(vm, MPTABLE_GPA, buf, e - buf);
}

int linux_load(struct vmm_vm *vm, const char *kernel, const char *initrd, const char *cmdline)
{
	uint8_t *image = NULL, *initrd_data = NULL, *bp = NULL;
	size_t image_len = 0, initrd_len = 0, setup_len, kernel_len, hdr_end;
	uint64_t load_addr, initrd_addr = 0, lowmem_end = vm->slots[0].size;
	uint32_t init_size, initrd_max;
	size_t cmdline_len = cmdline ? strlen(cmdline) : 0;
	int err;

	err = read_whole_file(kernel, &image, &image_len);
	if (err) {
		vmm_log("unable to read kernel %s: %s", kernel, strerror(-err));
		return err;
	}
	err = -EINVAL;
	if (image_len < 0x1000 || get16(image, HDR_BOOT_FLAG) != 0xaa55 ||
	    memcmp(image + HDR_MAGIC, "HdrS", 4)) {
		vmm_log("unable to boot %s: not a bzImage (no boot sector or HdrS header)", kernel);
		goto out;
	}
	if (get16(image, HDR_VERSION) < 0x020c || !(get16(image, HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		vmm_log("unable to boot %s: boot protocol %#x without a 64-bit entry point (need "
			"2.12+ and XLF_KERNEL_64)",
			kernel, get16(image, HDR_VERSION));
		goto out;
	}
	setup_len = ((image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4) + 1) * 512;
	if (setup_len >= image_len) {
		vmm_log("unable to boot %s: truncated bzImage", kernel);
		goto out;
	}
	kernel_len = image_len - setup_len;
	memcpy(&load_addr, image + HDR_PREF_ADDRESS, 8);
	init_size = get32(image, HDR_INIT_SIZE);
	if (load_addr < HIGH_MEMORY || load_addr + init_size > lowmem_end)
		load_addr = HIGH_MEMORY;
	if (load_addr + (init_size > kernel_len ? init_size : kernel_len) > lowmem_end) {
		vmm_log("unable to boot %s: it needs %u MiB from %#llx, the VM has %llu MiB",
			kernel, init_size >> 20, (unsigned long long)load_addr,
			(unsigned long long)(lowmem_end >> 20));
		goto out;
	}
	if (cmdline_len >= CMDLINE_MAX ||
	    cmdline_len >= get32(image, HDR_CMDLINE_SIZE) + (uint32_t)1) {
		vmm_log("unable to pass a %zu-byte command line: the kernel takes %u", cmdline_len,
			get32(image, HDR_CMDLINE_SIZE));
		goto out;
	}

	if (initrd) {
		err = read_whole_file(initrd, &initrd_data, &initrd_len);
		if (err) {
			vmm_log("unable to read initrd %s: %s", initrd, strerror(-err));
			goto out;
		}
		err = -EINVAL;
		initrd_max = get32(image, HDR_INITRD_ADDR_MAX);
		initrd_addr =
		    lowmem_end < (uint64_t)initrd_max + 1 ? lowmem_end : (uint64_t)initrd_max + 1;
		if (initrd_len > initrd_addr) {
			vmm_log("unable to load initrd %s: larger than the memory below %#llx",
				initrd, (unsigned long long)initrd_addr);
			goto out;
		}
		initrd_addr = (initrd_addr - initrd_len) & ~0xfffull;
		if (initrd_addr < load_addr + (init_size > kernel_len ? init_size : kernel_len)) {
			vmm_log(
			    "unable to load initrd %s: %zu bytes do not fit above the kernel in "
			    "%llu MiB",
			    initrd, initrd_len, (unsigned long long)(lowmem_end >> 20));
			goto out;
		}
	}

	/* The zero page: the image's setup header, then what the loader fills in. */
	bp = calloc(1, 4096);
	if (!bp) {
		err = -ENOMEM;
		goto out;
	}
	hdr_end = HDR_JUMP + 2 + image[HDR_JUMP + 1];
	memcpy(bp + HDR_SETUP_SECTS, image + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
	bp[HDR_TYPE_OF_LOADER] = 0xff;
	bp[HDR_LOADFLAGS] |= LOADFLAGS_LOADED_HIGH | LOADFLAGS_CAN_USE_HEAP;
	put16(bp, HDR_HEAP_END_PTR, 0xfe00);
	put32(bp, HDR_CMD_LINE_PTR, CMDLINE_GPA);
	put32(bp, HDR_RAMDISK_IMAGE, initrd_addr);
	put32(bp, HDR_RAMDISK_SIZE, initrd_len);
	add_e820(bp, 0, MPTABLE_GPA, E820_RAM);
	add_e820(bp, MPTABLE_GPA, EBDA_END - MPTABLE_GPA, E820_RESERVED);
	add_e820(bp, BIOS_ROM_GPA, HIGH_MEMORY - BIOS_ROM_GPA, E820_RESERVED);
	add_e820(bp, HIGH_MEMORY, lowmem_end - HIGH_MEMORY, E820_RAM);
	if (vm->nslots > 1)
		add_e820(bp, vm->slots[1].gpa, vm->slots[1].size, E820_RAM);

	err = vmm_guest_write(vm, load_addr, image + setup_len, kernel_len);
	if (!err && initrd)
		err = vmm_guest_write(vm, initrd_addr, initrd_data, initrd_len);
	if (!err)
		err = vmm_guest_write(vm, CMDLINE_GPA, cmdline ? cmdline : "", cmdline_len + 1);
	if (!err)
		err = vmm_guest_write(vm, BOOT_PARAMS_GPA, bp, 4096);
	if (!err)
		err = write_boot_gdt(vm, BOOT_GDT_GPA);
	if (!err)
		err = write_identity_page_tables(vm, BOOT_PML4_GPA);
	if (!err)
		err = write_mptable(vm);
	if (err) {
		vmm_log("unable to lay out the Linux guest in memory: %s", strerror(-err));
		goto out;
	}

	/* vCPU 0 enters the kernel; the others wait for INIT/SIPI in the in-kernel LAPIC. */
	{
		struct kvm_regs regs = {
		    .rip = load_addr + 0x200,
		    .rsi = BOOT_PARAMS_GPA,
		    .rsp = BOOT_STACK_GPA,
		    .rbp = BOOT_STACK_GPA,
		    .rflags = 0x2,
		};

		err = setup_long_mode(&vm->vcpus[0], BOOT_GDT_GPA, BOOT_PML4_GPA);
		if (!err)
			err = vmm_ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs);
		if (err) {
			vmm_log("unable to set up vCPU 0 for the kernel: %s", strerror(-err));
			goto out;
		}
	}
	vmm_debug("kernel %s: %zu bytes at %#llx (init_size %u MiB), initrd %zu bytes at %#llx",
		  kernel, kernel_len, (unsigned long long)load_addr, init_size >> 20, initrd_len,
		  (unsigned long long)initrd_addr);
	err = 0;
out:
	free(image);
	free(initrd_data);
	free(bp);
	return err;
}
