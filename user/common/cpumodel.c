/* cpumodel.c: the named, versioned CPU models a guest can be started with, without KVM. */
#include <stdio.h>
#include <string.h>

#include "common/cpumodel.h"

#define B CPUID_BIT

/*
 * x86-64 base, what a 64-bit Linux requires (asm/required-features.h) and
 * KVM always gives: FPU PSE TSC MSR PAE CX8 APIC PGE CMOV MMX FXSR SSE SSE2;
 * SYSCALL NX LM. The rest of leaf 1 EDX's classics are given where the host
 * has them (QEMU's TCG CPU "max", the test hosts', has no VME).
 */
#define BASE_1_EDX                                                                                 \
	(B(0) | B(3) | B(4) | B(5) | B(6) | B(8) | B(9) | B(13) | B(15) | B(23) | B(24) | B(25) |  \
	 B(26))
/* VME DE MCE SEP MTRR MCA PAT PSE36 CLFLUSH, and HTT (the VMM's). */
#define ALLOWED_1_EDX (B(1) | B(2) | B(7) | B(11) | B(12) | B(14) | B(16) | B(17) | B(19) | B(28))
#define BASE_E1_EDX   (B(11) | B(20) | B(29))
/* v2: SSE3 SSSE3 CX16 SSE4_1 SSE4_2 POPCNT; LAHF_LM. */
#define V2_1_ECX  (B(0) | B(9) | B(13) | B(19) | B(20) | B(23))
#define V2_E1_ECX B(0)
/* v3: + PCLMULQDQ FMA MOVBE AES XSAVE AVX F16C; BMI1 AVX2 BMI2; ABM (LZCNT); XCR0 x87 SSE AVX. */
#define V3_1_ECX  (V2_1_ECX | B(1) | B(12) | B(22) | B(25) | B(26) | B(28) | B(29))
#define V3_7_EBX  (B(3) | B(5) | B(8))
#define V3_E1_ECX (V2_E1_ECX | B(5))
#define V3_XCR0	  (B(0) | B(1) | B(2))
/* v4: + AVX512F AVX512DQ AVX512CD AVX512BW AVX512VL; XCR0 OPMASK ZMM_HI256 HI16_ZMM. */
#define V4_7_EBX (V3_7_EBX | B(16) | B(17) | B(28) | B(30) | B(31))
#define V4_XCR0	 (V3_XCR0 | B(5) | B(6) | B(7))

/*
 * Given when the host's KVM has them. Protection: PCID, SMEP, SMAP, UMIP,
 * FSGSBASE, INVPCID (KPTI without PCID/INVPCID flushes the TLB at every
 * kernel entry). Speculation controls and "not affected" bits, Intel's
 * (7.0 EDX, 7.2 EDX) and AMD's (0x80000008 EBX, 0x80000021 EAX): without
 * them a guest cannot mitigate Spectre v2, SSB, MDS, L1TF, SRSO, BHI. Not
 * 0x80000021's NO_NESTED_DATA_BP or NULL_SEL_CLR_BASE: behaviours, not
 * mitigations, that newer KVMs list and older ones do not.
 * KVM-emulated: x2APIC, TSC-deadline, ARAT, kvmclock, PV EOI.
 */
#define ALLOWED                                                                                    \
	.allowed = {                                                                               \
	    [W_1_ECX] = B(17) | B(21) | B(24) | B(27) | B(31),                                     \
	    [W_1_EDX] = ALLOWED_1_EDX,                                                             \
	    [W_6_EAX] = B(2),                                                                      \
	    [W_7_0_EBX] = B(0) | B(7) | B(10) | B(20),                                             \
	    [W_7_0_ECX] = B(2),                                                                    \
	    [W_7_0_EDX] = B(10) | B(26) | B(27) | B(28) | B(29) | B(31),                           \
	    [W_7_2_EDX] = B(0) | B(1) | B(2) | B(4) | B(5),                                        \
	    [W_KVM_EAX] = B(0) | B(1) | B(3) | B(6) | B(24),                                       \
	    [W_E8_EBX] = B(12) | B(14) | B(15) | B(16) | B(17) | B(18) | B(19) | B(24) | B(25) |   \
			 B(26) | B(28) | B(29) | B(30),                                            \
	    [W_E21_EAX] = B(2) | B(5) | B(8) | B(27) | B(28) | B(29) | B(30),                      \
	}

const struct cpu_model cpu_models[] = {
    {.name = "host", .version = 1, .id = CPU_MODEL_HOST, .fixed = false},
    {
	.name = "x86-64-v2",
	.version = 1,
	.id = CPU_MODEL_X86_64_V2,
	.fixed = true,
	.required = {[W_1_EDX] = BASE_1_EDX,
		     [W_1_ECX] = V2_1_ECX,
		     [W_E1_EDX] = BASE_E1_EDX,
		     [W_E1_ECX] = V2_E1_ECX},
	ALLOWED,
    },
    {
	.name = "x86-64-v3",
	.version = 1,
	.id = CPU_MODEL_X86_64_V3,
	.fixed = true,
	.required = {[W_1_EDX] = BASE_1_EDX,
		     [W_1_ECX] = V3_1_ECX,
		     [W_7_0_EBX] = V3_7_EBX,
		     [W_D_0_EAX] = V3_XCR0,
		     [W_E1_EDX] = BASE_E1_EDX,
		     [W_E1_ECX] = V3_E1_ECX},
	ALLOWED,
    },
    {
	.name = "x86-64-v4",
	.version = 1,
	.id = CPU_MODEL_X86_64_V4,
	.fixed = true,
	.required = {[W_1_EDX] = BASE_1_EDX,
		     [W_1_ECX] = V3_1_ECX,
		     [W_7_0_EBX] = V4_7_EBX,
		     [W_D_0_EAX] = V4_XCR0,
		     [W_E1_EDX] = BASE_E1_EDX,
		     [W_E1_ECX] = V3_E1_ECX},
	ALLOWED,
    },
};
const int cpu_nmodels = sizeof(cpu_models) / sizeof(cpu_models[0]);

const struct cpu_model *cpu_model_by_name(const char *name)
{
	for (int i = 0; i < cpu_nmodels; i++)
		if (!strcmp(cpu_models[i].name, name))
			return &cpu_models[i];
	return NULL;
}

const struct cpu_model *cpu_model_by_id(uint32_t id)
{
	for (int i = 0; i < cpu_nmodels; i++)
		if (cpu_models[i].id == id)
			return &cpu_models[i];
	return NULL;
}

const char *cpu_model_names(void)
{
	return "host, x86-64-v2, x86-64-v3, x86-64-v4";
}

bool cpu_model_keeps_leaf(const struct cpu_model *m, uint32_t function, uint32_t index)
{
	if (!m->fixed)
		return true;
	switch (function) {
	case 0x0:
	case 0x1:
	case 0x2: /* cache descriptors: the host's, informational */
	case 0x4:
	case 0x6:
	case 0xb:
	case 0x40000000:
	case 0x40000001:
	case 0x80000000:
	case 0x80000001:
	case 0x80000002: /* brand string */
	case 0x80000003:
	case 0x80000004:
	case 0x80000005: /* AMD's L1 and L2/L3 cache descriptions */
	case 0x80000006:
	case 0x80000007:
	case 0x80000008:
	case 0x80000021:
		return true;
	case 0x7:
		return index <= 2;
	case 0xd: /* only where the model has XSAVE; its components sanitized after */
		return m->required[W_1_ECX] & B(26);
	default:
		return false;
	}
}

void cpu_model_mask(const struct cpu_model *m, struct kvm_cpuid_entry2 *e)
{
	if (!m->fixed)
		return;
	for (int w = 0; w < CPU_NWORDS; w++)
		if (cpu_words[w].function == e->function && cpu_words[w].index == e->index)
			cpuid_set_reg(e, cpu_words[w].reg,
				      cpuid_reg(e, cpu_words[w].reg) &
					  (m->required[w] | m->allowed[w]));
	switch (e->function) {
	case 0x6: /* power management: nothing but ARAT */
		e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x7:
		if (e->index == 0 && e->eax > 2)
			e->eax = 2; /* the last subleaf a model knows */
		if (e->index == 1)
			e->ebx = 0;
		if (e->index == 2)
			e->eax = e->ebx = e->ecx = 0;
		break;
	case 0x40000001:
		e->ebx = e->ecx = 0;
		break;
	case 0x80000007: /* RAS, power management */
		e->eax = e->ebx = e->ecx = 0;
		break;
	case 0x80000008:
		/*
		 * A guest may use every address bit it was told of: capped, it
		 * moves to hosts with at least that many (a guest of a few
		 * GiB needs far fewer; QEMU's named models also say 40).
		 */
		if ((e->eax & 0xff) > CPU_MODEL_MAX_PHYS_BITS)
			e->eax = (e->eax & ~0xffu) | CPU_MODEL_MAX_PHYS_BITS;
		e->edx = 0;
		break;
	case 0x80000021:
		e->ebx = e->ecx = e->edx = 0;
		break;
	}
}

int cpu_model_missing(const struct cpu_model *m, const struct kvm_cpuid2 *const *avail, int navail,
		      char *buf, size_t len)
{
	size_t n = 0;
	int words = 0;

	buf[0] = '\0';
	for (int w = 0; w < CPU_NWORDS; w++) {
		uint32_t lack = m->required[w];
		char names[256];

		for (int i = 0; i < navail; i++)
			lack &= ~cpuid_word(avail[i], w);
		if (!lack)
			continue;
		words++;
		cpu_bit_names(w, lack, names, sizeof(names));
		if (n < len)
			n += snprintf(buf + n, len - n, "%sleaf %s: %s", n ? "; " : "",
				      cpu_words[w].name, names);
	}
	return words;
}
