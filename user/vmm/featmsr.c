/* featmsr.c: a guest's feature MSRs checked against what this host's KVM can give. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "vmm/featmsr.h"

/*
 * How a feature MSR's value compares with the one KVM_GET_MSRS on /dev/kvm
 * reports. KVM_SET_MSRS is no check: 6.1 takes any ARCH_CAPABILITIES from
 * userspace, so a guest would be told it is immune (MDS_NO, RDCL_NO...) on
 * a host that is not; and where KVM does refuse, it refuses half-way
 * through a restore. For PERF_CAPABILITIES the rule is KVM's own, the
 * same from 6.1 to 7.x (read in its source: vmx_set_msr() and
 * kvm_set_msr_common()). This project's hosts are AMD, whose KVM has no
 * PERF_CAPABILITIES: that rule is tested against fake Intel hosts only
 * (tests/unit/featmsr.sh).
 */
enum feature_rule {
	RULE_ANY,	/* KVM takes any value: UCODE_REV, PLATFORM_INFO */
	RULE_SUBSET,	/* every set bit must be one KVM can give */
	RULE_VMX_CTLS,	/* low half: KVM's must-be-1 bits set; high half: a subset */
	RULE_PERF_CAPS, /* a subset, and LBR and PEBS formats KVM's own or 0 */
	RULE_KVM,	/* semantics KVM_SET_MSRS checks itself (VMX_BASIC, MISC, ...) */
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
    {0x481, "VMX_PINBASED_CTLS", RULE_VMX_CTLS},
    {0x482, "VMX_PROCBASED_CTLS", RULE_VMX_CTLS},
    {0x483, "VMX_EXIT_CTLS", RULE_VMX_CTLS},
    {0x484, "VMX_ENTRY_CTLS", RULE_VMX_CTLS},
    {0x48b, "VMX_PROCBASED_CTLS2", RULE_VMX_CTLS},
    {0x48c, "VMX_EPT_VPID_CAP", RULE_SUBSET},
    {0x48d, "VMX_TRUE_PINBASED_CTLS", RULE_VMX_CTLS},
    {0x48e, "VMX_TRUE_PROCBASED_CTLS", RULE_VMX_CTLS},
    {0x48f, "VMX_TRUE_EXIT_CTLS", RULE_VMX_CTLS},
    {0x490, "VMX_TRUE_ENTRY_CTLS", RULE_VMX_CTLS},
    {0x491, "VMX_VMFUNC", RULE_SUBSET},
    {0xc0011029, "AMD64_DE_CFG", RULE_SUBSET},
};

/* PERF_CAPABILITIES fields KVM compares as values (msr-index.h's names). */
#define PERF_CAP_LBR_FMT     0x3full
#define PERF_CAP_PEBS_FORMAT 0xf00ull
/*
 * KVM's PERF_CAP_PEBS_MASK: trap, arch regs, format, baseline (6.1, 6.12),
 * and timing info (bit 17, 7.x). A KVM without bit 17 in its mask never
 * gives it, so comparing it everywhere is what each of them does.
 */
#define PERF_CAP_PEBS_FIELDS (0x40ull | 0x80ull | 0xf00ull | (1ull << 14) | (1ull << 17))

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
	unsigned long long want; /* the guest's */
	unsigned long long can;	 /* this host's KVM's */
};

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
 * KVM's vmx_set_msr(): a nonzero LBR format must be this host's; a nonzero
 * PEBS format must come with this host's PEBS fields, all of them. Then
 * kvm_set_msr_common(): every bit one it gives.
 */
static int check_perf_capabilities(const struct feature_msr *m, char *err, size_t err_size)
{
	unsigned long long lbr = m->want & PERF_CAP_LBR_FMT, host_lbr = m->can & PERF_CAP_LBR_FMT,
			   pebs = m->want & PERF_CAP_PEBS_FIELDS,
			   host_pebs = m->can & PERF_CAP_PEBS_FIELDS;

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
	return check_subset(m, err, err_size);
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
	case RULE_KVM:
		return 0;
	}
	return 0;
}

/*
 * One of the guest's MSRs. One this host's KVM does not list it cannot
 * give at all: 0 only.
 */
static int check_feature_msr(const struct host_features *host, int vcpu,
			     const struct kvm_msr_entry *e, char *err, size_t err_size)
{
	int f = find_feature(e->index);
	struct feature_msr m = {.vcpu = vcpu, .index = e->index, .want = e->data};

	if (f < 0 || features[f].rule == RULE_ANY || features[f].rule == RULE_KVM)
		return 0;
	m.name = features[f].name;
	host_value(host, e->index, &m.can);
	return check_by_rule(features[f].rule, &m, err, err_size);
}

int vmm_feature_msrs_check(int kvm_fd, int vcpu, const struct kvm_msrs *msrs, char *err,
			   size_t err_size)
{
	struct host_features host = {.kvm_fd = kvm_fd, .list = feature_list(kvm_fd)};
	int ret = 0;

	if (!host.list)
		return -ENOMEM;
	for (unsigned int i = 0; i < msrs->nmsrs && !ret; i++)
		ret = check_feature_msr(&host, vcpu, &msrs->entries[i], err, err_size);
	free(host.list);
	return ret;
}
