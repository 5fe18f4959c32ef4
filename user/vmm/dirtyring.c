/*
 * dirtyring.c: KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING[_ACQ_REL]), reaped by
 * the VMM and reported to kvmmig.ko.
 *
 * With a ring, KVM records each page a vCPU dirties as one entry of that
 * vCPU's ring (a page the VMM maps from the vCPU fd) instead of a bit of the
 * slot's bitmap, and the bitmap ioctls fail. The ring belongs to the VMM as
 * its memslots do: the VM is attached with KVMMIG_ATTACH_DIRTY_RING, and the
 * VMM reaps every vCPU's ring when the tool asks (before each round: the
 * control command "dirty-ring reap") and when a ring fills
 * (KVM_EXIT_DIRTY_RING_FULL). A reap takes every published entry, hands
 * them back to KVM (KVM_RESET_DIRTY_RINGS write-protects those pages
 * again), and only then reports them to kvmmig.ko with KVMMIG_MARK_DIRTY_RUNS:
 * the module reads a reported page after its protection is back, so a
 * write after the read faults into the ring again and is sent next round
 * (the bitmap path's "clear before send").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/vmm.h"

int vmm_dirty_ring_enable(struct vmm_vm *vm, uint32_t entries)
{
	uint64_t bytes = (uint64_t)entries * sizeof(struct kvm_dirty_gfn);
	struct kvm_enable_cap cap = {.args[0] = bytes};
	int max;

	if (!entries || entries & (entries - 1)) {
		vmm_log("--dirty-ring %u: the ring's size must be a power of two", entries);
		return -EINVAL;
	}
	/* ACQ_REL where KVM offers it: the ordering the reap below relies on, stated. */
	max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL);
	cap.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	if (max <= 0) {
		max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
	}
	if (max <= 0) {
		vmm_log("--dirty-ring: this host's KVM has no dirty ring (KVM_CAP_DIRTY_LOG_RING)");
		return -EOPNOTSUPP;
	}
	if (bytes > (uint64_t)max || bytes < (uint64_t)getpagesize()) {
		vmm_log("--dirty-ring %u: KVM takes %zu to %zu entries per vCPU", entries,
			(size_t)getpagesize() / sizeof(struct kvm_dirty_gfn),
			(size_t)max / sizeof(struct kvm_dirty_gfn));
		return -EINVAL;
	}
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		int err = -errno;

		vmm_log("KVM refused a dirty ring of %u entries: %s", entries, strerror(-err));
		return err;
	}
	vm->ring_entries = entries;
	vm->ring_found = calloc((size_t)entries * vm->ncpus, sizeof(*vm->ring_found));
	vm->ring_runs = calloc(KVMMIG_MARK_DIRTY_RUNS_MAX, sizeof(*vm->ring_runs));
	return vm->ring_found && vm->ring_runs ? 0 : -ENOMEM;
}

int vmm_dirty_ring_map(struct vmm_vcpu *vcpu)
{
	size_t bytes = (size_t)vcpu->vm->ring_entries * sizeof(struct kvm_dirty_gfn);
	void *ring;

	if (!vcpu->vm->ring_entries)
		return 0;
	ring = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd,
		    (off_t)getpagesize() * KVM_DIRTY_LOG_PAGE_OFFSET);
	if (ring == MAP_FAILED) {
		int err = -errno;

		vmm_log("unable to map vCPU %d's dirty ring: %s", vcpu->index, strerror(-err));
		return err;
	}
	vcpu->ring = ring;
	return 0;
}

void vmm_dirty_ring_unmap(struct vmm_vcpu *vcpu)
{
	if (vcpu->ring)
		munmap(vcpu->ring, (size_t)vcpu->vm->ring_entries * sizeof(struct kvm_dirty_gfn));
	vcpu->ring = NULL;
}

/* Takes @vcpu's published entries into vm->ring_found; marks them for KVM's reset. */
static uint32_t collect(struct vmm_vcpu *vcpu, uint32_t at)
{
	struct vmm_vm *vm = vcpu->vm;
	uint32_t n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &vcpu->ring[vcpu->ring_next & (vm->ring_entries - 1)];

		/* KVM publishes an entry with a release store of DIRTY: acquire it. */
		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		vm->ring_found[at + n].slot = e->slot;
		vm->ring_found[at + n].offset = e->offset;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		vcpu->ring_next++;
		n++;
		/* A ring holds at most @ring_entries unreset entries. */
		if (n == vm->ring_entries)
			break;
	}
	return n;
}

/* The guest-physical address of a ring entry, or UINT64_MAX if no slot of ours has it. */
static uint64_t entry_gpa(const struct vmm_vm *vm, const struct kvm_dirty_gfn *e)
{
	/* Bits 16+ are the address space: 1 is SMM, which this VMM never creates. */
	if (e->slot >> 16)
		return UINT64_MAX;
	for (int i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];

		if (s->slot == (e->slot & 0xffff) && e->offset < s->size / 4096)
			return s->gpa + e->offset * 4096;
	}
	return UINT64_MAX;
}

static int by_slot_and_page(const void *a, const void *b)
{
	const struct kvm_dirty_gfn *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* One KVMMIG_MARK_DIRTY_RUNS of the @n runs gathered; @err keeps the first failure. */
static void report_runs(struct vmm_vm *vm, uint32_t n, int *err)
{
	struct kvmmig_mark_dirty_runs arg = {.runs = (uintptr_t)vm->ring_runs, .count = n};

	if (n && ioctl(vm->kvmmig_fd, KVMMIG_MARK_DIRTY_RUNS, &arg) < 0 && !*err)
		*err = -errno;
}

/*
 * Reports @n entries to kvmmig.ko as runs of adjacent pages, up to
 * KVMMIG_MARK_DIRTY_RUNS_MAX runs a call: sorted first, since the rings
 * hold them in the order the vCPUs wrote them, each vCPU's apart.
 */
static int report(struct vmm_vm *vm, uint32_t n)
{
	struct kvmmig_mark_dirty *run = NULL;
	uint32_t runs = 0;
	int err = 0;

	qsort(vm->ring_found, n, sizeof(vm->ring_found[0]), by_slot_and_page);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = entry_gpa(vm, &vm->ring_found[i]);

		if (gpa == UINT64_MAX) {
			vmm_log("dirty ring: an entry for slot 0x%x offset %llu, which is no memslot "
				"of this VM: ignored",
				vm->ring_found[i].slot, (unsigned long long)vm->ring_found[i].offset);
			continue;
		}
		if (run && gpa == run->gpa + run->size &&
		    vmm_gpa_to_hva(vm, run->gpa, run->size + 4096)) {
			run->size += 4096;
			continue;
		}
		if (runs == KVMMIG_MARK_DIRTY_RUNS_MAX) {
			report_runs(vm, runs, &err);
			runs = 0;
		}
		run = &vm->ring_runs[runs++];
		*run = (struct kvmmig_mark_dirty){.gpa = gpa, .size = 4096};
	}
	report_runs(vm, runs, &err);
	return err;
}

static int reap_locked(struct vmm_vm *vm, uint64_t *pages, bool full)
{
	uint32_t n = 0;
	int err = 0;

	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		uint32_t got;

		if (!vcpu->ring)
			continue;
		got = collect(vcpu, n);
		vm->ring_reaped[i] += got;
		vmm_dirty_limit_account(vcpu, vm->ring_reaped[i]);
		n += got;
	}
	/* Protection back first, then the report: see the top of this file. */
	if (n && ioctl(vm->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		err = -errno;
	if (full)
		vm->ring_full_exits++;
	/* The test of a lost ring: its pages never reach the module (kvmmig-vm(8)). */
	if (vm->ring_drop)
		n = 0;
	if (!err && n && vm->kvmmig_fd >= 0)
		err = report(vm, n);
	/*
	 * Sticky until logging is switched on again: a vCPU thread's reap that
	 * could not report (the stream had ended) must fail the tool's next.
	 */
	if (err && !vm->ring_error)
		vm->ring_error = err;
	*pages = n;
	return vm->ring_error;
}

int vmm_dirty_ring_reap(struct vmm_vm *vm, uint64_t *pages)
{
	int err;

	*pages = 0;
	if (!vm->ring_entries)
		return 0;
	pthread_mutex_lock(&vm->ring_lock);
	err = reap_locked(vm, pages, false);
	pthread_mutex_unlock(&vm->ring_lock);
	return err;
}

int vmm_dirty_ring_full(struct vmm_vm *vm)
{
	uint64_t pages;
	int err;

	pthread_mutex_lock(&vm->ring_lock);
	err = reap_locked(vm, &pages, true);
	pthread_mutex_unlock(&vm->ring_lock);
	return err;
}
