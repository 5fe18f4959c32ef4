/* cpufeat.h: the CPUID feature words a migration compares, their bit names, and the checks. */
#ifndef KVMMIG_COMMON_CPUFEAT_H
#define KVMMIG_COMMON_CPUFEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/*
 * Every CPUID register whose bits say "the guest may use this", as QEMU's
 * FeatureWordInfo lists them (leaf 0xC0000001, Centaur's, left out). A
 * guest that saw a bit set may be using the feature: it must not move to a
 * host whose KVM cannot give it.
 */
enum cpu_word {
	W_1_EDX,
	W_1_ECX,
	W_6_EAX,
	W_7_0_EBX,
	W_7_0_ECX,
	W_7_0_EDX,
	W_7_1_EAX,
	W_7_1_ECX,
	W_7_1_EDX,
	W_7_2_EDX,
	W_D_0_EAX, /* XCR0 bits 0-31 the guest may enable */
	W_D_0_EDX, /* XCR0 bits 32-63 */
	W_D_1_EAX, /* XSAVEOPT XSAVEC XGETBV1 XSAVES XFD */
	W_D_1_ECX, /* IA32_XSS bits 0-31 */
	W_D_1_EDX, /* IA32_XSS bits 32-63 */
	W_14_0_ECX,
	W_19_0_EBX,
	W_KVM_EAX, /* 0x40000001: KVM's paravirtual features */
	W_KVM_EDX, /* 0x40000001: KVM's hints */
	W_E1_ECX,  /* 0x80000001 */
	W_E1_EDX,
	W_E7_EDX, /* 0x80000007: invariant TSC */
	W_E8_EBX, /* 0x80000008: AMD's speculation controls, WBNOINVD */
	W_EA_EDX, /* 0x8000000A: SVM features */
	W_E21_EAX,
	W_E22_EAX,
	CPU_NWORDS
};

enum cpu_reg { R_EAX, R_EBX, R_ECX, R_EDX };

struct cpu_word_info {
	uint32_t function, index;
	enum cpu_reg reg;
	const char *name;	 /* "7.0 EBX" */
	const char *const *bits; /* 32 names, NULL where none is known */
	uint32_t vmm_owned;	 /* bits the VMM sets or the guest toggles itself */
};

extern const struct cpu_word_info cpu_words[CPU_NWORDS];

#define CPUID_BIT(n) (1u << (n))

/* Entry (@function, @index) of @c, or NULL. */
const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t function,
					  uint32_t index);
uint32_t cpuid_reg(const struct kvm_cpuid_entry2 *e, enum cpu_reg reg);
void cpuid_set_reg(struct kvm_cpuid_entry2 *e, enum cpu_reg reg, uint32_t value);
/* Word @w of @c, 0 if the leaf is absent. */
uint32_t cpuid_word(const struct kvm_cpuid2 *c, enum cpu_word w);
/* Writes the names of @bits of word @w ("AVX512F AVX512DQ", "bit 5" where unnamed). */
void cpu_bit_names(enum cpu_word w, uint32_t bits, char *buf, size_t len);
/* The vendor string of leaf 0 ("GenuineIntel"); @buf holds 13 bytes. "" without leaf 0. */
void cpuid_vendor(const struct kvm_cpuid2 *c, char buf[13]);

/*
 * Whether every feature bit of @guest is one of @navail CPUIDs (a host's
 * KVM_GET_SUPPORTED_CPUID and what its KVM reports for a vCPU it set up)
 * provides. -EOPNOTSUPP with one line in @err naming the first word that
 * lacks some ("leaf 0xd.1 EAX has 0x8 ...: XSAVES", names last: a
 * refusal crossing the wire is cut at 256 bytes) otherwise.
 */
int cpu_check_features(const struct kvm_cpuid2 *guest, const struct kvm_cpuid2 *const *avail,
		       int navail, char *err, size_t len);
/*
 * What else a running guest relies on that a host must match: the vendor
 * string, a physical address width (0x80000008 EAX[7:0]) no wider than the
 * host's, and the size and offset of every XSAVE state component the guest
 * may enable (leaf 0xd, standard format) equal to the host's.
 * -EOPNOTSUPP with one line in @err otherwise.
 */
int cpu_check_identity(const struct kvm_cpuid2 *guest, const struct kvm_cpuid2 *host, char *err,
		       size_t len);

#endif /* KVMMIG_COMMON_CPUFEAT_H */
