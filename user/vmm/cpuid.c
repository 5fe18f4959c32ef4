/* cpuid.c: the CPUID a guest sees: the host's (what KVM supports) or a conservative baseline. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/cpuid.h"

#define BIT(n) (1u << (n))

#define MAX_CPUID_ENTRIES 256

/* Leaf 1 EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX
 * FXSR SSE SSE2 */
static const uint32_t baseline_1_edx = BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(5) |
				       BIT(6) | BIT(7) | BIT(8) | BIT(9) | BIT(11) | BIT(12) |
				       BIT(13) | BIT(14) | BIT(15) | BIT(16) | BIT(17) | BIT(19) |
				       BIT(23) | BIT(24) | BIT(25) | BIT(26);
/* Leaf 1 ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 x2APIC POPCNT TSC-deadline HYPERVISOR */
static const uint32_t baseline_1_ecx =
    BIT(0) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(21) | BIT(23) | BIT(24) | BIT(31);
/* Leaf 0x80000001 EDX: SYSCALL NX LM; ECX: LAHF/SAHF */
static const uint32_t baseline_ext1_edx = BIT(11) | BIT(20) | BIT(29);
static const uint32_t baseline_ext1_ecx = BIT(0);
/* Leaf 0x40000001 EAX: CLOCKSOURCE NOP_IO_DELAY CLOCKSOURCE2 PV_EOI CLOCKSOURCE_STABLE_BIT */
static const uint32_t baseline_kvm_eax = BIT(0) | BIT(1) | BIT(3) | BIT(6) | BIT(24);

#define CPUID_1_ECX_VMX	       BIT(5)
#define CPUID_1_ECX_HYPERVISOR BIT(31)
#define CPUID_1_ECX_TSC_DEADLINE BIT(24)
#define CPUID_1_EDX_HTT	       BIT(28)
#define CPUID_EXT1_ECX_SVM     BIT(2)

static struct kvm_cpuid2 *supported;

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
		supported = c;
	}
	*out = supported;
	return 0;
}

static bool baseline_keeps_leaf(uint32_t function)
{
	switch (function) {
	case 0x0:
	case 0x1:
	case 0x2:
	case 0x4:
	case 0x6:
	case 0x7:
	case 0xb:
	case 0x40000000:
	case 0x40000001:
	case 0x80000000:
	case 0x80000001:
	case 0x80000002:
	case 0x80000003:
	case 0x80000004:
	case 0x80000007:
	case 0x80000008:
		return true;
	default:
		return false;
	}
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

static void apply_baseline(struct kvm_cpuid_entry2 *e)
{
	switch (e->function) {
	case 0x1:
		e->ecx &= baseline_1_ecx;
		e->edx &= baseline_1_edx | CPUID_1_EDX_HTT;
		break;
	case 0x6:
	case 0x7:
	case 0x80000007:
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x40000001:
		e->eax &= baseline_kvm_eax;
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= baseline_ext1_ecx;
		e->edx &= baseline_ext1_edx;
		break;
	case 0x80000008:
		e->ebx = 0; /* AMD's speculation-control feature bits */
		break;
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
	struct kvm_cpuid_entry2 *d0 = find_entry(c, 0xd, 0);
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
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 0xd && e->index >= 2 && e->index < 64 &&
		    (d0->eax | ((uint64_t)d0->edx << 32)) & (1ull << e->index) &&
		    !(xcr0 & (1ull << e->index)))
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
	d0->eax = (uint32_t)xcr0;
	d0->edx = (uint32_t)(xcr0 >> 32);
	d0->ecx = max_size;
}

int vmm_cpuid_build(int kvm_fd, enum vmm_cpu_model model, int index, int ncpus,
		    struct kvm_cpuid2 **out)
{
	const struct kvm_cpuid2 *sup;
	struct kvm_cpuid2 *c;
	uint32_t max_basic = 0;
	int err;

	err = vmm_cpuid_supported(kvm_fd, &sup);
	if (err)
		return err;
	c = calloc(1, sizeof(*c) + sup->nent * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;

	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 e = sup->entries[i];

		if (model == VMM_CPU_BASELINE && !baseline_keeps_leaf(e.function))
			continue;
		if (model == VMM_CPU_BASELINE && e.function == 0x7 && e.index != 0)
			continue;

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
		if (model == VMM_CPU_BASELINE)
			apply_baseline(&e);
		if (e.function < 0x40000000 && e.function > max_basic)
			max_basic = e.function;
		c->entries[c->nent++] = e;
	}
	sanitize_xsave_leaf(c);
	/* Leaves 0 and 0x80000000 must not announce leaves the baseline removed. */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 0 && e->eax > max_basic)
			e->eax = max_basic;
		if (model == VMM_CPU_BASELINE && e->function == 0x80000000 && e->eax > 0x80000008)
			e->eax = 0x80000008;
	}
	*out = c;
	return 0;
}

/* Feature registers a guest may only use if this host's KVM supports each bit. */
static const struct {
	uint32_t function, index;
	int reg;	    /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint32_t vmm_owned; /* bits the VMM sets or the guest toggles itself */
} feature_regs[] = {
    {0x1, 0, 2, CPUID_1_ECX_HYPERVISOR | BIT(27) /* OSXSAVE */},
    {0x1, 0, 3, CPUID_1_EDX_HTT},
    {0x7, 0, 1, 0},
    {0x7, 0, 2, BIT(4) /* OSPKE */},
    {0x7, 0, 3, 0},
    {0xd, 0, 0, 0},
    {0x80000001, 0, 2, 0},
    {0x80000001, 0, 3, 0},
    {0x40000001, 0, 0, 0},
};

static uint32_t reg_of(const struct kvm_cpuid_entry2 *e, int reg)
{
	return reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
}

int vmm_cpuid_check_supported(int kvm_fd, const struct kvm_cpuid2 *own,
			      const struct kvm_cpuid2 *cpuid, char *err, size_t err_size)
{
	static const char reg_names[4][4] = {"EAX", "EBX", "ECX", "EDX"};
	const struct kvm_cpuid2 *sup;
	int ret = vmm_cpuid_supported(kvm_fd, &sup);

	if (ret)
		return ret;
	for (size_t f = 0; f < sizeof(feature_regs) / sizeof(feature_regs[0]); f++) {
		const struct kvm_cpuid_entry2 *want = NULL, *have = NULL, *mine = NULL;
		uint32_t missing;

		for (uint32_t i = 0; i < cpuid->nent; i++)
			if (cpuid->entries[i].function == feature_regs[f].function &&
			    cpuid->entries[i].index == feature_regs[f].index)
				want = &cpuid->entries[i];
		for (uint32_t i = 0; i < sup->nent; i++)
			if (sup->entries[i].function == feature_regs[f].function &&
			    sup->entries[i].index == feature_regs[f].index)
				have = &sup->entries[i];
		for (uint32_t i = 0; own && i < own->nent; i++)
			if (own->entries[i].function == feature_regs[f].function &&
			    own->entries[i].index == feature_regs[f].index)
				mine = &own->entries[i];
		if (!want)
			continue;
		missing = reg_of(want, feature_regs[f].reg) & ~feature_regs[f].vmm_owned &
			  ~(have ? reg_of(have, feature_regs[f].reg) : 0) &
			  ~(mine ? reg_of(mine, feature_regs[f].reg) : 0);
		if (missing) {
			snprintf(err, err_size,
				 "guest CPUID leaf %#x.%u %s has features %#x that this host's KVM "
				 "cannot provide",
				 feature_regs[f].function, feature_regs[f].index,
				 reg_names[feature_regs[f].reg], missing);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

const char *vmm_cpu_model_name(enum vmm_cpu_model model)
{
	return model == VMM_CPU_BASELINE ? "baseline" : "host";
}

int vmm_cpu_model_parse(const char *name, enum vmm_cpu_model *out)
{
	if (!strcmp(name, "host"))
		*out = VMM_CPU_HOST;
	else if (!strcmp(name, "baseline"))
		*out = VMM_CPU_BASELINE;
	else
		return -EINVAL;
	return 0;
}
