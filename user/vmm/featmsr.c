/* featmsr.c: a guest's feature MSRs checked against what this host's KVM can give. */
#include <errno.h>
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
 * through a restore.
 */
enum feature_rule {
	RULE_ANY,	/* KVM takes any value: UCODE_REV, PLATFORM_INFO */
	RULE_SUBSET,	/* every set bit must be one KVM can give */
	RULE_VMX_CTLS,	/* low half: KVM's must-be-1 bits set; high half: a subset */
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
	{0x345, "PERF_CAPABILITIES", RULE_SUBSET},
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

int vmm_feature_msrs_check(int kvm_fd, int vcpu, const struct kvm_msrs *msrs, char *err,
			   size_t err_size)
{
	struct kvm_msr_list *list = feature_list(kvm_fd);
	int ret = 0;

	if (!list)
		return -ENOMEM;
	for (unsigned int i = 0; i < msrs->nmsrs && !ret; i++) {
		struct {
			struct kvm_msrs head;
			struct kvm_msr_entry e;
		} can = {.head.nmsrs = 1, .e.index = msrs->entries[i].index};
		unsigned long long want = msrs->entries[i].data, missing;
		int f = find_feature(can.e.index);

		if (f < 0 || features[f].rule == RULE_ANY || features[f].rule == RULE_KVM)
			continue;
		/* One this host's KVM does not list it cannot give at all: 0 only. */
		if (listed(list, can.e.index) && ioctl(kvm_fd, KVM_GET_MSRS, &can) != 1)
			can.e.data = 0;
		if (features[f].rule == RULE_VMX_CTLS)
			missing = ((can.e.data & 0xffffffffull) & ~want) |
				  (want & ~can.e.data & ~0xffffffffull);
		else
			missing = want & ~can.e.data;
		if (!missing)
			continue;
		if (err && err_size)
			snprintf(err, err_size,
				 "vCPU %d: feature MSR 0x%x (%s) is 0x%llx, this host's KVM can "
				 "give 0x%llx (bits 0x%llx missing): the guest cannot move here",
				 vcpu, can.e.index, features[f].name, want,
				 (unsigned long long)can.e.data, missing);
		ret = -EINVAL;
	}
	free(list);
	return ret;
}
