/*
 * state_fake.h: the VMM's own state-blob code (user/vmm/state.c and the
 * checks it calls) built against a fake host and a fake 2-vCPU VM with two
 * devices, for tests/fuzz/state_fuzz.c and tests/unit/devstate_test.c: no
 * /dev/kvm, nothing applied. Include it once, in the test's only .c file.
 *
 * The CPUID and feature-MSR checks are the real ones (user/common/cpufeat.c,
 * user/vmm/featmsr.c) against a fake host: a made-up supported CPUID and a
 * fake /dev/kvm that answers the two feature-MSR ioctls.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

/*
 * The fake /dev/kvm for the feature-MSR check (user/vmm/featmsr.c, the real
 * one): it lists ARCH_CAPABILITIES and UCODE_REV, and can give
 * FAKE_ARCH_CAPABILITIES. Any other descriptor is a bad one, as the fake
 * VM's vCPU fds are.
 */
#include "fake_kvm_msrs.h"
#define FAKE_ARCH_CAPABILITIES 0x2bull
static const struct host_msr fake_host_msrs[] = {
	{0x10a, FAKE_ARCH_CAPABILITIES},
	{0x8b, 0},
};
static const struct host_msr *fake_host = fake_host_msrs;
static size_t fake_host_n = sizeof(fake_host_msrs) / sizeof(fake_host_msrs[0]);

#include "../../user/common/cpufeat.c"
#include "../../user/common/cpumodel.c"
#include "../../user/vmm/featmsr.c"
#include "../../user/vmm/state.c"

/* What state.c calls outside itself. */
bool vmm_verbose;
void vmm_log(const char *fmt, ...)
{
	(void)fmt;
}
void vmm_debug(const char *fmt, ...)
{
	(void)fmt;
}
int vmm_ioctl(int fd, unsigned long request, void *arg)
{
	(void)fd, (void)request, (void)arg;
	return -ENOTTY;
}

/* Reads every entry the parser let through, so ASan sees a count that lies. */
static volatile uint32_t sink;

/*
 * The real checks (common/cpufeat.c) against a fake host: a blob's CPUID
 * with a feature or vendor this host lacks is refused in one line.
 */
static const struct {
	struct kvm_cpuid2 head;
	struct kvm_cpuid_entry2 e[3];
} fake_supported = {.head.nent = 3,
		    .e = {{.function = 0},
			  {.function = 1, .ecx = 0x80202201, .edx = 0x078bfbff},
			  {.function = 7, .ebx = 0x209}}};

/* The fake host's KVM_GET_SUPPORTED_CPUID: featmsr.c's CPU model check reads its leaf 1. */
int vmm_cpuid_supported(int kvm_fd, const struct kvm_cpuid2 **out)
{
	(void)kvm_fd;
	*out = &fake_supported.head;
	return 0;
}

int vmm_cpuid_check_supported(int kvm_fd, const struct kvm_cpuid2 *own,
			      const struct kvm_cpuid2 *cpuid, char *err, size_t err_size)
{
	const struct kvm_cpuid2 *avail[2] = {&fake_supported.head, own};
	int ret;

	(void)kvm_fd;
	for (uint32_t i = 0; i < cpuid->nent; i++)
		sink += cpuid->entries[i].eax;
	ret = cpu_check_identity(cpuid, &fake_supported.head, err, err_size);
	if (!ret)
		ret = cpu_check_features(cpuid, avail, own && own->nent ? 2 : 1, err, err_size);
	assert(!ret || (ret == -EOPNOTSUPP && err[0] && !strchr(err, '\n')));
	return ret;
}

#define FAKE_MEM	  (64u << 20)
#define FAKE_XSAVE_SIZE	  4096
#define FAKE_SERIAL_STATE 12
#define FAKE_PORTS_STATE  4

/* A device whose state is exactly @len bytes; it counts what load() was given. */
struct fake_device {
	size_t len;
	int loads;
	uint16_t loaded_version; /* of the last load() */
};

static int fake_save(void *opaque, void *buf, size_t cap)
{
	const struct fake_device *dev = opaque;

	if (dev->len > cap)
		return -ENOSPC;
	memset(buf, 0x5a, dev->len);
	return dev->len;
}

static int fake_load(void *opaque, uint16_t state_version, const void *data, size_t len, bool apply)
{
	struct fake_device *dev = opaque;
	const uint8_t *p = data;

	(void)apply;
	for (size_t i = 0; i < len; i++)
		sink += p[i];
	dev->loads++;
	dev->loaded_version = state_version;
	return len == dev->len ? 0 : -EINVAL;
}

static const struct vmm_device_ops fake_serial = {"serial0", 1, 1, fake_save, fake_load};
static const struct vmm_device_ops fake_ports = {"debugcon", 1, 1, fake_save, fake_load};
static struct fake_device fake_serial_dev = {.len = FAKE_SERIAL_STATE};
static struct fake_device fake_ports_dev = {.len = FAKE_PORTS_STATE};

static void fake_vm_init(struct vmm_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->ncpus = 2;
	vm->nslots = 1;
	vm->slots[0] = (struct vmm_memslot){.slot = 0, .gpa = 0, .size = FAKE_MEM};
	vm->mem_bytes = FAKE_MEM;
	vm->xsave_size = FAKE_XSAVE_SIZE;
	vm->has_xcrs = true;
	vm->cpu_model = &cpu_models[0];
	vm->kvm_fd = FAKE_KVM_FD;
	vm->vm_fd = -1;
	for (int i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	vm->devices[0].ops = &fake_serial;
	vm->devices[0].opaque = &fake_serial_dev;
	vm->devices[1].ops = &fake_ports;
	vm->devices[1].opaque = &fake_ports_dev;
	vm->ndevices = 2;
}

/*
 * A valid blob of header @version of the VM @vm (fake_vm_init()'s shape),
 * written with state.c's own record writer and its devices' own save();
 * malloc'ed into *@blob. -errno if the writer refuses (put_devices()).
 */
static int fake_blob(const struct vmm_vm *vm, bool xsave, uint32_t version, uint8_t **blob,
		     size_t *size)
{
	struct blob_writer w = {.version = version};
	struct kvmmig_state_vm_info info = {.ncpus = 2, .nslots = 1};
	struct kvmmig_state_header h = {.version = version,
					.header_size = KVMMIG_STATE_HEADER_SIZE};
	static uint8_t zeros[FAKE_XSAVE_SIZE];
	struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 e[2];
	} cpuid = {.head.nent = 2, .e = {{.function = 0}, {.function = 1}}};
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e[3];
	} msrs = {.head.nmsrs = 3,
		  .e = {{.index = 0x10},
			{.index = 0x6e0},
			{.index = 0x10a, .data = FAKE_ARCH_CAPABILITIES}}};
	uint32_t tsc_khz = 2000000;
	int err;

	writer_reserve(&w, sizeof(h));
	info.slots[0].size = FAKE_MEM;
	put_record(&w, KVMMIG_STATE_VM_INFO, 0, &info, sizeof(info));
	for (uint32_t i = 0; i < 2; i++) {
		put_record(&w, KVMMIG_STATE_VCPU_MP_STATE, i, zeros, sizeof(struct kvm_mp_state));
		put_record(&w, KVMMIG_STATE_VCPU_EVENTS, i, zeros, sizeof(struct kvm_vcpu_events));
		put_record(&w, KVMMIG_STATE_VCPU_TSC_KHZ, i, &tsc_khz, sizeof(tsc_khz));
		put_record(&w, KVMMIG_STATE_VCPU_CPUID, i, &cpuid, sizeof(cpuid));
		put_record(&w, KVMMIG_STATE_VCPU_MSRS, i, &msrs, sizeof(msrs));
		put_record(&w, KVMMIG_STATE_VCPU_SREGS, i, zeros, sizeof(struct kvm_sregs));
		put_record_flags(&w, KVMMIG_STATE_VCPU_SREGS2, i, zeros, sizeof(struct kvm_sregs2),
				 0);
		put_record(&w, KVMMIG_STATE_VCPU_LAPIC, i, zeros, sizeof(struct kvm_lapic_state));
		put_record(&w, KVMMIG_STATE_VCPU_XCRS, i, zeros, sizeof(struct kvm_xcrs));
		if (xsave)
			put_record(&w, KVMMIG_STATE_VCPU_XSAVE, i, zeros, FAKE_XSAVE_SIZE);
		else
			put_record(&w, KVMMIG_STATE_VCPU_FPU, i, zeros, sizeof(struct kvm_fpu));
		put_record(&w, KVMMIG_STATE_VCPU_DEBUGREGS, i, zeros, sizeof(struct kvm_debugregs));
		put_record(&w, KVMMIG_STATE_VCPU_REGS, i, zeros, sizeof(struct kvm_regs));
	}
	for (uint32_t c = 0; c < 3; c++) {
		struct kvm_irqchip chip = {.chip_id = c};

		put_record(&w, KVMMIG_STATE_VM_IRQCHIP, c, &chip, sizeof(chip));
	}
	put_record(&w, KVMMIG_STATE_VM_PIT, 0, zeros, sizeof(struct kvm_pit_state2));
	put_record(&w, KVMMIG_STATE_VM_CLOCK, 0, zeros, sizeof(struct kvm_clock_data));
	err = put_devices((struct vmm_vm *)vm, &w);
	if (err) {
		free(w.buf);
		return err;
	}
	put_record(&w, KVMMIG_STATE_END, 0, NULL, 0);
	assert(!w.err);
	memcpy(h.magic, KVMMIG_STATE_MAGIC, sizeof(h.magic));
	h.total_size = w.len;
	h.record_count = w.count;
	h.crc32 = vmm_crc32(0, w.buf + sizeof(h), w.len - sizeof(h));
	memcpy(w.buf, &h, sizeof(h));
	*blob = w.buf;
	*size = w.len;
	return 0;
}
