/* state.c: a paused VM's complete state as a versioned, length-checked blob:
 * save, restore. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/cpuid.h"
#include "vmm/featmsr.h"
#include "vmm/state.h"

#define ALIGN8(x)	   (((x) + 7) & ~(size_t)7)
#define MAX_TYPES_PER_VCPU 16

_Static_assert(sizeof(struct kvmmig_state_header) == KVMMIG_STATE_HEADER_SIZE, "header layout");
_Static_assert(sizeof(struct kvmmig_state_record) == KVMMIG_STATE_RECORD_HEAD_SIZE,
	       "record layout");
_Static_assert(sizeof(struct kvmmig_state_vm_info) == 16 + 24 * VMM_MAX_MEMSLOTS, "vm info layout");

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): detects a damaged blob
 * before parsing. */
uint32_t vmm_crc32(uint32_t crc, const void *data, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = data;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---------------------------------------------------------------------
 * Save
 */

struct blob_writer {
	uint8_t *buf;
	size_t len;
	size_t cap;
	uint32_t count;
	uint32_t version; /* of the blob being written */
	int err;
};

static void *writer_reserve(struct blob_writer *w, size_t len)
{
	if (w->err)
		return NULL;
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 65536;
		uint8_t *buf;

		while (cap < w->len + len)
			cap *= 2;
		buf = realloc(w->buf, cap);
		if (!buf) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = buf;
		w->cap = cap;
	}
	w->len += len;
	return w->buf + w->len - len;
}

/*
 * A record of payload @version, must-understand or optional. A version-1
 * blob (for a reader older than record versions) has neither field, and no
 * optional record: every record of a version-1 blob is must-understand, so
 * one its reader does not know would refuse the whole blob. What the
 * optional records carry (SREGS2's PDPTRs) the reader rebuilds from the
 * rest, as it did before they existed. Its reader takes every payload as
 * version 1: the caller writes no other into it (put_devices()).
 */
static void put_record_version(struct blob_writer *w, uint32_t type, uint32_t index,
			       const void *data, uint32_t size, uint16_t version, uint16_t flags)
{
	struct kvmmig_state_record head = {
	    .type = type, .index = index, .size = size, .version = version, .flags = flags};
	uint8_t *p;

	if (w->version == 1) {
		if (!(flags & KVMMIG_STATE_F_MUST_UNDERSTAND))
			return;
		head.version = 0;
		head.flags = 0;
	}
	p = writer_reserve(w, sizeof(head) + ALIGN8(size));

	if (!p)
		return;
	memcpy(p, &head, sizeof(head));
	if (size)
		memcpy(p + sizeof(head), data, size);
	memset(p + sizeof(head) + size, 0, ALIGN8(size) - size);
	w->count++;
}

/* A record of version 1, the version of every record but devices' so far. */
static void put_record_flags(struct blob_writer *w, uint32_t type, uint32_t index, const void *data,
			     uint32_t size, uint16_t flags)
{
	put_record_version(w, type, index, data, size, 1, flags);
}

static void put_record(struct blob_writer *w, uint32_t type, uint32_t index, const void *data,
		       uint32_t size)
{
	put_record_flags(w, type, index, data, size, KVMMIG_STATE_F_MUST_UNDERSTAND);
}

/*
 * KVM_GET_MSRS and KVM_SET_MSRS refuse 256 entries or more (E2BIG) on every
 * kernel we support, while a vCPU's set (KVM's list, MTRRs, 32 MCE banks of
 * four) can pass that: every call takes at most this many.
 */
#define MSR_CHUNK 255

#define MSR_MTRR_CAP	     0xfe
#define MSR_MCG_CAP	     0x179
#define MSR_MTRR_PHYS_BASE0  0x200
#define MSR_MTRR_FIX64K	     0x250
#define MSR_MTRR_FIX16K_8000 0x258
#define MSR_MTRR_FIX16K_A000 0x259
#define MSR_MTRR_FIX4K_C000  0x268 /* to 0x26f */
#define MSR_MTRR_DEF_TYPE    0x2ff
#define MSR_PERF_CAPABILITIES 0x345
#define MSR_MC0_CTL2	     0x280
#define MSR_MC0_CTL	     0x400
#define MSR_TSC_DEADLINE     0x6e0
#define MCG_CTL2_P	     (1ull << 10) /* MCG_CAP: MCi_CTL2 (CMCI) exists */

/* One MSR by KVM_GET_MSRS; false if KVM cannot read it. */
static bool read_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry entry;
	} one = {.head.nmsrs = 1, .entry.index = index};

	if (ioctl(vcpu->fd, KVM_GET_MSRS, &one) != 1)
		return false;
	*value = one.entry.data;
	return true;
}

static bool cpuid_has_mtrr(const struct kvm_cpuid2 *cpuid)
{
	for (uint32_t n = 0; n < cpuid->nent; n++)
		if (cpuid->entries[n].function == 1)
			return cpuid->entries[n].edx & (1u << 12);
	return false;
}

static void add_index(uint32_t *indices, uint32_t *n, uint32_t cap, uint32_t index)
{
	for (uint32_t i = 0; i < *n; i++)
		if (indices[i] == index)
			return;
	if (*n < cap)
		indices[(*n)++] = index;
}

/*
 * Which MSRs a vCPU's state holds: KVM's index list, then what KVM keeps but
 * does not list (QEMU's kvm_put_msrs adds them the same way): the MTRRs when
 * the guest's CPUID has them (MTRRdefType, the fixed ranges, MTRRcap's count
 * of variable ranges), MCG_CAP and every MCE bank it announces.
 */
static uint32_t msr_indices(struct vmm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid,
			    uint32_t *indices, uint32_t cap)
{
	const struct kvm_msr_list *list = vcpu->vm->msr_list;
	uint32_t n = 0;
	uint64_t v;

	for (uint32_t i = 0; i < list->nmsrs; i++)
		add_index(indices, &n, cap, list->indices[i]);
	if (cpuid_has_mtrr(cpuid)) {
		add_index(indices, &n, cap, MSR_MTRR_DEF_TYPE);
		add_index(indices, &n, cap, MSR_MTRR_FIX64K);
		add_index(indices, &n, cap, MSR_MTRR_FIX16K_8000);
		add_index(indices, &n, cap, MSR_MTRR_FIX16K_A000);
		for (uint32_t i = 0; i < 8; i++)
			add_index(indices, &n, cap, MSR_MTRR_FIX4K_C000 + i);
		if (read_msr(vcpu, MSR_MTRR_CAP, &v))
			for (uint32_t i = 0; i < (v & 0xff); i++) {
				add_index(indices, &n, cap, MSR_MTRR_PHYS_BASE0 + 2 * i);
				add_index(indices, &n, cap, MSR_MTRR_PHYS_BASE0 + 2 * i + 1);
			}
	}
	if (read_msr(vcpu, MSR_MCG_CAP, &v)) {
		add_index(indices, &n, cap, MSR_MCG_CAP);
		for (uint32_t b = 0; b < (v & 0xff); b++) {
			for (uint32_t k = 0; k < 4; k++)
				add_index(indices, &n, cap, MSR_MC0_CTL + 4 * b + k);
			if (v & MCG_CTL2_P)
				add_index(indices, &n, cap, MSR_MC0_CTL2 + b);
		}
	}
	return n;
}

/* Reads every MSR of msr_indices() that this vCPU has; unreadable ones are left
 * out. */
static int get_msrs(struct vmm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid, struct kvm_msrs **out,
		    size_t *out_size)
{
	uint32_t cap = KVMMIG_STATE_MAX_MSRS, n, done = 0;
	struct kvm_msrs *msrs, *req;
	uint32_t *indices = calloc(cap, sizeof(*indices));

	msrs = calloc(1, sizeof(*msrs) + cap * sizeof(msrs->entries[0]));
	req = calloc(1, sizeof(*req) + MSR_CHUNK * sizeof(req->entries[0]));
	if (!msrs || !req || !indices) {
		free(msrs);
		free(req);
		free(indices);
		return -ENOMEM;
	}
	n = msr_indices(vcpu, cpuid, indices, cap);
	for (uint32_t i = 0; i < n; i++)
		msrs->entries[i].index = indices[i];
	free(indices);
	/* KVM_GET_MSRS stops at the first MSR it cannot read: drop that one, go on
	 * after it. */
	while (done < n) {
		uint32_t ask = n - done < MSR_CHUNK ? n - done : MSR_CHUNK;
		int r;

		req->nmsrs = ask;
		memcpy(req->entries, &msrs->entries[done], ask * sizeof(req->entries[0]));
		r = ioctl(vcpu->fd, KVM_GET_MSRS, req);
		if (r < 0) {
			int err = -errno;

			free(msrs);
			free(req);
			return err;
		}
		memcpy(&msrs->entries[done], req->entries, r * sizeof(req->entries[0]));
		done += r;
		if ((uint32_t)r < ask) {
			vmm_debug("vCPU %d: MSR 0x%x not readable, left out of the state",
				  vcpu->index, msrs->entries[done].index);
			memmove(&msrs->entries[done], &msrs->entries[done + 1],
				(n - done - 1) * sizeof(msrs->entries[0]));
			n--;
		}
	}
	free(req);
	msrs->nmsrs = n;
	msrs->pad = 0;
	*out = msrs;
	*out_size = sizeof(*msrs) + n * sizeof(msrs->entries[0]);
	return 0;
}

static int save_vcpu(struct vmm_vcpu *vcpu, struct blob_writer *w)
{
	struct vmm_vm *vm = vcpu->vm;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
	struct kvm_cpuid2 *cpuid;
	struct kvm_msrs *msrs = NULL;
	size_t msrs_size = 0;
	uint32_t tsc_khz;
	int r, i = vcpu->index;

#define GET(req, arg)                                                                              \
	do {                                                                                       \
		if (ioctl(vcpu->fd, req, arg) < 0) {                                               \
			r = -errno;                                                                \
			vmm_log("unable to save vCPU %d: %s: %s", i, #req, strerror(-r));          \
			return r;                                                                  \
		}                                                                                  \
	} while (0)

	/*
	 * MP_STATE first, then EVENTS, then the rest. KVM_GET_MP_STATE applies
	 * an INIT or SIPI latched while this vCPU was out of KVM_RUN (an AP
	 * caught mid-bring-up): it resets the vCPU or moves CS:RIP to the SIPI
	 * vector, so registers read before it are the old ones. QEMU reads
	 * EVENTS before MP_STATE; then EVENTS still says "INIT latched" for an
	 * INIT that GET_MP_STATE applies, the destination applies it a second
	 * time, and a SIPI applied with the first is lost: the AP waits for a
	 * SIPI forever (tests/vm/vcpustate.sh sipi).
	 */
	GET(KVM_GET_MP_STATE, &mp_state);
	put_record(w, KVMMIG_STATE_VCPU_MP_STATE, i, &mp_state, sizeof(mp_state));
	GET(KVM_GET_VCPU_EVENTS, &events);
	/* Restore must set the pending NMI and SIPI vector too, not only what GET
	 * flagged. */
	events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	put_record(w, KVMMIG_STATE_VCPU_EVENTS, i, &events, sizeof(events));

	r = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	tsc_khz = r > 0 ? (uint32_t)r : 0;
	put_record(w, KVMMIG_STATE_VCPU_TSC_KHZ, i, &tsc_khz, sizeof(tsc_khz));

	cpuid = calloc(1, sizeof(*cpuid) + KVMMIG_STATE_MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = KVMMIG_STATE_MAX_CPUID;
	/*
	 * 6.1's KVM_GET_CPUID2 writes nent back only when it fails: count the
	 * entries it filled in, or the blob carries the rest of the buffer as
	 * zero "leaf 0" entries (duplicates a destination refuses).
	 */
	for (uint32_t n = 0; n < cpuid->nent; n++)
		cpuid->entries[n].function = cpuid->entries[n].index = UINT32_MAX;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, cpuid) < 0) {
		r = -errno;
		free(cpuid);
		vmm_log("unable to save vCPU %d: KVM_GET_CPUID2: %s", i, strerror(-r));
		return r;
	}
	while (cpuid->nent && cpuid->entries[cpuid->nent - 1].function == UINT32_MAX &&
	       cpuid->entries[cpuid->nent - 1].index == UINT32_MAX)
		cpuid->nent--;
	put_record(w, KVMMIG_STATE_VCPU_CPUID, i, cpuid,
		   sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]));

	r = get_msrs(vcpu, cpuid, &msrs, &msrs_size);
	free(cpuid);
	if (r) {
		vmm_log("unable to save vCPU %d: KVM_GET_MSRS: %s", i, strerror(-r));
		return r;
	}
	put_record(w, KVMMIG_STATE_VCPU_MSRS, i, msrs, msrs_size);
	free(msrs);
	GET(KVM_GET_SREGS, &sregs);
	put_record(w, KVMMIG_STATE_VCPU_SREGS, i, &sregs, sizeof(sregs));
	/* Optional: a reader without it restores SREGS, as before it existed (state.h). */
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0) {
		struct kvm_sregs2 sregs2;

		GET(KVM_GET_SREGS2, &sregs2);
		put_record_flags(w, KVMMIG_STATE_VCPU_SREGS2, i, &sregs2, sizeof(sregs2), 0);
	}
	GET(KVM_GET_LAPIC, &lapic);
	put_record(w, KVMMIG_STATE_VCPU_LAPIC, i, &lapic, sizeof(lapic));

	if (vm->has_xcrs) {
		GET(KVM_GET_XCRS, &xcrs);
		put_record(w, KVMMIG_STATE_VCPU_XCRS, i, &xcrs, sizeof(xcrs));
	}
	if (vm->xsave_size) {
		struct kvm_xsave *xsave = calloc(1, vm->xsave_size);

		if (!xsave)
			return -ENOMEM;
		r = ioctl(vcpu->fd,
			  vm->xsave_size > (int)sizeof(*xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
			  xsave);
		if (r < 0) {
			r = -errno;
			free(xsave);
			vmm_log("unable to save vCPU %d: KVM_GET_XSAVE2: %s", i, strerror(-r));
			return r;
		}
		put_record(w, KVMMIG_STATE_VCPU_XSAVE, i, xsave, vm->xsave_size);
		free(xsave);
	} else {
		struct kvm_fpu fpu;

		GET(KVM_GET_FPU, &fpu);
		put_record(w, KVMMIG_STATE_VCPU_FPU, i, &fpu, sizeof(fpu));
	}

	GET(KVM_GET_DEBUGREGS, &debugregs);
	put_record(w, KVMMIG_STATE_VCPU_DEBUGREGS, i, &debugregs, sizeof(debugregs));
	GET(KVM_GET_REGS, &regs);
	put_record(w, KVMMIG_STATE_VCPU_REGS, i, &regs, sizeof(regs));
#undef GET
	return w->err;
}

/*
 * Each device's state, a DEVICE record of the version the device writes.
 * A version-1 blob's reader takes every record as version 1: a device
 * whose state is newer cannot go into one (-ERANGE).
 */
static int put_devices(struct vmm_vm *vm, struct blob_writer *w)
{
	for (int i = 0; i < vm->ndevices; i++) {
		const struct vmm_device_ops *ops = vm->devices[i].ops;
		uint8_t buf[sizeof(struct kvmmig_state_device_head) + KVMMIG_STATE_MAX_DEVICE];
		struct kvmmig_state_device_head *head = (void *)buf;
		int n;

		if (w->version == 1 && ops->version != 1) {
			vmm_log(
			    "unable to save device %s into a version-1 blob: its state is version "
			    "%u, a version-1 reader takes version 1 only: upgrade the "
			    "destination's kvmmig-vm",
			    ops->name, ops->version);
			return -ERANGE;
		}
		memset(head, 0, sizeof(*head));
		strncpy(head->name, ops->name, sizeof(head->name) - 1);
		n = ops->save(vm->devices[i].opaque, buf + sizeof(*head), KVMMIG_STATE_MAX_DEVICE);
		if (n < 0) {
			vmm_log("unable to save device %s: %s", head->name, strerror(-n));
			return n;
		}
		put_record_version(w, KVMMIG_STATE_DEVICE, i, buf, sizeof(*head) + n, ops->version,
				   KVMMIG_STATE_F_MUST_UNDERSTAND);
	}
	return w->err;
}

bool vmm_device_versions_valid(const struct vmm_device_ops *ops)
{
	return ops->version >= 1 && ops->first_version >= 1 && ops->first_version <= ops->version;
}

/* 0 if the VM has a state to save now: every vCPU parked, and not waiting for a state. */
static int save_allowed(struct vmm_vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == VMM_VM_INCOMING)
		ret = -ENODATA;
	else if (!vm->pause_requested || vm->nparked != vm->ncpus)
		ret = -EBUSY;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vmm_state_save(struct vmm_vm *vm, uint32_t version, uint8_t **blob, size_t *size)
{
	struct blob_writer w = {.version = version ? version : KVMMIG_STATE_VERSION};
	struct kvmmig_state_vm_info info = {
	    .ncpus = vm->ncpus, .nslots = vm->nslots, .cpu_model = vm->cpu_model->id};
	struct kvmmig_state_header header = {.version = w.version,
					     .header_size = KVMMIG_STATE_HEADER_SIZE};
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int err;

	if (w.version < KVMMIG_STATE_VERSION_MIN || w.version > KVMMIG_STATE_VERSION)
		return -EPROTONOSUPPORT;
	err = save_allowed(vm);
	if (err)
		return err;
	writer_reserve(&w, sizeof(header));

	for (int i = 0; i < vm->nslots; i++) {
		info.slots[i].slot = vm->slots[i].slot;
		info.slots[i].gpa = vm->slots[i].gpa;
		info.slots[i].size = vm->slots[i].size;
	}
	put_record(&w, KVMMIG_STATE_VM_INFO, 0, &info, sizeof(info));

	for (int i = 0; i < vm->ncpus; i++) {
		err = save_vcpu(&vm->vcpus[i], &w);
		if (err)
			goto fail;
	}

	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip irqchip = {.chip_id = chip};

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &irqchip) < 0) {
			err = -errno;
			vmm_log("unable to save irqchip %u: %s", chip, strerror(-err));
			goto fail;
		}
		put_record(&w, KVMMIG_STATE_VM_IRQCHIP, chip, &irqchip, sizeof(irqchip));
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0) {
		err = -errno;
		vmm_log("unable to save the PIT: %s", strerror(-err));
		goto fail;
	}
	put_record(&w, KVMMIG_STATE_VM_PIT, 0, &pit, sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		err = -errno;
		vmm_log("unable to save kvmclock: %s", strerror(-err));
		goto fail;
	}
	put_record(&w, KVMMIG_STATE_VM_CLOCK, 0, &clock, sizeof(clock));

	err = put_devices(vm, &w);
	if (err)
		goto fail;
	put_record(&w, KVMMIG_STATE_END, 0, NULL, 0);
	if (w.err) {
		err = w.err;
		goto fail;
	}

	memcpy(header.magic, KVMMIG_STATE_MAGIC, sizeof(header.magic));
	header.total_size = w.len;
	header.record_count = w.count;
	header.crc32 = vmm_crc32(0, w.buf + sizeof(header), w.len - sizeof(header));
	memcpy(w.buf, &header, sizeof(header));
	*blob = w.buf;
	*size = w.len;
	return 0;
fail:
	free(w.buf);
	return err ? err : -EIO;
}

/* ---------------------------------------------------------------------
 * Checking
 */

struct rec {
	const uint8_t *data;
	uint32_t size;
	uint16_t version;     /* 1 in a version-1 blob */
	bool must_understand; /* every record of a version-1 blob */
};

enum vcpu_slot {
	V_REGS,
	V_SREGS,
	V_FPU,
	V_XSAVE,
	V_XCRS,
	V_MSRS,
	V_LAPIC,
	V_EVENTS,
	V_MP_STATE,
	V_DEBUGREGS,
	V_CPUID,
	V_TSC_KHZ,
	V_SREGS2,
	V_COUNT
};

struct parsed_state {
	struct rec info;
	struct rec vcpu[VMM_MAX_VCPUS][V_COUNT];
	struct rec irqchip[3];
	struct rec pit;
	struct rec clock;
	struct rec device[VMM_MAX_DEVICES]; /* by the VM's device order */
	/* An optional record of a version the device does not read: it keeps its reset state. */
	bool device_skipped[VMM_MAX_DEVICES];
};

static int reject(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reject(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int vmm_state_check_framing(const uint8_t *blob, size_t size, char *err, size_t err_size)
{
	struct kvmmig_state_header h;
	size_t off = KVMMIG_STATE_HEADER_SIZE;
	uint32_t n = 0;

	if (size < KVMMIG_STATE_HEADER_SIZE)
		return reject(err, err_size,
			      "truncated state blob: %zu bytes, the header alone is %d", size,
			      KVMMIG_STATE_HEADER_SIZE);
	memcpy(&h, blob, sizeof(h));
	if (memcmp(h.magic, KVMMIG_STATE_MAGIC, sizeof(h.magic)))
		return reject(err, err_size, "not a kvmmig state blob (bad magic)");
	if (h.version < KVMMIG_STATE_VERSION_MIN || h.version > KVMMIG_STATE_VERSION)
		return reject(err, err_size,
			      "unsupported state blob version %u (this VMM reads versions %d to %d)",
			      h.version, KVMMIG_STATE_VERSION_MIN, KVMMIG_STATE_VERSION);
	if (h.header_size != KVMMIG_STATE_HEADER_SIZE)
		return reject(err, err_size, "malformed state blob: header size %u, expected %d",
			      h.header_size, KVMMIG_STATE_HEADER_SIZE);
	if (h.total_size > size)
		return reject(err, err_size,
			      "truncated state blob: the header says %llu bytes, got %zu",
			      (unsigned long long)h.total_size, size);
	if (h.total_size < size)
		return reject(err, err_size,
			      "malformed state blob: %zu bytes, the header says %llu", size,
			      (unsigned long long)h.total_size);
	if (vmm_crc32(0, blob + off, size - off) != h.crc32)
		return reject(err, err_size, "corrupt state blob: CRC mismatch");

	while (off < size) {
		struct kvmmig_state_record r;
		size_t padded;

		if (size - off < sizeof(r))
			return reject(err, err_size,
				      "malformed state blob: record header cut at offset %zu", off);
		memcpy(&r, blob + off, sizeof(r));
		padded = ALIGN8((size_t)r.size);
		if (padded > size - off - sizeof(r))
			return reject(err, err_size,
				      "malformed state blob: record %u (type 0x%x) at offset %zu "
				      "claims %u bytes, past the end",
				      n, r.type, off, r.size);
		if (h.version == 1 && (r.version || r.flags))
			return reject(err, err_size,
				      "malformed state blob: record %u has nonzero reserved field",
				      n);
		if (h.version > 1 && !r.version)
			return reject(err, err_size,
				      "malformed state blob: record %u (type 0x%x) has version 0", n,
				      r.type);
		if (r.flags & ~KVMMIG_STATE_F_MUST_UNDERSTAND)
			return reject(err, err_size,
				      "malformed state blob: record %u (type 0x%x) has unknown flags "
				      "0x%x",
				      n, r.type, r.flags & ~KVMMIG_STATE_F_MUST_UNDERSTAND);
		for (size_t i = r.size; i < padded; i++)
			if (blob[off + sizeof(r) + i])
				return reject(err, err_size,
					      "malformed state blob: record %u has nonzero padding",
					      n);
		off += sizeof(r) + padded;
		n++;
		if (r.type == KVMMIG_STATE_END) {
			if (r.size || r.index)
				return reject(err, err_size,
					      "malformed state blob: bad END record");
			if (off != size)
				return reject(err, err_size,
					      "malformed state blob: data after the END record");
		} else if (off == size) {
			return reject(err, err_size, "malformed state blob: no END record");
		}
	}
	if (n != h.record_count)
		return reject(err, err_size, "malformed state blob: %u records, the header says %u",
			      n, h.record_count);
	return 0;
}

static int vcpu_slot_of(uint32_t type)
{
	switch (type) {
	case KVMMIG_STATE_VCPU_REGS:
		return V_REGS;
	case KVMMIG_STATE_VCPU_SREGS:
		return V_SREGS;
	case KVMMIG_STATE_VCPU_FPU:
		return V_FPU;
	case KVMMIG_STATE_VCPU_XSAVE:
		return V_XSAVE;
	case KVMMIG_STATE_VCPU_XCRS:
		return V_XCRS;
	case KVMMIG_STATE_VCPU_MSRS:
		return V_MSRS;
	case KVMMIG_STATE_VCPU_LAPIC:
		return V_LAPIC;
	case KVMMIG_STATE_VCPU_EVENTS:
		return V_EVENTS;
	case KVMMIG_STATE_VCPU_MP_STATE:
		return V_MP_STATE;
	case KVMMIG_STATE_VCPU_DEBUGREGS:
		return V_DEBUGREGS;
	case KVMMIG_STATE_VCPU_CPUID:
		return V_CPUID;
	case KVMMIG_STATE_VCPU_TSC_KHZ:
		return V_TSC_KHZ;
	case KVMMIG_STATE_VCPU_SREGS2:
		return V_SREGS2;
	}
	return -1;
}

static const char *vcpu_slot_name[V_COUNT] = {
    [V_REGS] = "REGS",		 [V_SREGS] = "SREGS",	[V_FPU] = "FPU",
    [V_XSAVE] = "XSAVE",	 [V_XCRS] = "XCRS",	[V_MSRS] = "MSRS",
    [V_LAPIC] = "LAPIC",	 [V_EVENTS] = "EVENTS", [V_MP_STATE] = "MP_STATE",
    [V_DEBUGREGS] = "DEBUGREGS", [V_CPUID] = "CPUID",	[V_TSC_KHZ] = "TSC_KHZ",
    [V_SREGS2] = "SREGS2",
};

static const size_t vcpu_slot_fixed_size[V_COUNT] = {
    [V_REGS] = sizeof(struct kvm_regs),
    [V_SREGS] = sizeof(struct kvm_sregs),
    [V_FPU] = sizeof(struct kvm_fpu),
    [V_XCRS] = sizeof(struct kvm_xcrs),
    [V_LAPIC] = sizeof(struct kvm_lapic_state),
    [V_EVENTS] = sizeof(struct kvm_vcpu_events),
    [V_MP_STATE] = sizeof(struct kvm_mp_state),
    [V_DEBUGREGS] = sizeof(struct kvm_debugregs),
    [V_TSC_KHZ] = sizeof(uint32_t),
    [V_SREGS2] = sizeof(struct kvm_sregs2),
};

static int check_vcpu_record(struct vmm_vm *vm, int slot, uint32_t index, const struct rec *r,
			     char *err, size_t err_size)
{
	const char *name = vcpu_slot_name[slot];

	if (vcpu_slot_fixed_size[slot]) {
		if (r->size != vcpu_slot_fixed_size[slot])
			return reject(err, err_size,
				      "malformed state blob: vCPU %u %s is %u bytes, expected %zu",
				      index, name, r->size, vcpu_slot_fixed_size[slot]);
	}
	switch (slot) {
	case V_MSRS: {
		uint32_t n;

		if (r->size < sizeof(struct kvm_msrs))
			return reject(err, err_size, "malformed state blob: vCPU %u MSRS too short",
				      index);
		memcpy(&n, r->data, sizeof(n));
		if (n > KVMMIG_STATE_MAX_MSRS ||
		    r->size != sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry))
			return reject(err, err_size,
				      "malformed state blob: vCPU %u MSRS: %u entries do not fit "
				      "%u bytes",
				      index, n, r->size);
		break;
	}
	case V_CPUID: {
		uint32_t n;

		if (r->size < sizeof(struct kvm_cpuid2))
			return reject(err, err_size,
				      "malformed state blob: vCPU %u CPUID too short", index);
		memcpy(&n, r->data, sizeof(n));
		if (n == 0 || n > KVMMIG_STATE_MAX_CPUID ||
		    r->size != sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2))
			return reject(err, err_size,
				      "malformed state blob: vCPU %u CPUID: %u entries do not fit "
				      "%u bytes",
				      index, n, r->size);
		break;
	}
	case V_XSAVE:
		if (!vm->xsave_size)
			return reject(err, err_size,
				      "state blob has XSAVE state, this host's KVM has no XSAVE");
		if (r->size % 4 || r->size < sizeof(struct kvm_xsave) ||
		    r->size > (uint32_t)vm->xsave_size)
			return reject(err, err_size,
				      "malformed state blob: vCPU %u XSAVE is %u bytes, this host "
				      "takes %zu to %d",
				      index, r->size, sizeof(struct kvm_xsave), vm->xsave_size);
		break;
	case V_SREGS2: {
		struct kvm_sregs2 sregs2;

		memcpy(&sregs2, r->data, sizeof(sregs2));
		if (sregs2.flags & ~KVM_SREGS2_FLAGS_PDPTRS_VALID)
			return reject(err, err_size,
				      "malformed state blob: vCPU %u SREGS2 has unknown flags 0x%llx",
				      index,
				      (unsigned long long)(sregs2.flags &
							   ~KVM_SREGS2_FLAGS_PDPTRS_VALID));
		break;
	}
	case V_XCRS:
		if (!vm->has_xcrs)
			return reject(err, err_size,
				      "state blob has XCRS, this host's KVM has no KVM_CAP_XCRS");
		break;
	}
	return 0;
}

static int check_vm_info(struct vmm_vm *vm, const struct rec *r, char *err, size_t err_size)
{
	struct kvmmig_state_vm_info info;

	if (r->size != sizeof(info))
		return reject(err, err_size,
			      "malformed state blob: VM_INFO is %u bytes, expected %zu", r->size,
			      sizeof(info));
	memcpy(&info, r->data, sizeof(info));
	if (info.ncpus != (uint32_t)vm->ncpus)
		return reject(err, err_size, "state blob is for %u vCPUs, this VM has %d",
			      info.ncpus, vm->ncpus);
	if (info.cpu_model != (uint32_t)vm->cpu_model->id) {
		const struct cpu_model *m = cpu_model_by_id(info.cpu_model);

		if (info.cpu_model == CPU_MODEL_RETIRED_BASELINE)
			return reject(err, err_size,
				      "the guest runs kvmmig's retired CPU model 'baseline' (a "
				      "CPUID no named model reproduces): restore it with the "
				      "kvmmig-vm that started it");
		if (!m)
			return reject(err, err_size,
				      "the guest runs CPU model %u, unknown to this kvmmig-vm: "
				      "upgrade it",
				      info.cpu_model);
		return reject(err, err_size,
			      "the guest runs CPU model %s version %u, this VM %s version %u: "
			      "start kvmmig-vm --incoming --cpu %s",
			      m->name, m->version, vm->cpu_model->name, vm->cpu_model->version,
			      m->name);
	}
	if (info.nslots != (uint32_t)vm->nslots)
		return reject(err, err_size, "state blob has %u memslots, this VM %d", info.nslots,
			      vm->nslots);
	for (int i = 0; i < vm->nslots; i++)
		if (info.slots[i].slot != vm->slots[i].slot ||
		    info.slots[i].gpa != vm->slots[i].gpa ||
		    info.slots[i].size != vm->slots[i].size)
			return reject(err, err_size,
				      "state blob memslot %d (gpa 0x%llx size 0x%llx) differs from "
				      "this VM's (gpa 0x%llx size 0x%llx)",
				      i, (unsigned long long)info.slots[i].gpa,
				      (unsigned long long)info.slots[i].size,
				      (unsigned long long)vm->slots[i].gpa,
				      (unsigned long long)vm->slots[i].size);
	return 0;
}

static int find_device(struct vmm_vm *vm, const struct rec *r)
{
	char name[17] = {0};

	memcpy(name, r->data, 16);
	if (strnlen(name, 16) == 16)
		return -1;
	for (int i = 0; i < vm->ndevices; i++)
		if (!strcmp(vm->devices[i].ops->name, name))
			return i;
	return -1;
}

/*
 * An IRQCHIP record's index and the chip_id inside its payload name the
 * same chip, one KVM knows: KVM_SET_IRQCHIP follows the payload's, so a
 * record whose two disagree would set one chip twice and leave another as
 * it was, and an unknown chip would be refused half-way through a restore.
 */
static int check_irqchip(const struct kvmmig_state_record *h, const struct rec *r, char *err,
			 size_t err_size)
{
	struct kvm_irqchip chip;

	if (h->index > KVM_IRQCHIP_IOAPIC || r->size != sizeof(chip))
		return reject(err, err_size, "malformed state blob: IRQCHIP %u of %u bytes",
			      h->index, r->size);
	memcpy(&chip, r->data, sizeof(chip));
	if (chip.chip_id != h->index)
		return reject(err, err_size,
			      "malformed state blob: IRQCHIP record %u holds chip %u (0 PIC master, "
			      "1 PIC slave, 2 IOAPIC)",
			      h->index, chip.chip_id);
	return 0;
}

/* DEVICE records are numbered 0..n-1 for the VM's n devices, each number once. */
static int claim_device_index(struct vmm_vm *vm, uint32_t index, bool *seen, char *err,
			      size_t err_size)
{
	if (index >= (uint32_t)vm->ndevices)
		return reject(err, err_size,
			      "malformed state blob: DEVICE index %u, the VM has %d devices", index,
			      vm->ndevices);
	if (seen[index])
		return reject(err, err_size, "malformed state blob: DEVICE index %u appears twice",
			      index);
	seen[index] = true;
	return 0;
}

/* A DEVICE record's name for a message: unprintable bytes as '?', never a line break in a log. */
static void printable_device_name(const struct rec *r, char name[17])
{
	int i;

	for (i = 0; i < 16 && r->data[i]; i++)
		name[i] = r->data[i] >= 0x20 && r->data[i] < 0x7f ? r->data[i] : '?';
	name[i] = '\0';
}

static void *copy_aligned(const struct rec *r);

/*
 * The newest version of each record type this VMM reads; 0 for a type it
 * does not know. DEVICE records are each device's own (device_reads()).
 */
static unsigned int record_known_version(uint32_t type)
{
	if (vcpu_slot_of(type) >= 0)
		return 1;
	switch (type) {
	case KVMMIG_STATE_VM_INFO:
	case KVMMIG_STATE_VM_IRQCHIP:
	case KVMMIG_STATE_VM_PIT:
	case KVMMIG_STATE_VM_CLOCK:
	case KVMMIG_STATE_END:
		return 1;
	}
	return 0;
}

static const char *record_type_name(uint32_t type)
{
	int v = vcpu_slot_of(type);

	if (v >= 0)
		return vcpu_slot_name[v];
	switch (type) {
	case KVMMIG_STATE_VM_INFO:
		return "VM_INFO";
	case KVMMIG_STATE_VM_IRQCHIP:
		return "IRQCHIP";
	case KVMMIG_STATE_VM_PIT:
		return "PIT";
	case KVMMIG_STATE_VM_CLOCK:
		return "CLOCK";
	case KVMMIG_STATE_DEVICE:
		return "DEVICE";
	case KVMMIG_STATE_END:
		return "END";
	}
	return "unknown";
}

/*
 * Whether the record at @h is one this VMM reads. One it does not know (its
 * type, or a version newer than it reads) is skipped if optional, refused
 * naming it if must-understand (state.h: what the format promises).
 * Returns 1 to read it, 0 to skip it, -EINVAL to refuse the blob.
 */
static int record_understood(const struct kvmmig_state_record *h, const struct rec *r, char *err,
			     size_t err_size)
{
	unsigned int version = r->version;
	bool must = r->must_understand;
	unsigned int known = record_known_version(h->type);

	if (h->type == KVMMIG_STATE_DEVICE)
		return 1; /* its device decides, once the record names it: device_reads() */
	if (known && version <= known)
		return 1;
	if (must && !known)
		return reject(err, err_size,
			      "state blob has record type 0x%x (index %u) flagged must-understand, "
			      "which this VMM does not know: it needs a newer kvmmig-vm",
			      h->type, h->index);
	if (must)
		return reject(err, err_size,
			      "state blob has %s (record type 0x%x, index %u) version %u, flagged "
			      "must-understand: this VMM reads up to version %u",
			      record_type_name(h->type), h->type, h->index, version, known);
	vmm_log("state blob: skipped optional record type 0x%x version %u (index %u, %u bytes), "
		"which this VMM does not read",
		h->type, version, h->index, h->size);
	return 0;
}

/*
 * Whether device @ops reads the state in its DEVICE record @r: a version
 * from its first to the one it writes. One it does not read is refused,
 * naming the device and the versions, if the record is must-understand
 * (as every device record written so far is), and skipped if optional:
 * the device keeps its reset state. Returns 1 to read it, 0 to skip it,
 * -EINVAL to refuse the blob.
 */
static int device_reads(const struct vmm_device_ops *ops, const struct rec *r, char *err,
			size_t err_size)
{
	if (r->version >= ops->first_version && r->version <= ops->version)
		return 1;
	if (r->must_understand)
		return reject(err, err_size,
			      "state blob has device '%s' state version %u, which this kvmmig-vm "
			      "reads in versions %u to %u: %s",
			      ops->name, r->version, ops->first_version, ops->version,
			      r->version > ops->version
				  ? "restore it with a kvmmig-vm as new as the source's"
				  : "no kvmmig-vm of this device wrote it");
	vmm_log("state blob: skipped device '%s' state version %u (optional), which this "
		"kvmmig-vm reads in versions %u to %u: the device keeps its reset state",
		ops->name, r->version, ops->first_version, ops->version);
	return 0;
}

static int parse_state(struct vmm_vm *vm, const uint8_t *blob, size_t size, struct parsed_state *p,
		       char *err, size_t err_size)
{
	size_t off = KVMMIG_STATE_HEADER_SIZE;
	uint32_t n = 0, blob_version;
	bool device_index_seen[VMM_MAX_DEVICES] = {0};
	int ret;

	ret = vmm_state_check_framing(blob, size, err, err_size);
	if (ret)
		return ret;
	memcpy(&blob_version, blob + offsetof(struct kvmmig_state_header, version),
	       sizeof(blob_version));
	memset(p, 0, sizeof(*p));

	for (; off < size; n++) {
		struct kvmmig_state_record h;
		struct rec r, *slot;
		int v;

		memcpy(&h, blob + off, sizeof(h));
		r.data = blob + off + sizeof(h);
		r.size = h.size;
		r.version = blob_version == 1 ? 1 : h.version;
		r.must_understand = blob_version == 1 || (h.flags & KVMMIG_STATE_F_MUST_UNDERSTAND);
		off += sizeof(h) + ALIGN8((size_t)h.size);

		if (n == 0 && h.type != KVMMIG_STATE_VM_INFO)
			return reject(err, err_size, "malformed state blob: VM_INFO is not first");
		ret = record_understood(&h, &r, err, err_size);
		if (ret < 0)
			return ret;
		if (!ret)
			continue;
		v = vcpu_slot_of(h.type);
		if (v >= 0) {
			if (h.index >= (uint32_t)vm->ncpus)
				return reject(
				    err, err_size,
				    "malformed state blob: record for vCPU %u, the VM has %d",
				    h.index, vm->ncpus);
			ret = check_vcpu_record(vm, v, h.index, &r, err, err_size);
			if (ret)
				return ret;
			slot = &p->vcpu[h.index][v];
		} else {
			switch (h.type) {
			case KVMMIG_STATE_VM_INFO:
				if (h.index)
					return reject(err, err_size,
						      "malformed state blob: VM_INFO index %u",
						      h.index);
				ret = check_vm_info(vm, &r, err, err_size);
				if (ret)
					return ret;
				slot = &p->info;
				break;
			case KVMMIG_STATE_VM_IRQCHIP:
				ret = check_irqchip(&h, &r, err, err_size);
				if (ret)
					return ret;
				slot = &p->irqchip[h.index];
				break;
			case KVMMIG_STATE_VM_PIT:
				if (h.index || r.size != sizeof(struct kvm_pit_state2))
					return reject(err, err_size,
						      "malformed state blob: PIT of %u bytes",
						      r.size);
				slot = &p->pit;
				break;
			case KVMMIG_STATE_VM_CLOCK:
				if (h.index || r.size != sizeof(struct kvm_clock_data))
					return reject(err, err_size,
						      "malformed state blob: CLOCK of %u bytes",
						      r.size);
				slot = &p->clock;
				break;
			case KVMMIG_STATE_DEVICE: {
				int d;

				if (r.size < sizeof(struct kvmmig_state_device_head) ||
				    r.size > sizeof(struct kvmmig_state_device_head) +
						 KVMMIG_STATE_MAX_DEVICE)
					return reject(
					    err, err_size,
					    "malformed state blob: DEVICE record of %u bytes",
					    r.size);
				d = find_device(vm, &r);
				if (d < 0) {
					char name[17];

					printable_device_name(&r, name);
					return reject(err, err_size,
						      "state blob has state of device '%s', "
						      "which this VM does not have",
						      name);
				}
				ret = claim_device_index(vm, h.index, device_index_seen, err,
							 err_size);
				if (ret)
					return ret;
				if (p->device[d].data || p->device_skipped[d])
					return reject(err, err_size,
						      "malformed state blob: state of device '%s' "
						      "appears twice",
						      vm->devices[d].ops->name);
				ret = device_reads(vm->devices[d].ops, &r, err, err_size);
				if (ret < 0)
					return ret;
				if (!ret) {
					p->device_skipped[d] = true;
					continue;
				}
				slot = &p->device[d];
				break;
			}
			case KVMMIG_STATE_END:
				continue;
			default:
				return reject(err, err_size,
					      "malformed state blob: unknown record type 0x%x",
					      h.type);
			}
		}
		if (slot->data)
			return reject(
			    err, err_size,
			    "malformed state blob: record type 0x%x index %u appears twice", h.type,
			    h.index);
		*slot = r;
	}

	/*
	 * VM_INFO (the vCPU count and CPU model the checks below rely on) may
	 * not be skipped: one of a newer version that is not flagged
	 * must-understand would otherwise pass every check it carries.
	 */
	if (!p->info.data)
		return reject(err, err_size,
			      "state blob lacks a VM_INFO record this VMM reads (version 1)");
	for (int i = 0; i < vm->ncpus; i++) {
		struct rec *v = p->vcpu[i];

		for (int s = 0; s < V_COUNT; s++) {
			if (s == V_FPU || s == V_XSAVE || s == V_XCRS || s == V_SREGS2)
				continue;
			if (!v[s].data)
				return reject(err, err_size, "state blob lacks %s of vCPU %d",
					      vcpu_slot_name[s], i);
		}
		if (!v[V_FPU].data == !v[V_XSAVE].data)
			return reject(
			    err, err_size,
			    "state blob must have exactly one of XSAVE and FPU for vCPU %d", i);
	}
	for (int i = 0; i < vm->ncpus; i++) {
		struct kvm_cpuid2 *cpuid = copy_aligned(&p->vcpu[i][V_CPUID]);
		struct kvm_cpuid2 *own =
		    calloc(1, sizeof(*own) + KVMMIG_STATE_MAX_CPUID * sizeof(own->entries[0]));
		int ret = -ENOMEM;

		if (cpuid && own) {
			own->nent = KVMMIG_STATE_MAX_CPUID;
			if (ioctl(vm->vcpus[i].fd, KVM_GET_CPUID2, own) < 0)
				own->nent = 0;
			ret = vmm_cpuid_check_supported(vm->kvm_fd, own, cpuid, err, err_size);
		}
		free(cpuid);
		free(own);
		if (ret)
			return ret;
	}
	for (int i = 0; i < vm->ncpus; i++) {
		struct kvm_msrs *msrs = copy_aligned(&p->vcpu[i][V_MSRS]);
		struct kvm_cpuid2 *cpuid = copy_aligned(&p->vcpu[i][V_CPUID]);

		ret = msrs && cpuid
			  ? vmm_feature_msrs_check(vm->kvm_fd, i, msrs, cpuid, err, err_size)
			  : -ENOMEM;
		free(msrs);
		free(cpuid);
		if (ret)
			return ret;
	}
	for (int c = 0; c < 3; c++)
		if (!p->irqchip[c].data)
			return reject(err, err_size, "state blob lacks irqchip %d", c);
	if (!p->pit.data)
		return reject(err, err_size, "state blob lacks the PIT");
	if (!p->clock.data)
		return reject(err, err_size, "state blob lacks the clock");
	for (int d = 0; d < vm->ndevices; d++) {
		const struct rec *r = &p->device[d];
		size_t head = sizeof(struct kvmmig_state_device_head);

		if (p->device_skipped[d])
			continue;
		if (!r->data)
			return reject(err, err_size, "state blob lacks device '%s'",
				      vm->devices[d].ops->name);
		if (vm->devices[d].ops->load(vm->devices[d].opaque, r->version, r->data + head,
					     r->size - head, false))
			return reject(err, err_size, "state blob has invalid state of device '%s'",
				      vm->devices[d].ops->name);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Apply
 */

/* KVM's structs want natural alignment; blob payloads are only 8-byte aligned.
 */
static void *copy_aligned(const struct rec *r)
{
	void *p = aligned_alloc(64, ALIGN8((size_t)r->size + 63) & ~(size_t)63);

	if (p)
		memcpy(p, r->data, r->size);
	return p;
}

static int set_from(int fd, unsigned long req, const struct rec *r)
{
	void *p = copy_aligned(r);
	int ret;

	if (!p)
		return -ENOMEM;
	ret = vmm_ioctl(fd, req, p);
	free(p);
	return ret < 0 ? ret : 0;
}

/* Whether the guest's CPUID promises an invariant TSC (leaf 0x80000007, EDX bit
 * 8). */
static bool guest_promised_invtsc(const struct rec *cpuid_rec)
{
	struct kvm_cpuid2 *cpuid = copy_aligned(cpuid_rec);
	bool invtsc = false;
	uint32_t n;

	if (!cpuid)
		return true; /* cannot tell: keep the strict answer */
	for (n = 0; n < cpuid->nent; n++)
		if (cpuid->entries[n].function == 0x80000007)
			invtsc = cpuid->entries[n].edx & (1u << 8);
	free(cpuid);
	return invtsc;
}

/*
 * KVM_SET_MSRS stops at the first MSR it refuses. Kernels differ in the
 * MSRs they emulate (6.1 lists Intel PMU counters on AMD hosts, 6.12 does
 * not), so an MSR this host's KVM refuses is dropped if the guest's value
 * is 0, its reset value: nothing is lost. Any other refusal stands.
 * Returns 0, -errno, or 1 with *refused set to the MSR that stands.
 * Consumes @msrs (its entries are shifted as they are set).
 */
static int set_msrs_dropping_absent_zeros(int fd, struct kvm_msrs *msrs, uint32_t *refused)
{
	for (;;) {
		int r = ioctl(fd, KVM_SET_MSRS, msrs);

		if (r < 0)
			return -errno;
		if ((uint32_t)r == msrs->nmsrs)
			return 0;
		if (msrs->entries[r].data != 0) {
			*refused = msrs->entries[r].index;
			return 1;
		}
		vmm_log("MSR 0x%x is not emulated by this host's KVM and the guest's value "
			"is 0: "
			"dropped",
			msrs->entries[r].index);
		msrs->nmsrs -= r + 1;
		memmove(msrs->entries, msrs->entries + r + 1,
			msrs->nmsrs * sizeof(msrs->entries[0]));
	}
}

/* Takes the entry for @index out of @msrs; false if there is none. */
static bool take_msr(struct kvm_msrs *msrs, uint32_t index, uint64_t *value)
{
	for (uint32_t i = 0; i < msrs->nmsrs; i++) {
		if (msrs->entries[i].index != index)
			continue;
		*value = msrs->entries[i].data;
		msrs->nmsrs--;
		memmove(&msrs->entries[i], &msrs->entries[i + 1],
			(msrs->nmsrs - i) * sizeof(msrs->entries[0]));
		return true;
	}
	return false;
}

/*
 * The MSRs, in three steps. MCG_CAP is no MSR KVM_SET_MSRS takes: when the
 * source's differs, KVM_X86_SETUP_MCE gives this vCPU the same banks (which
 * resets them) before they are set. Then everything else in calls of at
 * most MSR_CHUNK, the TSC among them. Last the TSC deadline, in a call of
 * its own: KVM reads it against the guest's TSC and the LAPIC timer mode,
 * so both must be in place (QEMU's kvm_put_tscdeadline_msr does the same).
 */
static int restore_msrs(struct vmm_vcpu *vcpu, const struct rec *r, const struct rec *cpuid_rec,
			char *err, size_t err_size)
{
	struct kvm_msrs *msrs = copy_aligned(r), *chunk;
	struct kvm_cpuid2 *cpuid = copy_aligned(cpuid_rec);
	uint64_t mcg_cap, cur, deadline, unseen;
	bool has_deadline;
	uint32_t refused = 0;
	int ret = 0, i = vcpu->index;

	chunk = calloc(1, sizeof(*chunk) + MSR_CHUNK * sizeof(chunk->entries[0]));
	if (!msrs || !chunk || !cpuid) {
		free(msrs);
		free(chunk);
		free(cpuid);
		return -ENOMEM;
	}
	/* A guest without PDCM never sees it; 7.x refuses a nonzero value for one (featmsr.h). */
	if (!vmm_guest_has_pdcm(cpuid))
		take_msr(msrs, MSR_PERF_CAPABILITIES, &unseen);
	free(cpuid);
	has_deadline = take_msr(msrs, MSR_TSC_DEADLINE, &deadline);
	if (take_msr(msrs, MSR_MCG_CAP, &mcg_cap) &&
	    (!read_msr(vcpu, MSR_MCG_CAP, &cur) || cur != mcg_cap) &&
	    (ret = vmm_ioctl(vcpu->fd, KVM_X86_SETUP_MCE, &mcg_cap))) {
		reject(err, err_size,
		       "unable to restore vCPU %d: KVM_X86_SETUP_MCE: this host's KVM "
		       "cannot give "
		       "the guest its MCE banks (MCG_CAP 0x%llx): %s",
		       i, (unsigned long long)mcg_cap, strerror(-ret));
		goto out;
	}
	for (uint32_t done = 0; done < msrs->nmsrs;) {
		uint32_t n = msrs->nmsrs - done < MSR_CHUNK ? msrs->nmsrs - done : MSR_CHUNK;

		chunk->nmsrs = n;
		memcpy(chunk->entries, &msrs->entries[done], n * sizeof(chunk->entries[0]));
		done += n;
		ret = set_msrs_dropping_absent_zeros(vcpu->fd, chunk, &refused);
		if (ret)
			break;
	}
	if (!ret && has_deadline) {
		chunk->nmsrs = 1;
		chunk->entries[0] =
		    (struct kvm_msr_entry){.index = MSR_TSC_DEADLINE, .data = deadline};
		ret = set_msrs_dropping_absent_zeros(vcpu->fd, chunk, &refused);
	}
	if (ret) {
		reject(err, err_size, "unable to restore vCPU %d: KVM refused MSR 0x%x", i,
		       ret > 0 ? refused : 0);
		if (ret > 0)
			ret = -EINVAL;
	}
out:
	free(msrs);
	free(chunk);
	return ret;
}

static int restore_vcpu(struct vmm_vcpu *vcpu, struct rec *v, char *err, size_t err_size)
{
	struct vmm_vm *vm = vcpu->vm;
	uint32_t tsc_khz;
	int ret, i = vcpu->index;

#define SET(req, slot)                                                                             \
	do {                                                                                       \
		ret = set_from(vcpu->fd, req, &v[slot]);                                           \
		if (ret) {                                                                         \
			reject(err, err_size, "unable to restore vCPU %d: %s: %s", i, #req,        \
			       strerror(-ret));                                                    \
			return ret;                                                                \
		}                                                                                  \
	} while (0)

	memcpy(&tsc_khz, v[V_TSC_KHZ].data, sizeof(tsc_khz));
	if (tsc_khz) {
		int cur = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

		if (cur != (int)tsc_khz &&
		    ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)tsc_khz) < 0 &&
		    !guest_promised_invtsc(&v[V_CPUID])) {
			/*
			 * As QEMU does: a guest not promised an invariant TSC
			 * runs on at this host's rate (kvmclock tells it the new
			 * rate; the TSC value itself is restored, so it never
			 * runs backwards). Hosts of one model differ by a few
			 * hundred ppm, beyond KVM's tolerance without scaling.
			 */
			if (i == 0)
				vmm_log(
				    "guest TSC ran at %u kHz, this host's runs at %d kHz and KVM "
				    "cannot scale it: the guest continues at this host's rate",
				    tsc_khz, cur);
		} else if (cur != (int)tsc_khz &&
			   ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0) != (int)tsc_khz) {
			ret = -EINVAL;
			reject(err, err_size,
			       "unable to restore vCPU %d: guest TSC runs at %u kHz, this host at "
			       "%d kHz, KVM cannot scale it and the guest was promised an "
			       "invariant TSC: %s",
			       i, tsc_khz, cur, strerror(-ret));
			return ret;
		}
	}
	SET(KVM_SET_CPUID2, V_CPUID);
	if (i == 0) {
		struct kvm_cpuid2 *cpuid0 = copy_aligned(&v[V_CPUID]);
		int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);

		/* The guest's rate now (scaled or not): status and the next handshake say it. */
		if (khz > 0)
			vm->tsc_khz = khz;

		if (cpuid0) {
			free(vm->cpuid0);
			vm->cpuid0 = cpuid0;
		}
	}
	/*
	 * REGS before EVENTS (QEMU's kvm_arch_put_registers, Firecracker's
	 * restore_state): KVM_SET_REGS drops a pending exception, and with
	 * KVM_CAP_EXCEPTION_PAYLOAD a trap the guest is owed (a single-step
	 * #DB queued as KVM completed an I/O exit) is pending, not injected.
	 */
	SET(KVM_SET_REGS, V_REGS);
	/* SREGS2 carries the PDPTRs a PAE guest loaded; with SREGS KVM rereads them from memory. */
	if (v[V_SREGS2].data && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0)
		SET(KVM_SET_SREGS2, V_SREGS2);
	else
		SET(KVM_SET_SREGS, V_SREGS);
	SET(KVM_SET_LAPIC, V_LAPIC);
	ret = restore_msrs(vcpu, &v[V_MSRS], &v[V_CPUID], err, err_size);
	if (ret)
		return ret;
	if (v[V_XCRS].data)
		SET(KVM_SET_XCRS, V_XCRS);
	if (v[V_XSAVE].data) {
		struct rec full = v[V_XSAVE];
		uint8_t *buf = aligned_alloc(64, ALIGN8((size_t)vm->xsave_size + 63) & ~(size_t)63);

		/* A smaller source area is the same layout with fewer components: zero the
		 * rest. */
		if (!buf)
			return -ENOMEM;
		memset(buf, 0, vm->xsave_size);
		memcpy(buf, full.data, full.size);
		ret = vmm_ioctl(vcpu->fd, KVM_SET_XSAVE, buf);
		free(buf);
		if (ret < 0) {
			reject(err, err_size, "unable to restore vCPU %d: KVM_SET_XSAVE: %s", i,
			       strerror(-ret));
			return ret;
		}
	} else {
		SET(KVM_SET_FPU, V_FPU);
	}
	SET(KVM_SET_VCPU_EVENTS, V_EVENTS);
	SET(KVM_SET_MP_STATE, V_MP_STATE);
	SET(KVM_SET_DEBUGREGS, V_DEBUGREGS);
#undef SET
	return 0;
}

int vmm_state_restore(struct vmm_vm *vm, const uint8_t *blob, size_t size, char *err,
		      size_t err_size)
{
	struct parsed_state *p;
	struct kvm_clock_data clock;
	int ret;

	pthread_mutex_lock(&vm->lock);
	/* An incoming VM's vCPU threads never enter KVM_RUN before resume: parked or
	 * not yet. */
	ret = vm->state == VMM_VM_INCOMING ? 0 : -EBUSY;
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; !ret && i < vm->ncpus; i++)
		if (vm->vcpus[i].has_run)
			ret = -EBUSY;
	if (ret) {
		reject(err, err_size, "restore-state needs an incoming VM whose vCPUs never ran");
		return ret;
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	ret = parse_state(vm, blob, size, p, err, err_size);
	if (ret)
		goto out;

	vm->state_restored = false;
	for (int i = 0; i < vm->ncpus; i++) {
		ret = restore_vcpu(&vm->vcpus[i], p->vcpu[i], err, err_size);
		if (ret)
			goto out;
	}
	for (int c = 0; c < 3; c++) {
		ret = set_from(vm->vm_fd, KVM_SET_IRQCHIP, &p->irqchip[c]);
		if (ret) {
			reject(err, err_size, "unable to restore irqchip %d: %s", c,
			       strerror(-ret));
			goto out;
		}
	}
	ret = set_from(vm->vm_fd, KVM_SET_PIT2, &p->pit);
	if (ret) {
		reject(err, err_size, "unable to restore the PIT: %s", strerror(-ret));
		goto out;
	}
	/* Only the clock value: guest time continues from the save, the pause is not
	 * seen. */
	memcpy(&clock, p->clock.data, sizeof(clock));
	clock.flags = 0;
	ret = vmm_ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock);
	if (ret) {
		reject(err, err_size, "unable to restore kvmclock: %s", strerror(-ret));
		goto out;
	}
	for (int d = 0; d < vm->ndevices; d++) {
		const struct rec *r = &p->device[d];
		size_t head = sizeof(struct kvmmig_state_device_head);

		if (p->device_skipped[d])
			continue;
		ret = vm->devices[d].ops->load(vm->devices[d].opaque, r->version, r->data + head,
					       r->size - head, true);
		if (ret) {
			reject(err, err_size, "unable to restore device '%s': %s",
			       vm->devices[d].ops->name, strerror(-ret));
			goto out;
		}
	}
	/* The state handed to KVM is each vCPU's last seen, for a post mortem. */
	for (int i = 0; i < vm->ncpus; i++)
		vmm_vcpu_sample_now(&vm->vcpus[i]);
	pthread_mutex_lock(&vm->lock);
	vm->state_restored = true;
	pthread_mutex_unlock(&vm->lock);
out:
	free(p);
	return ret;
}
