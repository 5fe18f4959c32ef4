/* cpuid.c: the CPUID a guest sees (KVM's supported CPUID through a CPU model) and its checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/cpuid.h"

#define BIT(n) CPUID_BIT(n)

#define MAX_CPUID_ENTRIES 256

#define CPUID_1_ECX_VMX		 BIT(5)
#define CPUID_1_ECX_HYPERVISOR	 BIT(31)
#define CPUID_1_ECX_TSC_DEADLINE BIT(24)
#define CPUID_1_EDX_HTT		 BIT(28)
#define CPUID_EXT1_ECX_SVM	 BIT(2)

static struct kvm_cpuid2 *supported;

static struct kvm_cpuid2 *vcpu_reported_cpuid(int kvm_fd);

/*
 * Adds to @c's feature words what a vCPU of this host reports beyond them:
 * nothing on KVM, which reports what it was given; PVM lists less in its
 * supported CPUID than its vCPUs get (SMEP, SSE4.2, ...), and they get it
 * whatever the VMM sets. VMX and SVM stay out: nested state is not migrated.
 */
static void add_vcpu_reported(int kvm_fd, struct kvm_cpuid2 *c)
{
	struct kvm_cpuid2 *own = vcpu_reported_cpuid(kvm_fd);

	for (uint32_t i = 0; own && i < c->nent; i++)
		for (int w = 0; w < CPU_NWORDS; w++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];
			uint32_t add = cpuid_word(own, w) & ~cpu_words[w].vmm_owned;

			if (w == W_1_ECX)
				add &= ~CPUID_1_ECX_VMX;
			if (w == W_E1_ECX)
				add &= ~CPUID_EXT1_ECX_SVM;
			if (e->function == cpu_words[w].function && e->index == cpu_words[w].index)
				cpuid_set_reg(e, cpu_words[w].reg,
					      cpuid_reg(e, cpu_words[w].reg) | add);
		}
	free(own);
}

int vmm_cpuid_supported(int kvm_fd, const struct kvm_cpuid2 **out)
{
	if (!supported) {
		struct kvm_cpuid2 *c =
		    calloc(1, sizeof(*c) + MAX_CPUID_ENTRIES * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = MAX_CPUID_ENTRIES;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
			int err = -errno;

			free(c);
			return err;
		}
		/*
		 * The TSC-deadline timer lives in the in-kernel local APIC,
		 * which every VM of ours has (KVM_CREATE_IRQCHIP). Older KVM
		 * leaves it out of KVM_GET_SUPPORTED_CPUID and reports it as
		 * KVM_CAP_TSC_DEADLINE_TIMER (seen on 6.12), 7.3 lists it there
		 * too. Count it either way (as QEMU does), so that every kernel
		 * gives guests the same CPUID and a guest started on 7.3 may
		 * move to 6.12 (refused before: "cannot provide" 0x1000000).
		 */
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
			for (uint32_t i = 0; i < c->nent; i++)
				if (c->entries[i].function == 1 && c->entries[i].index == 0)
					c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
		/* Set first: the vCPU below gets its CPUID built from it. */
		supported = c;
		add_vcpu_reported(kvm_fd, c);
	}
	*out = supported;
	return 0;
}

static unsigned int order_base_2(unsigned int n)
{
	unsigned int order = 0;

	while ((1u << order) < n)
		order++;
	return order;
}

static void set_topology(struct kvm_cpuid_entry2 *e, int index, int ncpus)
{
	/* One package, one core per vCPU, one thread per core. */
	uint32_t level = e->index;

	e->edx = index;
	if (level == 0) {
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1 << 8) | level; /* SMT */
	} else if (level == 1) {
		e->eax = order_base_2(ncpus);
		e->ebx = ncpus;
		e->ecx = (2 << 8) | level; /* core */
	} else {
		e->eax = 0;
		e->ebx = 0;
		e->ecx = level;
	}
}

static struct kvm_cpuid_entry2 *find_entry(struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/*
 * Leaf 0xd must not offer state components whose feature the guest does not
 * see: Linux warns ("XSAVE consistency problem") and sizes its buffers
 * wrong. Seen with KVM on QEMU's emulated CPUs, which list AVX and PKRU
 * state without AVX or PKU.
 */
static void sanitize_xsave_leaf(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *l1 = find_entry(c, 1, 0), *l7 = find_entry(c, 7, 0);
	struct kvm_cpuid_entry2 *d0 = find_entry(c, 0xd, 0), *d1;
	uint64_t xss;
	uint32_t ebx7 = l7 ? l7->ebx : 0, ecx7 = l7 ? l7->ecx : 0, edx7 = l7 ? l7->edx : 0;
	uint64_t xcr0;
	uint32_t max_size = 576; /* legacy area and XSAVE header */

	if (!d0 || !l1)
		return;
	xcr0 = ((uint64_t)d0->edx << 32) | d0->eax;
	if (!(l1->ecx & BIT(28)))
		xcr0 &= ~(1ull << 2); /* AVX */
	if (!(ebx7 & BIT(14)))
		xcr0 &= ~(3ull << 3); /* MPX */
	if (!(ebx7 & BIT(16)))
		xcr0 &= ~(7ull << 5); /* AVX-512 */
	if (!(ecx7 & BIT(3)))
		xcr0 &= ~(1ull << 9); /* PKRU */
	if (!(edx7 & BIT(24)))
		xcr0 &= ~(3ull << 17); /* AMX */
	for (uint32_t i = 2; i < 64; i++) {
		struct kvm_cpuid_entry2 *e = find_entry(c, 0xd, i);

		if (!e || !(xcr0 & (1ull << i)))
			continue;
		if (e->ebx + e->eax > max_size)
			max_size = e->ebx + e->eax;
	}
	/* Components neither XCR0 nor IA32_XSS may enable: a model may have masked them. */
	d1 = find_entry(c, 0xd, 1);
	xss = d1 ? ((uint64_t)d1->edx << 32) | d1->ecx : 0;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 0xd && e->index >= 2 && e->index < 64 &&
		    !((xcr0 | xss) & (1ull << e->index)))
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
	d0->eax = (uint32_t)xcr0;
	d0->edx = (uint32_t)(xcr0 >> 32);
	d0->ecx = max_size;
}

int vmm_cpuid_build(int kvm_fd, const struct cpu_model *model, int index, int ncpus,
		    struct kvm_cpuid2 **out)
{
	const struct kvm_cpuid2 *sup;
	struct kvm_cpuid2 *c;
	uint32_t max_basic = 0, max_ext = 0x80000000;
	int err;

	err = vmm_cpuid_supported(kvm_fd, &sup);
	if (err)
		return err;
	c = calloc(1, sizeof(*c) + sup->nent * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;

	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 e = sup->entries[i];

		if (!cpu_model_keeps_leaf(model, e.function, e.index))
			continue;
		/* The model first: what follows sets bits the VMM owns. */
		cpu_model_mask(model, &e);
		switch (e.function) {
		case 0x1:
			e.ebx = (e.ebx & 0x0000ffff) | ((uint32_t)index << 24) |
				((uint32_t)(ncpus > 1 ? ncpus : 1) << 16);
			e.ecx &= ~CPUID_1_ECX_VMX;
			/* KVM does not report it; without it Linux never looks for kvmclock. */
			e.ecx |= CPUID_1_ECX_HYPERVISOR;
			if (ncpus > 1)
				e.edx |= CPUID_1_EDX_HTT;
			else
				e.edx &= ~CPUID_1_EDX_HTT;
			break;
		case 0x4:
			/* Cores per package - 1 in EAX[31:26]. */
			e.eax = (e.eax & 0x03ffffff) | ((uint32_t)(ncpus - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			set_topology(&e, index, ncpus);
			break;
		case 0x80000001:
			e.ecx &= ~CPUID_EXT1_ECX_SVM;
			break;
		case 0x80000008:
			e.ecx = (e.ecx & ~0xffu) | (uint32_t)(ncpus - 1);
			break;
		}
		if (e.function < 0x40000000 && e.function > max_basic)
			max_basic = e.function;
		if (e.function >= 0x80000000 && e.function < 0xc0000000 && e.function > max_ext)
			max_ext = e.function;
		c->entries[c->nent++] = e;
	}
	sanitize_xsave_leaf(c);
	/* Leaves 0 and 0x80000000 must not announce leaves the model removed. */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 0 && e->eax > max_basic)
			e->eax = max_basic;
		if (e->function == 0x80000000 && e->eax > max_ext)
			e->eax = max_ext;
	}
	*out = c;
	return 0;
}

int vmm_cpuid_check_supported(int kvm_fd, const struct kvm_cpuid2 *own,
			      const struct kvm_cpuid2 *cpuid, char *err, size_t err_size)
{
	const struct kvm_cpuid2 *sup, *avail[2];
	int ret = vmm_cpuid_supported(kvm_fd, &sup);

	if (ret)
		return ret;
	ret = cpu_check_identity(cpuid, sup, err, err_size);
	if (ret)
		return ret;
	avail[0] = sup;
	avail[1] = own;
	return cpu_check_features(cpuid, avail, own ? 2 : 1, err, err_size);
}

int vmm_cpu_model_check_host(int kvm_fd, const struct cpu_model *model,
			     const struct kvm_cpuid2 *own, char *err, size_t err_size)
{
	const struct kvm_cpuid2 *sup, *avail[2];
	char lacks[768];
	int ret = vmm_cpuid_supported(kvm_fd, &sup);

	if (ret) {
		snprintf(err, err_size, "unable to read KVM's supported CPUID: %s", strerror(-ret));
		return ret;
	}
	avail[0] = sup;
	avail[1] = own;
	if (!cpu_model_missing(model, avail, own ? 2 : 1, lacks, sizeof(lacks)))
		return 0;
	snprintf(err, err_size,
		 "this host cannot run CPU model %s: its KVM lacks %s: choose a lower model "
		 "(kvmmig-ctl cpu-baseline says which one every host runs)",
		 model->name, lacks);
	return -EOPNOTSUPP;
}

/*
 * What a vCPU of a throwaway VM reports (KVM_GET_CPUID2) once given the
 * host model built from KVM's supported CPUID. NULL if no VM can be made.
 */
static struct kvm_cpuid2 *vcpu_reported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *set = NULL, *got = NULL;
	int vm = ioctl(kvm_fd, KVM_CREATE_VM, 0), vcpu = -1;

	if (vm < 0)
		return NULL;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0ul);
	got = calloc(1, sizeof(*got) + MAX_CPUID_ENTRIES * sizeof(got->entries[0]));
	if (vcpu < 0 || !got || vmm_cpuid_build(kvm_fd, &cpu_models[0], 0, 1, &set) ||
	    ioctl(vcpu, KVM_SET_CPUID2, set) < 0)
		goto fail;
	got->nent = MAX_CPUID_ENTRIES;
	if (ioctl(vcpu, KVM_GET_CPUID2, got) < 0)
		goto fail;
	free(set);
	close(vcpu);
	close(vm);
	return got;
fail:
	free(set);
	free(got);
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
	return NULL;
}

int vmm_cpuid_print_supported(int kvm_fd, FILE *f)
{
	const struct kvm_cpuid2 *sup;
	char vendor[13];
	int ret = vmm_cpuid_supported(kvm_fd, &sup);

	if (ret)
		return ret;
	cpuid_vendor(sup, vendor);
	fprintf(f,
		"# what this host's KVM gives a guest (%s), by kvmmig-vm --print-supported-cpuid\n",
		vendor);
	fprintf(f, "# kvmmig-ctl cpu-baseline FILE... picks the best model every host runs\n");
	for (uint32_t i = 0; i < sup->nent; i++)
		fprintf(f, "cpuid 0x%x %u 0x%x 0x%x 0x%x 0x%x\n", sup->entries[i].function,
			sup->entries[i].index, sup->entries[i].eax, sup->entries[i].ebx,
			sup->entries[i].ecx, sup->entries[i].edx);
	return ferror(f) ? -EIO : 0;
}
