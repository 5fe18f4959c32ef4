/* payload.c: loads a flat 64-bit payload binary and enters it in long mode on every vCPU. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/kvmmig-vm.h"
#include "vm/payload_abi.h"

#define CR0_PE	       (1ull << 0)
#define CR0_MP	       (1ull << 1)
#define CR0_ET	       (1ull << 4)
#define CR0_NE	       (1ull << 5)
#define CR0_WP	       (1ull << 16)
#define CR0_PG	       (1ull << 31)
#define CR4_PAE	       (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_SCE       (1ull << 0)
#define EFER_LME       (1ull << 8)
#define EFER_LMA       (1ull << 10)
#define EFER_NX	       (1ull << 11)

#define PTE_PRESENT (1ull << 0)
#define PTE_RW	    (1ull << 1)
#define PTE_USER    (1ull << 2)
#define PTE_ACCESSED (1ull << 5)
#define PTE_DIRTY    (1ull << 6)
#define PTE_PS	    (1ull << 7)
#define GDT_ACCESSED (1ull << 40)

#define GDT_CODE64	0x00af9b000000ffffull
#define GDT_DATA	0x00cf93000000ffffull
#define GDT_USER_CODE64 0x00affb000000ffffull
#define GDT_USER_DATA	0x00cff3000000ffffull

static const uint64_t boot_gdt[] = {0, GDT_CODE64, GDT_DATA, GDT_USER_CODE64, GDT_USER_DATA};

int write_boot_gdt(struct vmm_vm *vm, uint64_t gdt)
{
	return vmm_guest_write(vm, gdt, boot_gdt, sizeof(boot_gdt));
}

/* The identity map's six tables (PML4, PDPT, four PDs), as they sit from @pml4_gpa on. */
#define IDENTITY_TABLES 6
static void identity_tables(uint64_t pml4_gpa, uint64_t t[IDENTITY_TABLES][512])
{
	uint64_t pdpt_gpa = pml4_gpa + 0x1000, pd_gpa = pml4_gpa + 0x2000;

	memset(t, 0, IDENTITY_TABLES * 512 * sizeof(uint64_t));
	t[0][0] = pdpt_gpa | PTE_PRESENT | PTE_RW | PTE_USER;
	for (int i = 0; i < 4; i++) {
		t[1][i] = (pd_gpa + i * 0x1000ull) | PTE_PRESENT | PTE_RW | PTE_USER;
		for (int j = 0; j < 512; j++)
			t[2 + i][j] = ((uint64_t)i << 30) + ((uint64_t)j << 21) +
				      (PTE_PRESENT | PTE_RW | PTE_USER | PTE_PS);
	}
}

int write_identity_page_tables(struct vmm_vm *vm, uint64_t pml4_gpa)
{
	static uint64_t t[IDENTITY_TABLES][512];

	identity_tables(pml4_gpa, t);
	return vmm_guest_write(vm, pml4_gpa, t, sizeof(t));
}

/*
 * The payload this process loaded, kept for its post mortem: the page
 * tables and GDT in guest memory must still be what payload_load() wrote
 * (no payload changes them) and its code what the file holds.
 */
static uint8_t *loaded_image;
static size_t loaded_len;

/*
 * How many 8-byte words of guest memory at @gpa differ from @want in other
 * bits than @ignore; the first one into @first.
 */
static size_t words_differ(struct vmm_vm *vm, uint64_t gpa, const uint64_t *want, size_t n,
			   uint64_t ignore, char *first, size_t len)
{
	const uint64_t *have = vmm_gpa_to_hva(vm, gpa, n * 8);
	size_t diff = 0;

	if (!have) {
		snprintf(first, len, "0x%llx is outside RAM", (unsigned long long)gpa);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((have[i] ^ want[i]) & ~ignore))
			continue;
		if (!diff++)
			snprintf(first, len, "at 0x%llx: 0x%llx where the VMM wrote 0x%llx",
				 (unsigned long long)(gpa + i * 8), (unsigned long long)have[i],
				 (unsigned long long)want[i]);
	}
	return diff;
}

/* A payload guest restored or migrated here: its boot information is in memory. */
static bool runs_a_payload(struct vmm_vm *vm)
{
	const struct payload_boot_info *info =
	    vmm_gpa_to_hva(vm, PAYLOAD_BOOT_INFO_GPA, sizeof(*info));

	return loaded_image || (info && info->magic == PAYLOAD_BOOT_MAGIC);
}

void payload_post_mortem(struct vmm_vm *vm)
{
	static uint64_t t[IDENTITY_TABLES][512];
	char first[128] = "", pages[160] = "";
	size_t diff, npages = 0, n = 0;

	if (!runs_a_payload(vm))
		return;
	identity_tables(PAYLOAD_PML4_GPA, t);
	/* The CPU sets Accessed and Dirty in the entries it walks. */
	diff = words_differ(vm, PAYLOAD_PML4_GPA, &t[0][0], IDENTITY_TABLES * 512,
			    PTE_ACCESSED | PTE_DIRTY, first, sizeof(first));
	vmm_log("post mortem: the payload's page tables (0x%x-0x%x): %s%zu of %d entries differ%s%s",
		PAYLOAD_PML4_GPA, PAYLOAD_PML4_GPA + IDENTITY_TABLES * 0x1000 - 1,
		diff ? "" : "intact, ", diff, IDENTITY_TABLES * 512, diff ? ", first " : "",
		first);
	/* ... and Accessed in the descriptors it loads. */
	diff = words_differ(vm, PAYLOAD_GDT_GPA, boot_gdt, 5, GDT_ACCESSED, first, sizeof(first));
	vmm_log("post mortem: the boot GDT: %s", diff ? first : "intact");
	if (!loaded_image) {
		vmm_log("post mortem: the payload image: not known here (the guest came by restore "
			"or migration)");
		return;
	}
	for (size_t off = 0; off < loaded_len; off += 0x1000) {
		size_t len = loaded_len - off < 0x1000 ? loaded_len - off : 0x1000;
		const uint8_t *have = vmm_gpa_to_hva(vm, PAYLOAD_LOAD_GPA + off, len);

		if (have && !memcmp(have, loaded_image + off, len))
			continue;
		npages++;
		if (n < sizeof(pages) - 16)
			n += snprintf(pages + n, sizeof(pages) - n, " +0x%zx", off);
	}
	vmm_log("post mortem: the payload image (%zu pages at 0x%x): %zu pages differ from the "
		"file (its data and bss live there too)%s",
		(loaded_len + 0xfff) / 0x1000, PAYLOAD_LOAD_GPA, npages, pages);
}

int setup_long_mode(struct vmm_vcpu *vcpu, uint64_t gdt, uint64_t cr3)
{
	struct kvm_segment code = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = 0x8,
				   .type = 11,
				   .present = 1,
				   .s = 1,
				   .l = 1,
				   .g = 1};
	struct kvm_segment data = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = 0x10,
				   .type = 3,
				   .present = 1,
				   .s = 1,
				   .db = 1,
				   .g = 1};
	struct kvm_sregs sregs;
	int err;

	err = vmm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs);
	if (err)
		return err;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = gdt;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.cr3 = cr3;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NX;
	err = vmm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs);
	return err < 0 ? err : 0;
}

static int read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		err = -EFBIG;
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
	*out_len = done;
out:
	close(fd);
	return err;
}

int payload_load(struct vmm_vm *vm, const char *path, const char *cmdline)
{
	struct payload_boot_info info = {
	    .magic = PAYLOAD_BOOT_MAGIC,
	    .version = PAYLOAD_BOOT_VERSION,
	    .ncpus = vm->ncpus,
	    .mem_bytes = vm->mem_bytes,
	    .lowmem_end = vm->slots[0].size,
	    .cmdline_gpa = PAYLOAD_CMDLINE_GPA,
	};
	size_t cmdline_len = cmdline ? strlen(cmdline) : 0;
	uint8_t *image = NULL;
	size_t len = 0;
	int err, tsc_khz;

	if (vm->mem_bytes < PAYLOAD_MIN_MEM) {
		vmm_log("unable to run payload %s: it needs at least %u MiB of memory", path,
			PAYLOAD_MIN_MEM >> 20);
		return -EINVAL;
	}
	if (vm->ncpus > PAYLOAD_MAX_CPUS) {
		vmm_log("unable to run payload %s: at most %d vCPUs", path, PAYLOAD_MAX_CPUS);
		return -EINVAL;
	}
	if (cmdline_len > PAYLOAD_CMDLINE_MAX - 1) {
		vmm_log("unable to pass --append to the payload: longer than %d bytes",
			PAYLOAD_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	err = read_file(path, PAYLOAD_MAX_SIZE, &image, &len);
	if (err) {
		vmm_log("unable to read payload %s: %s", path,
			err == -EFBIG ? "larger than 1 MiB" : strerror(-err));
		return err;
	}
	err = vmm_guest_write(vm, PAYLOAD_LOAD_GPA, image, len);
	if (err) {
		free(image);
		return err;
	}
	free(loaded_image);
	loaded_image = image;
	loaded_len = len;

	tsc_khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	info.tsc_khz = tsc_khz > 0 ? tsc_khz : 0;
	info.cmdline_len = cmdline_len;
	err = vmm_guest_write(vm, PAYLOAD_BOOT_INFO_GPA, &info, sizeof(info));
	if (!err && cmdline_len)
		err = vmm_guest_write(vm, PAYLOAD_CMDLINE_GPA, cmdline, cmdline_len);
	if (!err)
		err = write_boot_gdt(vm, PAYLOAD_GDT_GPA);
	if (!err)
		err = write_identity_page_tables(vm, PAYLOAD_PML4_GPA);
	if (err) {
		vmm_log("unable to set up the payload's memory: %s", strerror(-err));
		return err;
	}

	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		struct kvm_regs regs = {
		    .rip = PAYLOAD_LOAD_GPA,
		    .rsp = PAYLOAD_STACK_TOP(i),
		    .rdi = PAYLOAD_BOOT_INFO_GPA,
		    .rsi = i,
		    .rflags = 0x2,
		};
		/* Every vCPU starts at once: no INIT/SIPI dance for a payload. */
		struct kvm_mp_state runnable = {.mp_state = KVM_MP_STATE_RUNNABLE};

		err = setup_long_mode(vcpu, PAYLOAD_GDT_GPA, PAYLOAD_PML4_GPA);
		if (!err)
			err = vmm_ioctl(vcpu->fd, KVM_SET_REGS, &regs);
		if (!err)
			err = vmm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &runnable);
		if (err < 0) {
			vmm_log("unable to set up vCPU %d for the payload: %s", i, strerror(-err));
			return err;
		}
	}
	vmm_debug("payload %s: %zu bytes at 0x%x, %d vCPUs", path, len, PAYLOAD_LOAD_GPA,
		  vm->ncpus);
	return 0;
}
