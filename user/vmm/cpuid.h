/* cpuid.h: the CPUID a guest sees: the host's (what KVM supports) or a conservative baseline. */
#ifndef KVMMIG_VMM_CPUID_H
#define KVMMIG_VMM_CPUID_H

#include <linux/kvm.h>

#include "vmm/vmm.h"

/*
 * Both models start from KVM_GET_SUPPORTED_CPUID and then:
 *  - give every vCPU its APIC ID (leaf 1 EBX, leaves 0xb/0x1f EDX) and a
 *    topology of one package with one core per vCPU, one thread per core;
 *  - hide VMX and SVM: nested virtualization state is not migrated;
 *  - set the HYPERVISOR bit (leaf 1 ECX 31), which KVM leaves to the VMM;
 *  - drop XSAVE state components (leaf 0xd) whose feature is not offered.
 *
 * "baseline" further keeps only this documented feature set, so that a
 * guest started with it can move between hosts with different processors
 * of the same vendor (each bit is still dropped when KVM lacks it; the
 * migration handshake compares what is left):
 *  leaf 1 EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV
 *              PAT PSE36 CLFSH MMX FXSR SSE SSE2 (+HTT with several vCPUs)
 *  leaf 1 ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 x2APIC POPCNT TSC-deadline
 *              HYPERVISOR
 *  leaf 0x80000001: EDX SYSCALL NX LM, ECX LAHF/SAHF
 *  leaf 0x40000001 (KVM): CLOCKSOURCE NOP_IO_DELAY CLOCKSOURCE2 PV_EOI
 *              CLOCKSOURCE_STABLE_BIT
 * i.e. x86-64-v2 plus what KVM itself emulates. No XSAVE, AVX, AVX-512,
 * AES, RDRAND, FSGSBASE, PCID, 1 GiB pages, RDTSCP or invariant TSC: leaves
 * 7, 0xd, 6, 0xa and 0x80000007 are emptied or removed. The vendor string,
 * family/model/stepping, brand string, cache leaves (2, 4) and address
 * sizes (0x80000008 EAX) stay the host's: cross-vendor moves are out of
 * scope.
 */

/* KVM's supported CPUID, fetched once per process. -errno on failure. */
int vmm_cpuid_supported(int kvm_fd, const struct kvm_cpuid2 **out);
/* Builds the CPUID of vCPU @index; the caller frees *@out. */
int vmm_cpuid_build(int kvm_fd, enum vmm_cpu_model model, int index, int ncpus,
		    struct kvm_cpuid2 **out);
/*
 * Whether every feature bit of @cpuid (leaves 1, 7, 0xd, 0x80000001 and
 * KVM's 0x40000001) is one this host provides: in KVM's supported CPUID or
 * in @own, the CPUID KVM reports for a vCPU this host set up with the same
 * model (some KVMs, PVM among them, report more than "supported"). A guest
 * must not move to a host that lacks a feature it may be using.
 * -EOPNOTSUPP with @err naming the leaf, register and bits otherwise.
 */
int vmm_cpuid_check_supported(int kvm_fd, const struct kvm_cpuid2 *own,
			      const struct kvm_cpuid2 *cpuid, char *err, size_t err_size);
const char *vmm_cpu_model_name(enum vmm_cpu_model model);
int vmm_cpu_model_parse(const char *name, enum vmm_cpu_model *out);

#endif /* KVMMIG_VMM_CPUID_H */
