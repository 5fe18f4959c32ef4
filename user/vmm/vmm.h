/* vmm.h: the VMM-side library: one KVM VM, its guest memory, its vCPU threads, pause and resume. */
#ifndef KVMMIG_VMM_H
#define KVMMIG_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvmmig.h>

#include "common/cpumodel.h"

#define VMM_MAX_VCPUS	 64
#define VMM_MAX_MEMSLOTS 2
#define VMM_MAX_DEVICES	 8

/*
 * Guest physical memory layout, fixed so that it never changes while a VM
 * runs and so that kvmmig.ko (which toggles dirty logging on these slots)
 * sees two simple slots at most:
 *	slot 0: [0, min(mem, 3 GiB))
 *	slot 1: [4 GiB, 4 GiB + mem - 3 GiB)	only when mem > 3 GiB
 * [3 GiB, 4 GiB) is the hole for MMIO, the IOAPIC, the LAPIC and the TSS.
 * Both slots live in one memfd (slot 1 at file offset 3 GiB), mapped
 * MAP_SHARED: the module reads and fills these pages from its own context.
 */
#define VMM_LOWMEM_END	  0xc0000000ull
#define VMM_HIGHMEM_START 0x100000000ull
/* Intel's KVM_SET_TSS_ADDR needs three pages in the hole; the identity map one more. */
#define VMM_TSS_ADDR	      0xfffbd000ull
#define VMM_IDENTITY_MAP_ADDR 0xfffbc000ull

enum vmm_vm_state {
	VMM_VM_RUNNING,
	VMM_VM_PAUSED,
	/* Empty VM waiting for restore-state and resume; its vCPUs never ran. */
	VMM_VM_INCOMING,
	VMM_VM_STOPPING,
};

struct vmm_memslot {
	uint32_t slot;
	uint64_t gpa;
	uint64_t size;
	uint64_t file_offset; /* in the memfd and in memory images */
	uint8_t *hva;
};

struct vmm_vm;

/* A vCPU's state at a recent exit (postmortem.c). */
struct vmm_vcpu_sample {
	bool valid;
	uint64_t at_ms; /* CLOCK_MONOTONIC_COARSE */
	uint64_t rip, rsp;
	struct kvm_sregs sregs;
};

struct vmm_vcpu {
	struct vmm_vm *vm;
	int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	/* The last KVM_RUN returned an exit that only the next KVM_RUN completes. */
	bool exit_pending;
	bool has_run;
	void *priv; /* the VMM's per-vCPU data */
	/* KVM's dirty ring of this vCPU, mapped from its fd (dirtyring.c), and the next entry. */
	struct kvm_dirty_gfn *ring;
	uint32_t ring_next;
	/* This vCPU's thread's, but for a restore, while it is parked or never ran. */
	struct vmm_vcpu_sample last_seen;
	/*
	 * The dirty limit (throttle.c): the mark its pages are counted from
	 * (under the VM's ring_lock), and when its sleep ends (0: none; read
	 * atomically).
	 */
	uint64_t limit_mark_ns, limit_mark_pages, limit_until_ns;
};

/*
 * What the VMM (not the library) emulates. Handlers run on the vCPU thread
 * that exited; they return 0 to go on, or call vmm_vm_request_stop().
 * Unhandled port reads return all ones, unhandled writes are dropped.
 */
struct vmm_exit_ops {
	/* One access of @size bytes at @port; @data is in/out. */
	void (*pio)(struct vmm_vcpu *vcpu, uint16_t port, bool out, uint8_t *data, uint32_t size);
	/* A string access (rep outs/ins) with @count items: one call for all of them. */
	void (*pio_string)(struct vmm_vcpu *vcpu, uint16_t port, bool out, uint8_t *data,
			   uint32_t size, uint32_t count);
	void (*mmio)(struct vmm_vcpu *vcpu, uint64_t gpa, bool write, uint8_t *data, uint32_t len);
	/* After a triple fault: checks what the VMM itself put in guest memory. */
	void (*post_mortem)(struct vmm_vm *vm);
};

/*
 * Device state in the state blob: one DEVICE record whose version is the
 * device's state version. @save writes state of @version, at most @cap
 * bytes, and returns the size used or -errno. @load gets state of
 * @state_version, from @first_version to @version (a device reads every
 * version it ever wrote, so that hosts can be upgraded one at a time; the
 * blob is refused before @load sees any other); it checks @data (@apply
 * false) or applies it (@apply true, only after every record of the blob
 * checked).
 */
struct vmm_device_ops {
	const char *name;	/* at most 15 characters, unique */
	uint16_t version;	/* the state version @save writes, from 1 */
	uint16_t first_version; /* the oldest version @load reads, 1 to @version */
	int (*save)(void *opaque, void *buf, size_t cap);
	int (*load)(void *opaque, uint16_t state_version, const void *data, size_t len, bool apply);
};

struct vmm_vm_config {
	const char *name;
	uint64_t mem_bytes;
	uint64_t hugepage_bytes; /* 0: 4 KiB pages; 2 MiB or 1 GiB: a hugetlb memfd */
	int ncpus;
	const struct cpu_model *cpu_model; /* cpu_models[0] (host) if NULL */
	bool incoming;
	uint32_t dirty_ring_entries; /* 0: KVM's dirty bitmap; else a ring of this many per vCPU */
	bool unsafe_dirty_ring_drop; /* tests only: see vmm_vm.ring_drop */
	const struct vmm_exit_ops *exit_ops;
	void *priv;
};

struct vmm_vm {
	char name[KVMMIG_NAME_MAX];
	int kvm_fd;
	int vm_fd;
	int mem_fd;
	uint8_t *mem;
	uint64_t mem_bytes;
	uint64_t hugepage_bytes; /* 0, or the size of the hugetlb pages of mem_fd */
	/*
	 * vCPU 0's CPUID as last set (at creation or restore): status reports
	 * it without a vCPU ioctl, which would wait for that vCPU to leave
	 * KVM_RUN. Guarded by being written only while vCPUs are stopped.
	 */
	struct kvm_cpuid2 *cpuid0;
	int nslots;
	struct vmm_memslot slots[VMM_MAX_MEMSLOTS];
	int ncpus;
	struct vmm_vcpu vcpus[VMM_MAX_VCPUS];
	const struct cpu_model *cpu_model;
	const struct vmm_exit_ops *exit_ops;
	void *priv;

	/* KVM capabilities the state code sizes its buffers from. */
	int xsave_size; /* 0: no XSAVE, use KVM_GET_FPU */
	bool has_xcrs;
	bool has_tsc_control;
	int tsc_khz; /* vCPU 0's at creation; 0 if KVM cannot say */
	struct kvm_msr_list *msr_list;

	int kvmmig_fd; /* -1 when running without kvmmig.ko */
	bool dirty_logging; /* KVM_MEM_LOG_DIRTY_PAGES on every memslot */

	/*
	 * KVM's dirty ring (dirtyring.c), 0 entries when the VM uses the
	 * bitmap. @ring_lock serializes reaps (the control thread's, and a
	 * vCPU thread's whose ring filled); @ring_found is the reap's buffer
	 * (every ring's entries) and @ring_runs its report's (runs of
	 * adjacent pages), @ring_reaped each vCPU's pages so far.
	 */
	uint32_t ring_entries;
	pthread_mutex_t ring_lock;
	struct kvm_dirty_gfn *ring_found;
	struct kvmmig_mark_dirty *ring_runs; /* KVMMIG_MARK_DIRTY_RUNS_MAX */
	uint64_t ring_reaped[VMM_MAX_VCPUS];
	int ring_error; /* a reap's first failure, until dirty logging goes on again */
	uint64_t ring_full_exits; /* KVM_EXIT_DIRTY_RING_FULL so far, under @ring_lock */
	/* Tests only (--unsafe-dirty-ring-drop): every reap's entries are reset, not reported. */
	bool ring_drop;

	struct {
		const struct vmm_device_ops *ops;
		void *opaque;
	} devices[VMM_MAX_DEVICES];
	int ndevices;

	/* Run control, under @lock. */
	pthread_mutex_t lock;
	pthread_cond_t parked_cond;
	pthread_cond_t resume_cond;
	enum vmm_vm_state state;
	bool pause_requested; /* also read without @lock, atomically */
	bool quitting;
	int nparked;
	bool state_restored;

	/* Stop request: the first one wins; the VMM's main loop waits on @stop_fd. */
	int stop_fd; /* eventfd */
	bool stop_requested;
	int stop_status;
	char stop_reason[128];

	uint64_t vmm_written_bytes; /* see vmm_guest_mem_written() */

	/*
	 * The vCPU throttle (throttle.c), under @lock: percent of each period
	 * the vCPUs sleep, 0 for none. @throttle_until_ns (CLOCK_MONOTONIC,
	 * also read atomically) is when the current sleep ends.
	 */
	unsigned int throttle_pct;
	uint64_t throttle_mask; /* the vCPUs throttled (bit i: vCPU i); also read atomically */
	uint64_t throttle_until_ns;
	pthread_cond_t throttle_cond; /* on CLOCK_MONOTONIC */
	pthread_t throttle_thread;
	bool throttle_thread_started;
	/*
	 * The dirty limit (throttle.c; a dirty-ring VM): pages a second each
	 * vCPU of @dirty_limit_mask may dirty, 0 for none; both read atomically.
	 */
	uint64_t dirty_limit, dirty_limit_mask;
};

extern bool vmm_verbose;
void vmm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vmm_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens /dev/kvm, creates the VM with its irqchip, PIT and memory, and the vCPUs. */
int vmm_vm_create(struct vmm_vm **out, const struct vmm_vm_config *config);
/* Stops and joins the vCPU threads, then frees everything. */
void vmm_vm_destroy(struct vmm_vm *vm);

/*
 * KVM's dirty ring (dirtyring.c). enable: before any vCPU exists, @entries
 * a power of two KVM takes; map/unmap: each vCPU's ring. reap: takes every
 * vCPU's published entries, gives them back to KVM (their pages
 * write-protected again) and then reports them to kvmmig.ko; *@pages: how
 * many. Returns 0 or -errno (ESTALE: kvmmig.ko's stream had already ended,
 * so a page written after the final round cannot reach the destination).
 */
int vmm_dirty_ring_enable(struct vmm_vm *vm, uint32_t entries);
int vmm_dirty_ring_map(struct vmm_vcpu *vcpu);
void vmm_dirty_ring_unmap(struct vmm_vcpu *vcpu);
int vmm_dirty_ring_reap(struct vmm_vm *vm, uint64_t *pages);
/* A vCPU thread's KVM_EXIT_DIRTY_RING_FULL: reaps every ring (counted, for status). */
int vmm_dirty_ring_full(struct vmm_vm *vm);

/* Starts one thread per vCPU: running, or parked for an incoming VM. */
int vmm_vm_start(struct vmm_vm *vm);
/* Returns once every vCPU is out of KVM_RUN with its pending exit completed. */
int vmm_vm_pause(struct vmm_vm *vm);
int vmm_vm_resume(struct vmm_vm *vm);
int vmm_vm_set_dirty_logging(struct vmm_vm *vm, bool on);
/*
 * The vCPU throttle of auto-converge (throttle.c): every vCPU sleeps @pct
 * percent of each period (a 10 ms slice run, then pct/(100-pct) of it
 * asleep), 0 to 99; 0 lifts it at once. A pause, a quit or lifting it
 * wakes a sleeping vCPU at once. -EINVAL above 99.
 */
void vmm_throttle_init(struct vmm_vm *vm); /* at creation, with the VM's lock */
/* @mask: the vCPUs that sleep (bit i: vCPU i); the others run on. */
int vmm_throttle_set(struct vmm_vm *vm, unsigned int pct, uint64_t mask);
unsigned int vmm_throttle_get(struct vmm_vm *vm);
/* The vCPU thread's part: sleeps while a throttle period asks it to; true if it did. */
bool vmm_throttle_sleep(struct vmm_vcpu *vcpu);
/*
 * The dirty limit of a dirty-ring VM (QEMU's dirty-limit): each vCPU of
 * @mask may dirty @pages_per_s pages a second; 0 lifts it. Each reap of its
 * ring (account, under ring_lock) sets how long the pages it found must
 * take, and the vCPU sleeps the rest at its next exit (sleep: true if it
 * had a due; a pause or a quit ends the sleep early). set returns 0 or
 * -EINVAL (no dirty ring).
 */
int vmm_dirty_limit_set(struct vmm_vm *vm, uint64_t pages_per_s, uint64_t mask);
uint64_t vmm_dirty_limit_get(struct vmm_vm *vm, uint64_t *mask);
void vmm_dirty_limit_account(struct vmm_vcpu *vcpu, uint64_t pages);
bool vmm_dirty_limit_sleep(struct vmm_vcpu *vcpu);
/* Interrupts KVM_RUN of every vCPU but the caller (immediate_exit and a signal). */
void vmm_vcpus_kick(struct vmm_vm *vm);

/* Ends the vCPU threads for good (from any state) and joins them. */
void vmm_vcpus_kick_and_join(struct vmm_vm *vm);
/* Any thread: ends the VM with exit @status; the first request wins. */
void vmm_vm_request_stop(struct vmm_vm *vm, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum vmm_vm_state vmm_vm_get_state(struct vmm_vm *vm);
const char *vmm_vm_state_name(enum vmm_vm_state state);

/*
 * Post mortem (postmortem.c): vmm_vcpu_sample() keeps a vCPU's state at an
 * exit, at most every 100 ms (and at a restore); after a triple fault, which resets the vCPU
 * on AMD, vmm_vcpu_post_mortem() logs that state and the guest's page walk
 * of its RIP and #PF/#DF gates as they are in memory now.
 */
void vmm_vcpu_sample(struct vmm_vcpu *vcpu);
/* Samples at once: a restore (the vCPU parked, or never run). */
void vmm_vcpu_sample_now(struct vmm_vcpu *vcpu);
void vmm_vcpu_post_mortem(struct vmm_vcpu *vcpu);

/* Guest memory: a host pointer to [gpa, gpa + len) inside one slot, or NULL. */
void *vmm_gpa_to_hva(struct vmm_vm *vm, uint64_t gpa, uint64_t len);
/*
 * Every write the VMM itself makes to guest memory (loaders, device
 * emulation, DMA) must be reported here: KVM's dirty log does not see it,
 * and a migration must re-send those pages (Documentation/kvmmig.rst,
 * "Invariants", 6). When attached, the range goes to kvmmig.ko
 * (KVMMIG_MARK_DIRTY, page-rounded, split per memslot); call it after the
 * write is complete.
 */
void vmm_guest_mem_written(struct vmm_vm *vm, uint64_t gpa, uint64_t len);
/* Copies @len bytes into guest memory at @gpa and reports the write; -EFAULT outside memory. */
int vmm_guest_write(struct vmm_vm *vm, uint64_t gpa, const void *src, uint64_t len);

/*
 * Memory images: raw slots in slot order (see ctlproto.h, save-memory).
 * vmm_memory_save() writes one into @fd, a new empty file the caller
 * opened (and closes).
 */
int vmm_memory_save(struct vmm_vm *vm, int fd);
int vmm_memory_load(struct vmm_vm *vm, const char *path);

/* -EINVAL for a name too long or state versions out of order (vmm_device_versions_valid()). */
int vmm_device_register(struct vmm_vm *vm, const struct vmm_device_ops *ops, void *opaque);

/* "key value" lines of the control protocol's status, into a malloc'ed string. */
char *vmm_vm_status_text(struct vmm_vm *vm, const char *guest_kind);

/* ioctl wrappers that return -errno. */
int vmm_ioctl(int fd, unsigned long request, void *arg);

#endif /* KVMMIG_VMM_H */
