/* cpufeat.c: the CPUID feature words a migration compares, their bit names, and the checks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cpufeat.h"

/* Linux's names (arch/x86/include/asm/cpufeatures.h), upper case. */
static const char *const names_1_edx[32] = {
    "FPU",  "VME",  "DE",   "PSE", "TSC",  "MSR", "PAE",   "MCE", "CX8",     "APIC", NULL,
    "SEP",  "MTRR", "PGE",  "MCA", "CMOV", "PAT", "PSE36", "PN",  "CLFLUSH", NULL,   "DS",
    "ACPI", "MMX",  "FXSR", "SSE", "SSE2", "SS",  "HTT",   "TM",  "IA64",    "PBE"};
static const char *const names_1_ecx[32] = {
    "SSE3",   "PCLMULQDQ", "DTES64",  "MONITOR", "DS_CPL",
    "VMX",    "SMX",	   "EST",     "TM2",	 "SSSE3",
    "CID",    "SDBG",	   "FMA",     "CX16",	 "XTPR",
    "PDCM",   NULL,	   "PCID",    "DCA",	 "SSE4_1",
    "SSE4_2", "X2APIC",	   "MOVBE",   "POPCNT",	 "TSC_DEADLINE_TIMER",
    "AES",    "XSAVE",	   "OSXSAVE", "AVX",	 "F16C",
    "RDRAND", "HYPERVISOR"};
static const char *const names_6_eax[32] = {
    [0] = "DTHERM", [1] = "IDA", [2] = "ARAT", [4] = "PLN", [6] = "PTS", [7] = "HWP"};
static const char *const names_7_0_ebx[32] = {
    "FSGSBASE",	  "TSC_ADJUST", "SGX",	      "BMI1",	  "HLE",      "AVX2",	  "FDP_EXCPTN_ONLY",
    "SMEP",	  "BMI2",	"ERMS",	      "INVPCID",  "RTM",      "CQM",	  "ZERO_FCS_FDS",
    "MPX",	  "RDT_A",	"AVX512F",    "AVX512DQ", "RDSEED",   "ADX",	  "SMAP",
    "AVX512IFMA", "PCOMMIT",	"CLFLUSHOPT", "CLWB",	  "INTEL_PT", "AVX512PF", "AVX512ER",
    "AVX512CD",	  "SHA_NI",	"AVX512BW",   "AVX512VL"};
static const char *const names_7_0_ecx[32] = {"PREFETCHWT1",
					      "AVX512VBMI",
					      "UMIP",
					      "PKU",
					      "OSPKE",
					      "WAITPKG",
					      "AVX512_VBMI2",
					      "SHSTK",
					      "GFNI",
					      "VAES",
					      "VPCLMULQDQ",
					      "AVX512_VNNI",
					      "AVX512_BITALG",
					      "TME",
					      "AVX512_VPOPCNTDQ",
					      NULL,
					      "LA57",
					      NULL,
					      NULL,
					      NULL,
					      NULL,
					      NULL,
					      "RDPID",
					      "KEYLOCKER",
					      "BUS_LOCK_DETECT",
					      "CLDEMOTE",
					      NULL,
					      "MOVDIRI",
					      "MOVDIR64B",
					      "ENQCMD",
					      "SGX_LC",
					      "PKS"};
static const char *const names_7_0_edx[32] = {[1] = "SGX_KEYS",
					      [2] = "AVX512_4VNNIW",
					      [3] = "AVX512_4FMAPS",
					      [4] = "FSRM",
					      [5] = "UINTR",
					      [8] = "AVX512_VP2INTERSECT",
					      [9] = "SRBDS_CTRL",
					      [10] = "MD_CLEAR",
					      [11] = "RTM_ALWAYS_ABORT",
					      [13] = "TSX_FORCE_ABORT",
					      [14] = "SERIALIZE",
					      [15] = "HYBRID_CPU",
					      [16] = "TSXLDTRK",
					      [18] = "PCONFIG",
					      [19] = "ARCH_LBR",
					      [20] = "IBT",
					      [22] = "AMX_BF16",
					      [23] = "AVX512_FP16",
					      [24] = "AMX_TILE",
					      [25] = "AMX_INT8",
					      [26] = "SPEC_CTRL",
					      [27] = "INTEL_STIBP",
					      [28] = "FLUSH_L1D",
					      [29] = "ARCH_CAPABILITIES",
					      [30] = "CORE_CAPABILITIES",
					      [31] = "SPEC_CTRL_SSBD"};
static const char *const names_7_1_eax[32] = {
    [0] = "SHA512",    [1] = "SM3",	 [2] = "SM4",	    [4] = "AVX_VNNI", [5] = "AVX512_BF16",
    [7] = "CMPCCXADD", [10] = "FZRM",	 [11] = "FSRS",	    [12] = "FSRC",    [17] = "FRED",
    [18] = "LKGS",     [19] = "WRMSRNS", [21] = "AMX_FP16", [22] = "HRESET",  [23] = "AVX_IFMA",
    [26] = "LAM",      [27] = "MSRLIST"};
static const char *const names_7_1_edx[32] = {[4] = "AVX_VNNI_INT8",
					      [5] = "AVX_NE_CONVERT",
					      [10] = "AVX_VNNI_INT16",
					      [14] = "PREFETCHITI",
					      [19] = "AVX10"};
static const char *const names_7_2_edx[32] = {"PSFD",	"IPRED_CTRL", "RRSBA_CTRL",
					      "DDPD_U", "BHI_CTRL",   "MCDT_NO"};
static const char *const names_xcr0[32] = {
    [0] = "X87",    [1] = "SSE",       [2] = "AVX",	  [3] = "BNDREGS",
    [4] = "BNDCSR", [5] = "OPMASK",    [6] = "ZMM_HI256", [7] = "HI16_ZMM",
    [9] = "PKRU",   [17] = "XTILECFG", [18] = "XTILEDATA"};
static const char *const names_d_1_eax[32] = {"XSAVEOPT", "XSAVEC", "XGETBV1", "XSAVES", "XFD"};
static const char *const names_kvm_eax[32] = {[0] = "CLOCKSOURCE",
					      [1] = "NOP_IO_DELAY",
					      [2] = "MMU_OP",
					      [3] = "CLOCKSOURCE2",
					      [4] = "ASYNC_PF",
					      [5] = "STEAL_TIME",
					      [6] = "PV_EOI",
					      [7] = "PV_UNHALT",
					      [9] = "PV_TLB_FLUSH",
					      [10] = "ASYNC_PF_VMEXIT",
					      [11] = "PV_SEND_IPI",
					      [12] = "POLL_CONTROL",
					      [13] = "PV_SCHED_YIELD",
					      [14] = "ASYNC_PF_INT",
					      [15] = "MSI_EXT_DEST_ID",
					      [16] = "HC_MAP_GPA_RANGE",
					      [17] = "MIGRATION_CONTROL",
					      [24] = "CLOCKSOURCE_STABLE"};
static const char *const names_e1_ecx[32] = {"LAHF_LM",	   "CMP_LEGACY",  "SVM",
					     "EXTAPIC",	   "CR8_LEGACY",  "ABM",
					     "SSE4A",	   "MISALIGNSSE", "3DNOWPREFETCH",
					     "OSVW",	   "IBS",	  "XOP",
					     "SKINIT",	   "WDT",	  NULL,
					     "LWP",	   "FMA4",	  "TCE",
					     NULL,	   "NODEID_MSR",  NULL,
					     "TBM",	   "TOPOEXT",	  "PERFCTR_CORE",
					     "PERFCTR_NB", NULL,	  "BPEXT",
					     "PTSC",	   "PERFCTR_LLC", "MWAITX"};
static const char *const names_e1_edx[32] = {
    "FPU",  "VME",	"DE",	   "PSE",     "TSC",  "MSR", "PAE",	 "MCE",
    "CX8",  "APIC",	NULL,	   "SYSCALL", "MTRR", "PGE", "MCA",	 "CMOV",
    "PAT",  "PSE36",	NULL,	   "MP",      "NX",   NULL,  "MMXEXT",	 "MMX",
    "FXSR", "FXSR_OPT", "PDPE1GB", "RDTSCP",  NULL,   "LM",  "3DNOWEXT", "3DNOW"};
static const char *const names_e7_edx[32] = {[8] = "INVTSC"};
static const char *const names_e8_ebx[32] = {[0] = "CLZERO",
					     [1] = "IRPERF",
					     [2] = "XSAVEERPTR",
					     [4] = "RDPRU",
					     [8] = "MCOMMIT",
					     [9] = "WBNOINVD",
					     [12] = "AMD_IBPB",
					     [14] = "AMD_IBRS",
					     [15] = "AMD_STIBP",
					     [16] = "AMD_IBRS_ALWAYS_ON",
					     [17] = "AMD_STIBP_ALWAYS_ON",
					     [18] = "AMD_IBRS_PREFERRED",
					     [19] = "AMD_IBRS_SAME_MODE",
					     [20] = "EFER_LMSLE_UNSUPPORTED",
					     [23] = "AMD_PPIN",
					     [24] = "AMD_SSBD",
					     [25] = "VIRT_SSBD",
					     [26] = "AMD_SSB_NO",
					     [27] = "CPPC",
					     [28] = "AMD_PSFD",
					     [29] = "BTC_NO",
					     [30] = "AMD_IBPB_RET"};
static const char *const names_e21_eax[32] = {
    [0] = "NO_NESTED_DATA_BP", [1] = "WRMSR_XX_BASE_NS",  [2] = "LFENCE_RDTSC",
    [5] = "VERW_CLEAR",	       [6] = "NULL_SEL_CLR_BASE", [8] = "AUTOIBRS",
    [9] = "NO_SMM_CTL_MSR",    [20] = "PREFETCHI",	  [27] = "SBPB",
    [28] = "IBPB_BRTYPE",      [29] = "SRSO_NO",	  [30] = "SRSO_USER_KERNEL_NO"};

const struct cpu_word_info cpu_words[CPU_NWORDS] = {
    [W_1_EDX] = {0x1, 0, R_EDX, "1 EDX", names_1_edx, CPUID_BIT(28) /* HTT */},
    [W_1_ECX] = {0x1, 0, R_ECX, "1 ECX", names_1_ecx,
		 CPUID_BIT(31) /* HYPERVISOR */ | CPUID_BIT(27) /* OSXSAVE */},
    [W_6_EAX] = {0x6, 0, R_EAX, "6 EAX", names_6_eax, 0},
    [W_7_0_EBX] = {0x7, 0, R_EBX, "7.0 EBX", names_7_0_ebx, 0},
    [W_7_0_ECX] = {0x7, 0, R_ECX, "7.0 ECX", names_7_0_ecx, CPUID_BIT(4) /* OSPKE */},
    [W_7_0_EDX] = {0x7, 0, R_EDX, "7.0 EDX", names_7_0_edx, 0},
    [W_7_1_EAX] = {0x7, 1, R_EAX, "7.1 EAX", names_7_1_eax, 0},
    [W_7_1_ECX] = {0x7, 1, R_ECX, "7.1 ECX", NULL, 0},
    [W_7_1_EDX] = {0x7, 1, R_EDX, "7.1 EDX", names_7_1_edx, 0},
    [W_7_2_EDX] = {0x7, 2, R_EDX, "7.2 EDX", names_7_2_edx, 0},
    [W_D_0_EAX] = {0xd, 0, R_EAX, "0xd.0 EAX (XCR0)", names_xcr0, 0},
    [W_D_0_EDX] = {0xd, 0, R_EDX, "0xd.0 EDX (XCR0 high)", NULL, 0},
    [W_D_1_EAX] = {0xd, 1, R_EAX, "0xd.1 EAX", names_d_1_eax, 0},
    [W_D_1_ECX] = {0xd, 1, R_ECX, "0xd.1 ECX (XSS)", NULL, 0},
    [W_D_1_EDX] = {0xd, 1, R_EDX, "0xd.1 EDX (XSS high)", NULL, 0},
    [W_14_0_ECX] = {0x14, 0, R_ECX, "0x14.0 ECX", NULL, 0},
    [W_19_0_EBX] = {0x19, 0, R_EBX, "0x19.0 EBX", NULL, 0},
    [W_KVM_EAX] = {0x40000001, 0, R_EAX, "0x40000001 EAX (KVM)", names_kvm_eax, 0},
    [W_KVM_EDX] = {0x40000001, 0, R_EDX, "0x40000001 EDX (KVM hints)", NULL, 0},
    [W_E1_ECX] = {0x80000001, 0, R_ECX, "0x80000001 ECX", names_e1_ecx, 0},
    [W_E1_EDX] = {0x80000001, 0, R_EDX, "0x80000001 EDX", names_e1_edx, 0},
    [W_E7_EDX] = {0x80000007, 0, R_EDX, "0x80000007 EDX", names_e7_edx, 0},
    [W_E8_EBX] = {0x80000008, 0, R_EBX, "0x80000008 EBX", names_e8_ebx, 0},
    [W_EA_EDX] = {0x8000000a, 0, R_EDX, "0x8000000a EDX (SVM)", NULL, 0},
    [W_E21_EAX] = {0x80000021, 0, R_EAX, "0x80000021 EAX", names_e21_eax, 0},
    [W_E22_EAX] = {0x80000022, 0, R_EAX, "0x80000022 EAX", NULL, 0},
};

const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c, uint32_t function,
					  uint32_t index)
{
	for (uint32_t i = 0; c && i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

uint32_t cpuid_reg(const struct kvm_cpuid_entry2 *e, enum cpu_reg reg)
{
	return reg == R_EAX ? e->eax : reg == R_EBX ? e->ebx : reg == R_ECX ? e->ecx : e->edx;
}

void cpuid_set_reg(struct kvm_cpuid_entry2 *e, enum cpu_reg reg, uint32_t value)
{
	if (reg == R_EAX)
		e->eax = value;
	else if (reg == R_EBX)
		e->ebx = value;
	else if (reg == R_ECX)
		e->ecx = value;
	else
		e->edx = value;
}

uint32_t cpuid_word(const struct kvm_cpuid2 *c, enum cpu_word w)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(c, cpu_words[w].function, cpu_words[w].index);

	return e ? cpuid_reg(e, cpu_words[w].reg) : 0;
}

void cpu_bit_names(enum cpu_word w, uint32_t bits, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int b = 0; b < 32 && n < len; b++) {
		const char *name = cpu_words[w].bits ? cpu_words[w].bits[b] : NULL;

		if (!(bits & CPUID_BIT(b)))
			continue;
		if (name)
			n += snprintf(buf + n, len - n, "%s%s", n ? " " : "", name);
		else
			n += snprintf(buf + n, len - n, "%sbit %d", n ? " " : "", b);
	}
}

void cpuid_vendor(const struct kvm_cpuid2 *c, char buf[13])
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	buf[0] = '\0';
	if (!e)
		return;
	memcpy(buf, &e->ebx, 4);
	memcpy(buf + 4, &e->edx, 4);
	memcpy(buf + 8, &e->ecx, 4);
	buf[12] = '\0';
	for (int i = 0; i < 12; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '?'; /* it goes into one-line messages */
}

int cpu_check_features(const struct kvm_cpuid2 *guest, const struct kvm_cpuid2 *const *avail,
		       int navail, char *err, size_t len)
{
	for (int w = 0; w < CPU_NWORDS; w++) {
		uint32_t want = cpuid_word(guest, w) & ~cpu_words[w].vmm_owned, have = 0, missing;
		char names[256];

		for (int i = 0; i < navail; i++)
			have |= cpuid_word(avail[i], w);
		missing = want & ~have;
		if (!missing)
			continue;
		cpu_bit_names(w, missing, names, sizeof(names));
		snprintf(err, len,
			 "guest CPUID leaf %s has %#x that this host's KVM cannot provide: %s",
			 cpu_words[w].name, missing, names);
		return -EOPNOTSUPP;
	}
	return 0;
}

int cpu_check_identity(const struct kvm_cpuid2 *guest, const struct kvm_cpuid2 *host, char *err,
		       size_t len)
{
	const struct kvm_cpuid_entry2 *ge = cpuid_find(guest, 0x80000008, 0);
	const struct kvm_cpuid_entry2 *he = cpuid_find(host, 0x80000008, 0);
	uint64_t xcr0 = cpuid_word(guest, W_D_0_EAX) | (uint64_t)cpuid_word(guest, W_D_0_EDX) << 32;
	char gv[13], hv[13];

	cpuid_vendor(guest, gv);
	cpuid_vendor(host, hv);
	if (strcmp(gv, hv)) {
		snprintf(err, len,
			 "guest CPU vendor is '%s', this host's '%s': a running guest chose "
			 "vendor-specific code at boot (mitigations, MSRs, SYSCALL paths) and "
			 "cannot change vendors: migrate between hosts of one vendor",
			 gv, hv);
		return -EOPNOTSUPP;
	}
	if (ge && he && (ge->eax & 0xff) > (he->eax & 0xff)) {
		snprintf(err, len,
			 "guest physical address width is %u bits (leaf 0x80000008 EAX), this "
			 "host's %u: start the guest with a model that caps it (x86-64-v2..v4 "
			 "give at most 40) or migrate to a host with wider addresses",
			 ge->eax & 0xff, he->eax & 0xff);
		return -EOPNOTSUPP;
	}
	for (uint32_t i = 2; i < 64; i++) {
		const struct kvm_cpuid_entry2 *g = cpuid_find(guest, 0xd, i);
		const struct kvm_cpuid_entry2 *h = cpuid_find(host, 0xd, i);

		if (!(xcr0 & (1ull << i)) || !g)
			continue;
		if (!h || g->eax != h->eax || g->ebx != h->ebx) {
			snprintf(err, len,
				 "guest XSAVE state component %u (%s) is %u bytes at offset %u, "
				 "this host's %u at %u (leaf 0xd.%u): the guest's saved registers "
				 "would not fit this host's layout",
				 i, i < 32 && names_xcr0[i] ? names_xcr0[i] : "?", g->eax, g->ebx,
				 h ? h->eax : 0, h ? h->ebx : 0, i);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}
