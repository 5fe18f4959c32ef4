/* cpuid.h: the CPUID a guest sees (KVM's supported CPUID through a CPU model) and its checks. */
#ifndef KVMMIG_VMM_CPUID_H
#define KVMMIG_VMM_CPUID_H

#include <stdio.h>
#include <linux/kvm.h>

#include "common/cpumodel.h"
#include "vmm/vmm.h"

/*
 * Every model starts from KVM_GET_SUPPORTED_CPUID; a named one keeps only
 * its leaves and feature bits (common/cpumodel.h). Then every vCPU gets:
 *  - its APIC ID (leaf 1 EBX, leaves 0xb/0x1f EDX) and a topology of one
 *    package with one core per vCPU, one thread per core;
 *  - VMX and SVM hidden: nested virtualization state is not migrated;
 *  - the HYPERVISOR bit (leaf 1 ECX 31), which KVM leaves to the VMM;
 *  - no XSAVE state component (leaf 0xd) whose feature is not offered.
 */

/*
 * What this host's KVM gives a guest, fetched once per process:
 * KVM_GET_SUPPORTED_CPUID with the TSC-deadline timer KVM_CAP_TSC_DEADLINE_TIMER
 * promises, and the feature bits a vCPU reports beyond it (PVM's vCPUs
 * get more than it lists). -errno on failure.
 */
int vmm_cpuid_supported(int kvm_fd, const struct kvm_cpuid2 **out);
/* Builds the CPUID of vCPU @index; the caller frees *@out. */
int vmm_cpuid_build(int kvm_fd, const struct cpu_model *model, int index, int ncpus,
		    struct kvm_cpuid2 **out);
/*
 * Whether this host can give a guest @cpuid: the same vendor, an address
 * width and XSAVE layout it can hold (cpu_check_identity()), and every
 * feature bit of every word QEMU compares (cpu_check_features()) in KVM's
 * supported CPUID or in @own, the CPUID KVM reports for a vCPU this host
 * set up with the same model (some KVMs, PVM among them, report more than
 * "supported"). A guest must not move to a host that lacks a feature it
 * may be using. -EOPNOTSUPP with @err naming the leaf, register and bits.
 */
int vmm_cpuid_check_supported(int kvm_fd, const struct kvm_cpuid2 *own,
			      const struct kvm_cpuid2 *cpuid, char *err, size_t err_size);
/*
 * 0 if this host's KVM has every feature @model requires (in its supported
 * CPUID or in @own, what it reports for a vCPU set up with @model), else
 * -EOPNOTSUPP and why in @err.
 */
int vmm_cpu_model_check_host(int kvm_fd, const struct cpu_model *model,
			     const struct kvm_cpuid2 *own, char *err, size_t err_size);
/* Writes vmm_cpuid_supported() as "cpuid ..." lines (kvmmig-vm --print-supported-cpuid). */
int vmm_cpuid_print_supported(int kvm_fd, FILE *f);

#endif /* KVMMIG_VMM_CPUID_H */
