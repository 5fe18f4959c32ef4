/* cpumodel.h: the named, versioned CPU models a guest can be started with, without KVM. */
#ifndef KVMMIG_COMMON_CPUMODEL_H
#define KVMMIG_COMMON_CPUMODEL_H

#include "common/cpufeat.h"

/*
 * A model is a name and a version: the pair means the same feature words
 * forever. A changed definition is a new version (a new id), never an edit
 * of an old one, so a guest saved or migrated with a model finds the same
 * model on every host and in every later kvmmig.
 *
 * host       everything KVM_GET_SUPPORTED_CPUID offers (VMX/SVM hidden).
 * x86-64-v2  the x86-64 psABI's micro-architecture levels (v2: SSE3 SSSE3
 * x86-64-v3  SSE4.1 SSE4.2 POPCNT CX16 LAHF; v3: + AVX AVX2 BMI1 BMI2 F16C
 * x86-64-v4  FMA LZCNT MOVBE XSAVE, and AES PCLMULQDQ as every v3 CPU has
 *            them; v4: + AVX512F/BW/CD/DQ/VL) over the x86-64 base, each
 *            required: a host without one refuses to start the model.
 *            Then, given when this host's KVM has them (and compared at
 *            every migration): the protection features SMEP SMAP UMIP
 *            FSGSBASE PCID INVPCID, the speculation controls and their
 *            "not affected" bits (SPEC_CTRL/IBRS/IBPB STIBP SSBD MD_CLEAR
 *            FLUSH_L1D ARCH_CAPABILITIES, leaf 7.2's, AMD_IBPB/IBRS/STIBP/
 *            SSBD VIRT_SSBD ... BTC_NO, SBPB SRSO_NO ...), x2APIC, the
 *            TSC-deadline timer, ARAT and KVM's clock/EOI paravirtual
 *            features. Nothing else: no invariant TSC, no PMU (leaf 0xa),
 *            no TSX, no AMX/AVX-VNNI, no 1 GiB pages/RDTSCP, no XSAVES.
 *            The vendor, family/model/stepping, brand and cache leaves are
 *            the starting host's (see cpu_model_mask()); the physical
 *            address width is capped at 40 bits (QEMU's default).
 */
enum cpu_model_id {
	CPU_MODEL_HOST = 0,
	CPU_MODEL_RETIRED_BASELINE = 1, /* kvmmig before models: never built again */
	CPU_MODEL_X86_64_V2 = 2,	/* x86-64-v2 version 1 */
	CPU_MODEL_X86_64_V3 = 3,	/* x86-64-v3 version 1 */
	CPU_MODEL_X86_64_V4 = 4,	/* x86-64-v4 version 1 */
};

/* The widest guest physical address a named model gives. */
#define CPU_MODEL_MAX_PHYS_BITS 40

struct cpu_model {
	const char *name;
	unsigned int version;
	enum cpu_model_id id; /* in state blobs (VM_INFO) */
	bool fixed;	      /* false for host: no masking at all */
	uint32_t required[CPU_NWORDS];
	uint32_t allowed[CPU_NWORDS]; /* given when the host has them */
};

/* host, then the named models from the lowest level up. */
extern const struct cpu_model cpu_models[];
extern const int cpu_nmodels;

const struct cpu_model *cpu_model_by_name(const char *name);
const struct cpu_model *cpu_model_by_id(uint32_t id);
/* "host, x86-64-v2, x86-64-v3, x86-64-v4" */
const char *cpu_model_names(void);

/* Whether model @m gives the guest leaf @function.@index at all. */
bool cpu_model_keeps_leaf(const struct cpu_model *m, uint32_t function, uint32_t index);
/*
 * Masks entry @e (from KVM_GET_SUPPORTED_CPUID) to what model @m gives:
 * feature words to its required and allowed bits, the other registers of
 * feature leaves to zero, the address width capped.
 */
void cpu_model_mask(const struct cpu_model *m, struct kvm_cpuid_entry2 *e);
/*
 * The required features of @m that none of @navail CPUIDs (a host's
 * supported CPUID, what its KVM reports for a vCPU) has, as "leaf 7.0 EBX:
 * AVX512F AVX512DQ; ..." into @buf; the number of words lacking some (0:
 * this host can run @m).
 */
int cpu_model_missing(const struct cpu_model *m, const struct kvm_cpuid2 *const *avail, int navail,
		      char *buf, size_t len);

#endif /* KVMMIG_COMMON_CPUMODEL_H */
