/* vm.c: creating a KVM VM with its irqchip, PIT, guest memory and vCPUs; guest memory access. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/attach.h"
#include "vmm/cpuid.h"
#include "vmm/digest.h"
#include "vmm/state.h"
#include "vmm/vmm.h"

bool vmm_verbose;

void vmm_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("kvmmig-vm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void vmm_debug(const char *fmt, ...)
{
	va_list ap;

	if (!vmm_verbose)
		return;
	va_start(ap, fmt);
	fputs("kvmmig-vm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int vmm_ioctl(int fd, unsigned long request, void *arg)
{
	int r = ioctl(fd, request, arg);

	return r < 0 ? -errno : r;
}

static int check_extension(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

static int fetch_msr_list(struct vmm_vm *vm)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	struct kvm_msr_list *list;

	/* E2BIG tells how many there are. */
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) == 0 || errno != E2BIG)
		return errno ? -errno : -EIO;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		int err = -errno;

		free(list);
		return err;
	}
	vm->msr_list = list;
	return 0;
}

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26 /* <linux/memfd.h>, which clashes with glibc's <sys/mman.h> */
#endif

/*
 * Guest memory is a memfd, shared: kvmmig.ko tells its holes from the
 * file's page cache (never written: nothing to read or send), and so it
 * stays with hugetlb pages (@hugepage_bytes 2 MiB or 1 GiB; @mem_bytes a
 * multiple of it, checked by the caller).
 */
static int create_memory(struct vmm_vm *vm, uint64_t mem_bytes, uint64_t hugepage_bytes)
{
	uint64_t low = mem_bytes < VMM_LOWMEM_END ? mem_bytes : VMM_LOWMEM_END;
	unsigned int flags = MFD_CLOEXEC;

	if (hugepage_bytes)
		flags |= MFD_HUGETLB | (__builtin_ctzll(hugepage_bytes) << MFD_HUGE_SHIFT);
	vm->mem_fd = memfd_create("kvmmig-guest-mem", flags);
	if (vm->mem_fd < 0)
		return -errno;
	if (ftruncate(vm->mem_fd, mem_bytes) < 0)
		return -errno;
	vm->mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		vm->mem = NULL;
		return -errno;
	}
	vm->mem_bytes = mem_bytes;
	vm->hugepage_bytes = hugepage_bytes;
	madvise(vm->mem, mem_bytes, MADV_DONTDUMP);

	vm->slots[0] = (struct vmm_memslot){.slot = 0, .gpa = 0, .size = low, .file_offset = 0};
	vm->nslots = 1;
	if (mem_bytes > low) {
		vm->slots[1] = (struct vmm_memslot){.slot = 1,
						    .gpa = VMM_HIGHMEM_START,
						    .size = mem_bytes - low,
						    .file_offset = low};
		vm->nslots = 2;
	}
	for (int i = 0; i < vm->nslots; i++) {
		struct vmm_memslot *s = &vm->slots[i];
		struct kvm_userspace_memory_region region = {
		    .slot = s->slot,
		    .guest_phys_addr = s->gpa,
		    .memory_size = s->size,
		    .userspace_addr = (uintptr_t)(vm->mem + s->file_offset),
		};

		s->hva = vm->mem + s->file_offset;
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	return 0;
}

/*
 * The VMM owns its memslots: it switches KVM's dirty logging on for every
 * slot before kvmmig.ko migrates the VM, and off after (kvmmig.ko only
 * checks, it never changes a memslot). Called from the control thread,
 * the only one that changes memslots after creation.
 */
int vmm_vm_set_dirty_logging(struct vmm_vm *vm, bool on)
{
	for (int i = 0; i < vm->nslots; i++) {
		struct vmm_memslot *s = &vm->slots[i];
		struct kvm_userspace_memory_region region = {
		    .slot = s->slot,
		    .flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		    .guest_phys_addr = s->gpa,
		    .memory_size = s->size,
		    .userspace_addr = (uintptr_t)s->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return -errno;
	}
	vm->dirty_logging = on;
	if (on) {
		pthread_mutex_lock(&vm->ring_lock);
		vm->ring_error = 0;
		pthread_mutex_unlock(&vm->ring_lock);
	}
	return 0;
}

/*
 * Whether this host's KVM gives every feature the VM's model requires,
 * asked once vCPU 0 has its CPUID: PVM lists less in its supported CPUID
 * than its vCPUs get, and reports those with KVM_GET_CPUID2.
 */
static int check_model(struct vmm_vm *vm, struct vmm_vcpu *vcpu, char *why, size_t len)
{
	struct kvm_cpuid2 *own = calloc(1, sizeof(*own) + 256 * sizeof(own->entries[0]));
	int err;

	if (!own)
		return -ENOMEM;
	own->nent = 256;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, own) < 0)
		own->nent = 0;
	err = vmm_cpu_model_check_host(vm->kvm_fd, vm->cpu_model, own, why, len);
	free(own);
	return err;
}

static int create_vcpu(struct vmm_vm *vm, int index)
{
	struct vmm_vcpu *vcpu = &vm->vcpus[index];
	struct kvm_cpuid2 *cpuid;
	int run_size, err;

	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		err = -errno;
		vmm_log("unable to create vCPU %d: %s", index, strerror(-err));
		return err;
	}
	run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		return -errno;
	vcpu->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		return -errno;
	}
	vcpu->run_size = run_size;
	err = vmm_dirty_ring_map(vcpu);
	if (err)
		return err;

	err = vmm_cpuid_build(vm->kvm_fd, vm->cpu_model, index, vm->ncpus, &cpuid);
	if (err) {
		vmm_log("unable to build the CPUID of vCPU %d: %s", index, strerror(-err));
		return err;
	}
	err = vmm_ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	if (!err && index == 0) {
		int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
		char why[1024];

		err = check_model(vm, vcpu, why, sizeof(why));
		if (err) {
			vmm_log("%s", why);
			free(cpuid);
			return err;
		}

		vm->tsc_khz = khz > 0 ? khz : 0;
		free(vm->cpuid0);
		vm->cpuid0 = cpuid;
	} else {
		free(cpuid);
	}
	if (err) {
		vmm_log("unable to set the CPUID of vCPU %d: %s", index, strerror(-err));
		return err;
	}
	return 0;
}

static int enable_vm_cap(struct vmm_vm *vm, uint32_t cap, uint64_t arg)
{
	struct kvm_enable_cap enable = {.cap = cap, .args = {arg}};

	return vmm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &enable);
}

int vmm_vm_create(struct vmm_vm **out, const struct vmm_vm_config *config)
{
	struct kvm_pit_config pit = {.flags = 0};
	struct vmm_vm *vm;
	int err, api;

	if (config->ncpus < 1 || config->ncpus > VMM_MAX_VCPUS)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_fd = vm->kvmmig_fd = -1;
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	snprintf(vm->name, sizeof(vm->name), "%s", config->name);
	vm->ncpus = config->ncpus;
	vm->cpu_model = config->cpu_model ? config->cpu_model : &cpu_models[0];
	vm->exit_ops = config->exit_ops;
	vm->priv = config->priv;
	vm->state = config->incoming ? VMM_VM_INCOMING : VMM_VM_PAUSED;
	vm->pause_requested = true; /* vmm_vm_start() lets a normal VM run */
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->parked_cond, NULL);
	pthread_cond_init(&vm->resume_cond, NULL);
	pthread_mutex_init(&vm->ring_lock, NULL);
	vmm_throttle_init(vm);
	*out = vm;

	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		vmm_log("unable to open /dev/kvm: %s (is KVM enabled and are you in group kvm?)",
			strerror(-err));
		return err;
	}
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		vmm_log("unable to use /dev/kvm: API version %d, expected %d", api,
			KVM_API_VERSION);
		return -EINVAL;
	}
	if (!check_extension(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_IRQCHIP) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_PIT2) ||
	    !check_extension(vm->kvm_fd, KVM_CAP_USER_MEMORY)) {
		vmm_log("unable to use /dev/kvm: it lacks immediate exit, an in-kernel irqchip, "
			"PIT2 or user memory");
		return -EOPNOTSUPP;
	}

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		vmm_log("unable to create a VM: %s", strerror(-err));
		return err;
	}

	/* Capabilities the state blob is sized from, checked on the VM as KVM advises. */
	vm->xsave_size = check_extension(vm->vm_fd, KVM_CAP_XSAVE2);
	if (vm->xsave_size < (int)sizeof(struct kvm_xsave))
		vm->xsave_size =
		    check_extension(vm->vm_fd, KVM_CAP_XSAVE) ? (int)sizeof(struct kvm_xsave) : 0;
	vm->has_xcrs = check_extension(vm->vm_fd, KVM_CAP_XCRS);
	/* TSC scaling: KVM_SET_TSC_KHZ then gives a guest any rate, not only this host's. */
	vm->has_tsc_control = check_extension(vm->kvm_fd, KVM_CAP_TSC_CONTROL) > 0;
	err = fetch_msr_list(vm);
	if (err) {
		vmm_log("unable to read KVM's MSR index list: %s", strerror(-err));
		return err;
	}
	/* Pending exceptions then migrate with their payload (CR2, DR6) intact. */
	if (check_extension(vm->vm_fd, KVM_CAP_EXCEPTION_PAYLOAD))
		enable_vm_cap(vm, KVM_CAP_EXCEPTION_PAYLOAD, 1);

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_ADDR) < 0) {
		err = -errno;
		vmm_log("unable to set the TSS address: %s", strerror(-err));
		return err;
	}
	{
		uint64_t identity = VMM_IDENTITY_MAP_ADDR;

		if (check_extension(vm->vm_fd, KVM_CAP_SET_IDENTITY_MAP_ADDR) &&
		    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
			err = -errno;
			vmm_log("unable to set the identity map address: %s", strerror(-err));
			return err;
		}
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err = -errno;
		vmm_log("unable to create the in-kernel irqchip: %s", strerror(-err));
		return err;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		err = -errno;
		vmm_log("unable to create the in-kernel PIT: %s", strerror(-err));
		return err;
	}

	err = create_memory(vm, config->mem_bytes, config->hugepage_bytes);
	if (err && config->hugepage_bytes) {
		vmm_log("unable to set up %llu MiB of guest memory in %llu MiB huge pages: %s "
			"(are that many reserved? /proc/sys/vm/nr_hugepages, or "
			"/sys/kernel/mm/hugepages/)",
			(unsigned long long)(config->mem_bytes >> 20),
			(unsigned long long)(config->hugepage_bytes >> 20), strerror(-err));
		return err;
	}
	if (err) {
		vmm_log("unable to set up %llu bytes of guest memory: %s",
			(unsigned long long)config->mem_bytes, strerror(-err));
		return err;
	}
	if (config->dirty_ring_entries) {
		err = vmm_dirty_ring_enable(vm, config->dirty_ring_entries);
		if (err)
			return err;
		vm->ring_drop = config->unsafe_dirty_ring_drop;
	}
	for (int i = 0; i < vm->ncpus; i++) {
		err = create_vcpu(vm, i);
		if (err)
			return err;
	}
	return 0;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
	if (!vm)
		return;
	vmm_vcpus_kick_and_join(vm);
	if (vm->ring_entries) {
		uint64_t reaped = 0;

		for (int i = 0; i < vm->ncpus; i++)
			reaped += vm->ring_reaped[i];
		vmm_log("dirty ring: %llu pages reaped, %llu times full",
			(unsigned long long)reaped, (unsigned long long)vm->ring_full_exits);
	}

	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		vmm_dirty_ring_unmap(vcpu);
		if (vcpu->run)
			munmap(vcpu->run, vcpu->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
	}
	if (vm->mem)
		munmap(vm->mem, vm->mem_bytes);
	vmm_detach(vm);
	if (vm->mem_fd >= 0)
		close(vm->mem_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	free(vm->msr_list);
	free(vm->cpuid0);
	free(vm->ring_found);
	free(vm->ring_runs);
	free(vm);
}

void *vmm_gpa_to_hva(struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < vm->nslots; i++) {
		struct vmm_memslot *s = &vm->slots[i];

		if (gpa >= s->gpa && len <= s->size && gpa - s->gpa <= s->size - len)
			return s->hva + (gpa - s->gpa);
	}
	return NULL;
}

void vmm_guest_mem_written(struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t start = gpa & ~4095ull, end = (gpa + len + 4095) & ~4095ull;
	static bool warned;

	__atomic_add_fetch(&vm->vmm_written_bytes, len, __ATOMIC_RELAXED);
	if (vm->kvmmig_fd < 0 || !len)
		return;
	/* kvmmig.ko takes one memslot per report. */
	for (int i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];
		struct kvmmig_mark_dirty mark = {0};
		uint64_t from = start > s->gpa ? start : s->gpa;
		uint64_t to = end < s->gpa + s->size ? end : s->gpa + s->size;

		if (from >= to)
			continue;
		mark.gpa = from;
		mark.size = to - from;
		if (ioctl(vm->kvmmig_fd, KVMMIG_MARK_DIRTY, &mark) < 0 && !warned) {
			warned = true;
			vmm_log(
			    "unable to report guest memory the VMM wrote (gpa 0x%llx, %llu bytes) "
			    "to kvmmig: %s",
			    (unsigned long long)mark.gpa, (unsigned long long)mark.size,
			    strerror(errno));
		}
	}
}

int vmm_guest_write(struct vmm_vm *vm, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = vmm_gpa_to_hva(vm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	vmm_guest_mem_written(vm, gpa, len);
	return 0;
}

int vmm_memory_save(struct vmm_vm *vm, int fd)
{
	const size_t chunk = 1 << 20;

	/* Zero chunks stay holes: images of mostly empty guests are small and fast. */
	if (ftruncate(fd, vm->mem_bytes) < 0)
		return -errno;
	for (uint64_t off = 0; off < vm->mem_bytes; off += chunk) {
		size_t len = vm->mem_bytes - off < chunk ? vm->mem_bytes - off : chunk;
		size_t done = 0;

		if (vmm_mem_is_zero(vm->mem + off, len))
			continue;
		while (done < len) {
			ssize_t n = pwrite(fd, vm->mem + off + done, len - done, off + done);

			if (n < 0)
				return -errno;
			done += n;
		}
	}
	return fsync(fd) < 0 ? -errno : 0;
}

int vmm_memory_load(struct vmm_vm *vm, const char *path)
{
	struct stat st;
	uint64_t off = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size != vm->mem_bytes) {
		vmm_log("unable to load memory image %s: it holds %llu bytes, the VM has %llu",
			path, (unsigned long long)st.st_size, (unsigned long long)vm->mem_bytes);
		err = -EINVAL;
		goto out;
	}
	/* Holes read as zero and the fresh memfd is zero already: copy the data only. */
	while (off < vm->mem_bytes) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;
		ssize_t n;

		if (data < 0 && errno == ENXIO)
			break; /* nothing but a hole up to the end */
		if (data < 0) {
			data = off; /* no SEEK_DATA here: read it all */
			hole = vm->mem_bytes;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = vm->mem_bytes;
		}
		for (off = data; off < (uint64_t)hole; off += n) {
			n = pread(fd, vm->mem + off, hole - off, off);
			if (n < 0) {
				err = -errno;
				goto out;
			}
			if (n == 0) {
				err = -EIO;
				goto out;
			}
		}
	}
	for (int i = 0; i < vm->nslots; i++)
		vmm_guest_mem_written(vm, vm->slots[i].gpa, vm->slots[i].size);
out:
	close(fd);
	return err;
}

int vmm_device_register(struct vmm_vm *vm, const struct vmm_device_ops *ops, void *opaque)
{
	if (vm->ndevices >= VMM_MAX_DEVICES || strlen(ops->name) > 15 ||
	    !vmm_device_versions_valid(ops))
		return -EINVAL;
	for (int i = 0; i < vm->ndevices; i++)
		if (!strcmp(vm->devices[i].ops->name, ops->name))
			return -EEXIST;
	vm->devices[vm->ndevices].ops = ops;
	vm->devices[vm->ndevices].opaque = opaque;
	vm->ndevices++;
	return 0;
}

char *vmm_vm_status_text(struct vmm_vm *vm, const char *guest_kind)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint64_t throttle_mask;

	if (!f)
		return NULL;
	fprintf(f, "name %s\n", vm->name);
	fprintf(f, "pid %d\n", (int)getpid());
	fprintf(f, "state %s\n", vmm_vm_state_name(vmm_vm_get_state(vm)));
	fprintf(f, "cpus %d\n", vm->ncpus);
	/* The name and its version: the pair means the same CPUID features forever. */
	fprintf(f, "cpu-model %s %u\n", vm->cpu_model->name, vm->cpu_model->version);
	if (vm->tsc_khz > 0)
		fprintf(f, "tsc-khz %d\n", vm->tsc_khz);
	/* Whether a guest whose TSC ran at another rate keeps it here (KVM_CAP_TSC_CONTROL). */
	fprintf(f, "tsc-scaling %s\n", vm->has_tsc_control ? "yes" : "no");
	fprintf(f, "mem %llu\n", (unsigned long long)vm->mem_bytes);
	for (int i = 0; i < vm->nslots; i++)
		fprintf(f, "memslot %u gpa 0x%llx size 0x%llx offset 0x%llx\n", vm->slots[i].slot,
			(unsigned long long)vm->slots[i].gpa, (unsigned long long)vm->slots[i].size,
			(unsigned long long)vm->slots[i].file_offset);
	fprintf(f, "kvmmig %s\n", vm->kvmmig_fd >= 0 ? "attached" : "absent");
	fprintf(f, "dirty-log %s\n", vm->dirty_logging ? "on" : "off");
	if (vm->ring_entries) {
		pthread_mutex_lock(&vm->ring_lock);
		fprintf(f, "dirty-ring %u\ndirty-ring-full-exits %llu\n", vm->ring_entries,
			(unsigned long long)vm->ring_full_exits);
		pthread_mutex_unlock(&vm->ring_lock);
	}
	fprintf(f, "throttle %u\n", vmm_throttle_get(vm));
	throttle_mask = __atomic_load_n(&vm->throttle_mask, __ATOMIC_SEQ_CST);
	if (throttle_mask != ~0ull)
		fprintf(f, "throttle-vcpus 0x%llx\n", (unsigned long long)throttle_mask);
	if (vm->ring_entries) {
		uint64_t limit_mask, limit = vmm_dirty_limit_get(vm, &limit_mask);

		fprintf(f, "dirty-limit %llu\n", (unsigned long long)limit);
		if (limit)
			fprintf(f, "dirty-limit-vcpus 0x%llx\n", (unsigned long long)limit_mask);
	}
	/*
	 * The state blob versions it reads and writes (a VMM without this line:
	 * 1 only). Not "state-...": older kvmmig-ctl read any line starting with
	 * "state" as the VM's state.
	 */
	fprintf(f, "blob-versions %d %d\n", KVMMIG_STATE_VERSION_MIN, KVMMIG_STATE_VERSION);
	/* The memory digests it computes (digest.h; a VMM without this line: 1 only). */
	fprintf(f, "digest-versions 1 %d\n", VMM_DIGEST_VERSION);
	/*
	 * vCPU 0's CPUID, so a destination can refuse a guest it cannot host;
	 * each leaf once (a blob saved on 6.1 by an older kvmmig-vm carries
	 * zero duplicates of leaf 0, which check-cpuid refuses).
	 */
	for (uint32_t i = 0; vm->cpuid0 && i < vm->cpuid0->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vm->cpuid0->entries[i];

		if (cpuid_find(vm->cpuid0, e->function, e->index) != e)
			continue;
		fprintf(f, "cpuid 0x%x %u 0x%x 0x%x 0x%x 0x%x\n", vm->cpuid0->entries[i].function,
			vm->cpuid0->entries[i].index, vm->cpuid0->entries[i].eax,
			vm->cpuid0->entries[i].ebx, vm->cpuid0->entries[i].ecx,
			vm->cpuid0->entries[i].edx);
	}
	fprintf(f, "guest %s\n", guest_kind ? guest_kind : "none");
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}
