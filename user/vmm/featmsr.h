/* featmsr.h: a guest's feature MSRs checked against what this host's KVM can give. */
#ifndef KVMMIG_VMM_FEATMSR_H
#define KVMMIG_VMM_FEATMSR_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/kvm.h>

/*
 * Checks every feature MSR among @msrs (vCPU @vcpu's saved MSRs, @cpuid its
 * CPUID) against KVM_GET_MSR_FEATURE_INDEX_LIST and KVM_GET_MSRS on @kvm_fd
 * (/dev/kvm): a value with a capability this host's KVM cannot give, or one
 * its KVM_SET_MSRS would refuse (PERF_CAPABILITIES, the VMX capability
 * MSRs: KVM's own rules, with the guest's CPUID where KVM reads it), is
 * refused, naming the MSR and both values, in one line in @err. 0 or
 * -EINVAL (-errno if KVM cannot say).
 */
int vmm_feature_msrs_check(int kvm_fd, int vcpu, const struct kvm_msrs *msrs,
			   const struct kvm_cpuid2 *cpuid, char *err, size_t err_size);

/*
 * Whether the guest's CPUID has PDCM: without it the guest never sees
 * PERF_CAPABILITIES, and KVM 7.x refuses any nonzero value for it, so the
 * restore leaves it out (QEMU clears it without PDCM: a feature dependency).
 */
bool vmm_guest_has_pdcm(const struct kvm_cpuid2 *cpuid);

#endif /* KVMMIG_VMM_FEATMSR_H */
