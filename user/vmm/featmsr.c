/* featmsr.c: a guest's feature MSRs checked against what this host's KVM can give. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm/cpuid.h"
#include "vmm/featmsr.h"

/*
 * How a feature MSR's value compares with the one KVM_GET_MSRS on /dev/kvm
 * reports. KVM_SET_MSRS is no check: 6.1 takes any ARCH_CAPABILITIES from
 * userspace, so a guest would be told it is immune (MDS_NO, RDCL_NO...) on
 * a host that is not; and where KVM does refuse, it refuses half-way
 * through a restore. Where KVM refuses, the rules are KVM's own, the same
 * from 6.1 to 7.x (read in its source: vmx_set_msr() and kvm_set_msr_common()
 * for PERF_CAPABILITIES, vmx_set_vmx_msr() in vmx/nested.c for the VMX
 * MSRs). This project's hosts are AMD, whose KVM has neither: those rules
 * are tested against fake Intel hosts only (tests/unit/featmsr.sh).
 */
enum feature_rule {
	RULE_ANY,	 /* KVM takes any value: UCODE_REV, PLATFORM_INFO, VMX_VMCS_ENUM */
	RULE_SUBSET,	 /* every set bit must be one KVM can give */
	RULE_VMX_CTLS,	 /* low half: KVM's must-be-1 bits set; high half: a subset */
	RULE_PERF_CAPS,	 /* a subset, and LBR and PEBS formats KVM's own or 0 */
	RULE_VMX_BASIC,	 /* check_vmx_basic() */
	RULE_VMX_MISC,	 /* check_vmx_misc() */
	RULE_VMX_FIXED0, /* KVM's must-be-1 bits set */
	RULE_DERIVED,	 /* KVM takes no value: it derives this one from others or CPUID */
};

static const struct {
	unsigned int index;
	const char *name;
	enum feature_rule rule;
} features[] = {
    {0x8b, "UCODE_REV", RULE_ANY},
    {0xce, "PLATFORM_INFO", RULE_ANY},
    {0x10a, "ARCH_CAPABILITIES", RULE_SUBSET},
    {0x345, "PERF_CAPABILITIES", RULE_PERF_CAPS},
    {0x480, "VMX_BASIC", RULE_VMX_BASIC},
    /* The non-true controls are the true ones with the default1 bits set. */
    {0x481, "VMX_PINBASED_CTLS", RULE_DERIVED},
    {0x482, "VMX_PROCBASED_CTLS", RULE_DERIVED},
    {0x483, "VMX_EXIT_CTLS", RULE_DERIVED},
    {0x484, "VMX_ENTRY_CTLS", RULE_DERIVED},
    {0x485, "VMX_MISC", RULE_VMX_MISC},
    {0x486, "VMX_CR0_FIXED0", RULE_VMX_FIXED0},
    /* The FIXED1 MSRs follow the guest's CPUID. */
    {0x487, "VMX_CR0_FIXED1", RULE_DERIVED},
    {0x488, "VMX_CR4_FIXED0", RULE_VMX_FIXED0},
    {0x489, "VMX_CR4_FIXED1", RULE_DERIVED},
    /* KVM stores it unchecked (6.1 to 7.x): only the guest reads it. */
    {0x48a, "VMX_VMCS_ENUM", RULE_ANY},
    {0x48b, "VMX_PROCBASED_CTLS2", RULE_VMX_CTLS},
    {0x48c, "VMX_EPT_VPID_CAP", RULE_SUBSET},
    {0x48d, "VMX_TRUE_PINBASED_CTLS", RULE_VMX_CTLS},
    {0x48e, "VMX_TRUE_PROCBASED_CTLS", RULE_VMX_CTLS},
    {0x48f, "VMX_TRUE_EXIT_CTLS", RULE_VMX_CTLS},
    {0x490, "VMX_TRUE_ENTRY_CTLS", RULE_VMX_CTLS},
    {0x491, "VMX_VMFUNC", RULE_SUBSET},
    {0xc0011029, "AMD64_DE_CFG", RULE_SUBSET},
};

#define MSR_VMX_TRUE_PINBASED_CTLS 0x48d

/* PERF_CAPABILITIES fields KVM compares as values (msr-index.h's names). */
#define PERF_CAP_LBR_FMT     0x3full
#define PERF_CAP_PEBS_FORMAT 0xf00ull
/*
 * KVM's PERF_CAP_PEBS_MASK: trap, arch regs, format, baseline (6.1, 6.12),
 * and timing info (bit 17, 7.x). A KVM without bit 17 in its mask never
 * gives it, so comparing it everywhere is what each of them does.
 */
#define PERF_CAP_PEBS_FIELDS (0x40ull | 0x80ull | 0xf00ull | (1ull << 14) | (1ull << 17))

/*
 * VMX_BASIC: KVM's vmx_restore_vmx_basic(). Dual-monitor SMM (49), INS/OUTS
 * information (54), true controls (55), the later features (56, 58) and
 * the reserved bits (31, 47:45, 63:54) must be KVM's; bit 48 (32-bit
 * addresses) never; the VMCS revision (30:0) exactly KVM's; the VMCS size
 * (44:32) at least KVM's. The memory type (53:50) is not checked.
 */
#define VMX_BASIC_HELD_TO_KVM	  ((1ull << 31) | (0x7ull << 45) | (1ull << 49) | (0x3ffull << 54))
#define VMX_BASIC_32BIT_ADDRESSES (1ull << 48)
#define VMX_BASIC_REVISION(v)	  (0x7fffffffull & (v))
#define VMX_BASIC_VMCS_SIZE(v)	  (((v) >> 32) & 0x1fffull)

/*
 * VMX_MISC: KVM's vmx_restore_vmx_misc(). EFER.LMA saved (5), the activity
 * states (8:6), Intel PT (14), RDMSR in SMM (15), VMXOFF blocking SMI,
 * VMWRITE to any field, zero-length injection (30:28) and the reserved
 * bits (13:9, 31) must be KVM's; the preemption timer rate (4:0) exactly
 * KVM's when the guest's pin-based controls have the timer; the CR3
 * targets (24:16) and the MSR list size (27:25) at most KVM's; the MSEG
 * revision (63:32) exactly KVM's.
 */
#define VMX_MISC_HELD_TO_KVM                                                                       \
	((1ull << 5) | (0x7ull << 6) | (0x1full << 9) | (1ull << 14) | (1ull << 15) |              \
	 (0xfull << 28))
#define VMX_MISC_TIMER_RATE(v)	   (0x1full & (v))
#define VMX_MISC_CR3_TARGETS(v)	   (((v) >> 16) & 0x1ffull)
#define VMX_MISC_MSR_LIST(v)	   (512 * ((((v) >> 25) & 0x7ull) + 1))
#define VMX_MISC_MSEG_REVISION(v)  ((v) >> 32)
#define PIN_BASED_PREEMPTION_TIMER (0x40ull << 32) /* in the high half: allowed-1 */

/* The guest CPUID bits KVM reads before it takes PERF_CAPABILITIES. */
#define CPUID_1_ECX_DTES64 (1u << 2)
#define CPUID_1_ECX_PDCM   (1u << 15)
#define CPUID_1_EDX_DS	   (1u << 21)

/* This host's KVM's feature MSRs: KVM_GET_MSR_FEATURE_INDEX_LIST, read by KVM_GET_MSRS. */
struct host_features {
	int kvm_fd;
	struct kvm_msr_list *list;
};

/* A guest's feature MSR against what this host's KVM gives for it. */
struct feature_msr {
	int vcpu;
	unsigned int index;
	const char *name;
	unsigned long long want;      /* the guest's */
	unsigned long long can;	      /* this host's KVM's */
	const struct kvm_msrs *guest; /* all of the guest's MSRs */
	const struct kvm_cpuid2 *cpuid; /* the guest's CPUID */
	const struct host_features *host;
};

static const struct kvm_cpuid_entry2 *cpuid_leaf(const struct kvm_cpuid2 *cpuid,
						 unsigned int function)
{
	for (unsigned int i = 0; cpuid && i < cpuid->nent; i++)
		if (cpuid->entries[i].function == function && cpuid->entries[i].index == 0)
			return &cpuid->entries[i];
	return NULL;
}

bool vmm_guest_has_pdcm(const struct kvm_cpuid2 *cpuid)
{
	const struct kvm_cpuid_entry2 *e = cpuid_leaf(cpuid, 1);

	return e && (e->ecx & CPUID_1_ECX_PDCM);
}

/* KVM's x86_model() of a leaf-1 EAX: the extended model counts from family 6 on. */
static int signature_model(unsigned int eax)
{
	unsigned int family = (eax >> 8) & 0xf, model = (eax >> 4) & 0xf;

	if (family == 0xf)
		family += (eax >> 20) & 0xff;
	if (family >= 6)
		model += ((eax >> 16) & 0xf) << 4;
	return (int)model;
}

/* The guest's CPU model (leaf 1), -1 without leaf 1: KVM's guest_cpuid_model(). */
static int guest_model(const struct kvm_cpuid2 *cpuid)
{
	const struct kvm_cpuid_entry2 *e = cpuid_leaf(cpuid, 1);

	return e ? signature_model(e->eax) : -1;
}

/*
 * This host's CPU model, KVM's boot_cpu_data.x86_model: leaf 1 of
 * KVM_GET_SUPPORTED_CPUID, whose EAX is the host's own. -1 if KVM cannot say.
 */
static int host_model(const struct host_features *host)
{
	const struct kvm_cpuid2 *supported;

	if (vmm_cpuid_supported(host->kvm_fd, &supported) || !cpuid_leaf(supported, 1))
		return -1;
	return signature_model(cpuid_leaf(supported, 1)->eax);
}

static int find_feature(unsigned int index)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (features[i].index == index)
			return (int)i;
	return -1;
}

static struct kvm_msr_list *feature_list(int kvm_fd)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *list;

	if (ioctl(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return calloc(1, sizeof(*list)); /* KVM without feature MSRs: an empty list */
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return NULL;
	list->nmsrs = probe.nmsrs;
	if (probe.nmsrs && ioctl(kvm_fd, KVM_GET_MSR_FEATURE_INDEX_LIST, list) < 0) {
		free(list);
		return NULL;
	}
	return list;
}

static bool listed(const struct kvm_msr_list *list, unsigned int index)
{
	for (unsigned int i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return true;
	return false;
}

/* Whether this host's KVM lists @index; *@value what it gives (0 if it cannot say). */
static bool host_value(const struct host_features *host, unsigned int index,
		       unsigned long long *value)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e;
	} one = {.head.nmsrs = 1, .e.index = index};

	*value = 0;
	if (!listed(host->list, index))
		return false;
	if (ioctl(host->kvm_fd, KVM_GET_MSRS, &one) == 1)
		*value = one.e.data;
	return true;
}

/* The guest's own @index if it has one, else this host's KVM's (what the vCPU starts with). */
static unsigned long long guest_or_host_value(const struct feature_msr *m, unsigned int index)
{
	unsigned long long value;

	for (unsigned int i = 0; i < m->guest->nmsrs; i++)
		if (m->guest->entries[i].index == index)
			return m->guest->entries[i].data;
	host_value(m->host, index, &value);
	return value;
}

/* Fills @err with "vCPU n: feature MSR 0x... (NAME) is 0x..., this host's KVM gives 0x...: WHY". */
static int refuse(const struct feature_msr *m, char *err, size_t err_size, const char *why, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(const struct feature_msr *m, char *err, size_t err_size, const char *why, ...)
{
	va_list ap;
	int n;

	if (!err || !err_size)
		return -EINVAL;
	n = snprintf(err, err_size,
		     "vCPU %d: feature MSR 0x%x (%s) is 0x%llx, this host's KVM gives 0x%llx: ",
		     m->vcpu, m->index, m->name, m->want, m->can);
	if (n >= 0 && (size_t)n < err_size) {
		va_start(ap, why);
		vsnprintf(err + n, err_size - n, why, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_subset(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long missing = m->want & ~m->can;

	if (!missing)
		return 0;
	return refuse(m, err, err_size,
		      "bits 0x%llx it lacks: the guest cannot move here, only to a host whose "
		      "KVM gives them",
		      missing);
}

static int check_vmx_ctls(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long must_be_1 = (m->can & 0xffffffffull) & ~m->want,
			   lacks = m->want & ~m->can & ~0xffffffffull;

	if (!must_be_1 && !lacks)
		return 0;
	return refuse(m, err, err_size,
		      "must-be-1 controls 0x%llx clear, controls 0x%llx it lacks: the guest "
		      "cannot move here, only to a host whose nested VMX has them",
		      must_be_1, lacks >> 32);
}

/*
 * Where KVM reads the guest's CPUID before it takes PERF_CAPABILITIES
 * (vmx_set_msr() in 6.1, 6.12 and 7.x): any nonzero value needs a guest
 * PMU (leaf 0xa version); an LBR format needs the guest's CPU model to be
 * this host's (cpuid_model_is_consistent()); a PEBS format needs DS, DTES64
 * and the host's model too. A guest without PDCM never sees the MSR, and
 * 7.x refuses any nonzero value for it: the restore drops it, so it passes.
 */
static int check_perf_caps_cpuid(const struct feature_msr *m, char *err, size_t err_size)
{
	const struct kvm_cpuid_entry2 *leaf1 = cpuid_leaf(m->cpuid, 1),
				      *leafa = cpuid_leaf(m->cpuid, 0xa);
	bool lbr = m->want & PERF_CAP_LBR_FMT, pebs = m->want & PERF_CAP_PEBS_FORMAT;
	int model = guest_model(m->cpuid), own = host_model(m->host);

	if (!leafa || !(leafa->eax & 0xff))
		return refuse(m, err, err_size,
			      "the guest's CPUID gives it no PMU (leaf 0xa version 0), and KVM "
			      "takes PERF_CAPABILITIES only for a guest with one: this state is "
			      "inconsistent, restore it with the CPUID it ran with");
	if ((lbr || pebs) && model != own)
		return refuse(m, err, err_size,
			      "the guest has %s, which KVM gives only to a guest of this host's "
			      "CPU model (%d), and the guest's is %d: the guest cannot move here, "
			      "only to a host of its own CPU model",
			      lbr ? "LBR" : "PEBS", own, model);
	if (pebs && !(leaf1->edx & CPUID_1_EDX_DS))
		return refuse(m, err, err_size,
			      "the guest has PEBS without DS in its CPUID, which KVM refuses: this "
			      "state is inconsistent, restore it with the CPUID it ran with");
	if (pebs && !(leaf1->ecx & CPUID_1_ECX_DTES64))
		return refuse(m, err, err_size,
			      "the guest has PEBS without DTES64 in its CPUID, which KVM refuses: "
			      "this state is inconsistent, restore it with the CPUID it ran with");
	return 0;
}

/*
 * KVM's vmx_set_msr(): a nonzero LBR format must be this host's; a nonzero
 * PEBS format must come with this host's PEBS fields, all of them; then
 * the guest's CPUID as above. Then kvm_set_msr_common(): every bit one it
 * gives.
 */
static int check_perf_capabilities(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long lbr = m->want & PERF_CAP_LBR_FMT, host_lbr = m->can & PERF_CAP_LBR_FMT,
			   pebs = m->want & PERF_CAP_PEBS_FIELDS,
			   host_pebs = m->can & PERF_CAP_PEBS_FIELDS;
	int ret;

	if (!vmm_guest_has_pdcm(m->cpuid))
		return 0;
	if (lbr && lbr != host_lbr)
		return refuse(m, err, err_size,
			      "LBR format %llu, this host's LBR format %llu (KVM takes its own or "
			      "0): the guest cannot move here, only to a host whose CPUs have LBR "
			      "format %llu",
			      lbr, host_lbr, lbr);
	if ((m->want & PERF_CAP_PEBS_FORMAT) && pebs != host_pebs)
		return refuse(
		    m, err, err_size,
		    "PEBS format %llu with PEBS fields 0x%llx, this host's KVM's are 0x%llx "
		    "(KVM takes its own or PEBS format 0): the guest cannot move here, only "
		    "to a host whose CPUs have the same PEBS",
		    (m->want & PERF_CAP_PEBS_FORMAT) >> 8, pebs, host_pebs);
	ret = check_perf_caps_cpuid(m, err, err_size);
	return ret ? ret : check_subset(m, err, err_size);
}

static int check_vmx_basic(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long lacks = m->want & ~m->can & VMX_BASIC_HELD_TO_KVM;
	const char *move =
	    "the guest cannot move here, only to a host of the source's CPU generation";

	if (lacks)
		return refuse(m, err, err_size, "features or reserved bits 0x%llx it lacks: %s",
			      lacks, move);
	if (m->want & VMX_BASIC_32BIT_ADDRESSES)
		return refuse(m, err, err_size,
			      "it says 32-bit VMX addresses (bit 48), which KVM never gives: this "
			      "state is no KVM guest's");
	if (VMX_BASIC_REVISION(m->want) != VMX_BASIC_REVISION(m->can))
		return refuse(
		    m, err, err_size,
		    "VMCS revision %llu, this host's revision %llu (KVM takes its own): %s",
		    VMX_BASIC_REVISION(m->want), VMX_BASIC_REVISION(m->can), move);
	if (VMX_BASIC_VMCS_SIZE(m->want) < VMX_BASIC_VMCS_SIZE(m->can))
		return refuse(m, err, err_size,
			      "VMCS of %llu bytes, this host's is %llu (KVM takes its own size or "
			      "larger): %s",
			      VMX_BASIC_VMCS_SIZE(m->want), VMX_BASIC_VMCS_SIZE(m->can), move);
	return 0;
}

static int check_vmx_misc(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long lacks = m->want & ~m->can & VMX_MISC_HELD_TO_KVM;
	bool timer =
	    guest_or_host_value(m, MSR_VMX_TRUE_PINBASED_CTLS) & PIN_BASED_PREEMPTION_TIMER;
	const char *move =
	    "the guest cannot move here, only to a host of the source's CPU generation";

	if (lacks)
		return refuse(m, err, err_size, "features or reserved bits 0x%llx it lacks: %s",
			      lacks, move);
	if (timer && VMX_MISC_TIMER_RATE(m->want) != VMX_MISC_TIMER_RATE(m->can))
		return refuse(
		    m, err, err_size,
		    "preemption timer rate %llu, this host's %llu (KVM takes its own while "
		    "the guest has the VMX preemption timer): %s",
		    VMX_MISC_TIMER_RATE(m->want), VMX_MISC_TIMER_RATE(m->can), move);
	if (VMX_MISC_CR3_TARGETS(m->want) > VMX_MISC_CR3_TARGETS(m->can))
		return refuse(m, err, err_size, "%llu CR3 targets, this host's KVM gives %llu: %s",
			      VMX_MISC_CR3_TARGETS(m->want), VMX_MISC_CR3_TARGETS(m->can), move);
	if (VMX_MISC_MSR_LIST(m->want) > VMX_MISC_MSR_LIST(m->can))
		return refuse(m, err, err_size,
			      "an MSR list of up to %llu entries, this host's KVM gives %llu: %s",
			      VMX_MISC_MSR_LIST(m->want), VMX_MISC_MSR_LIST(m->can), move);
	if (VMX_MISC_MSEG_REVISION(m->want) != VMX_MISC_MSEG_REVISION(m->can))
		return refuse(m, err, err_size,
			      "MSEG revision %llu, this host's %llu (KVM takes its own): %s",
			      VMX_MISC_MSEG_REVISION(m->want), VMX_MISC_MSEG_REVISION(m->can),
			      move);
	return 0;
}

static int check_vmx_fixed0(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long clear = m->can & ~m->want;

	if (!clear)
		return 0;
	return refuse(m, err, err_size,
		      "must-be-1 bits 0x%llx clear, which this host's VMX needs set: the guest "
		      "cannot move here, only to a host of the source's CPU generation",
		      clear);
}

static int check_by_rule(enum feature_rule rule, const struct feature_msr *m, char *err,
			 size_t err_size)
{
	switch (rule) {
	case RULE_ANY:
		return 0;
	case RULE_SUBSET:
		return check_subset(m, err, err_size);
	case RULE_VMX_CTLS:
		return check_vmx_ctls(m, err, err_size);
	case RULE_PERF_CAPS:
		return check_perf_capabilities(m, err, err_size);
	case RULE_VMX_BASIC:
		return check_vmx_basic(m, err, err_size);
	case RULE_VMX_MISC:
		return check_vmx_misc(m, err, err_size);
	case RULE_VMX_FIXED0:
		return check_vmx_fixed0(m, err, err_size);
	case RULE_DERIVED:
		return refuse(
		    m, err, err_size,
		    "KVM derives it from the other VMX MSRs or the guest's CPUID and takes "
		    "no value for it: a state kvmmig-vm saved has none, this one is not "
		    "restorable");
	}
	return 0;
}

/*
 * One of the guest's MSRs. Zero always passes: where KVM refuses a zero,
 * the restore drops it (set_msrs_dropping_absent_zeros() in state.c). One
 * this host's KVM does not list it cannot give at all.
 */
static int check_feature_msr(const struct host_features *host, const struct kvm_msrs *guest,
			     const struct kvm_cpuid2 *cpuid, int vcpu, const struct kvm_msr_entry *e,
			     char *err, size_t err_size)
{
	int f = find_feature(e->index);
	struct feature_msr m = {.vcpu = vcpu,
				.index = e->index,
				.want = e->data,
				.guest = guest,
				.cpuid = cpuid,
				.host = host};

	if (f < 0 || features[f].rule == RULE_ANY || !e->data)
		return 0;
	m.name = features[f].name;
	if (!host_value(host, e->index, &m.can))
		return refuse(&m, err, err_size,
			      "it is not among this host's KVM's feature MSRs at all: the guest "
			      "cannot move here");
	return check_by_rule(features[f].rule, &m, err, err_size);
}

int vmm_feature_msrs_check(int kvm_fd, int vcpu, const struct kvm_msrs *msrs,
			   const struct kvm_cpuid2 *cpuid, char *err, size_t err_size)
{
	struct host_features host = {.kvm_fd = kvm_fd, .list = feature_list(kvm_fd)};
	int ret = 0;

	if (!host.list)
		return -ENOMEM;
	for (unsigned int i = 0; i < msrs->nmsrs && !ret; i++)
		ret = check_feature_msr(&host, msrs, cpuid, vcpu, &msrs->entries[i], err, err_size);
	free(host.list);
	return ret;
}
