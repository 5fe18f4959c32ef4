/*
 * cpufeat_test.c: the CPUID feature-word tables and the models, without KVM:
 * bit names sit at the bits Linux gives them, a model masks a made-up host's
 * CPUID to its level plus the protection bits the host has, and the check
 * names the word and bits a destination lacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cpufeat.h"
#include "common/cpumodel.h"

static int failures;

static void check(const char *name, int ok, const char *got)
{
	if (ok)
		printf("PASS: %s\n", name);
	else
		printf("FAIL: %s: got '%s'\n", name, got);
	failures += !ok;
}

static void bit_is(enum cpu_word w, int bit, const char *want)
{
	char got[64], name[128];

	cpu_bit_names(w, 1u << bit, got, sizeof(got));
	snprintf(name, sizeof(name), "leaf %s bit %d is %s", cpu_words[w].name, bit, want);
	check(name, !strcmp(got, want), got);
}

int main(void)
{
	static struct {
		struct kvm_cpuid2 head;
		struct kvm_cpuid_entry2 e[8];
	} host = {
	    .head.nent = 8,
	    .e = {
		{.function = 0,
		 .eax = 0xd,
		 .ebx = 0x68747541,
		 .ecx = 0x444d4163,
		 .edx = 0x69746e65},
		/* every leaf 1 bit but VMX */
		{.function = 1, .ecx = 0xffffffdf, .edx = 0xffffffff},
		/* every leaf 7.0 bit: AVX-512, TSX, SMEP, ... */
		{.function = 7, .eax = 2, .ebx = 0xffffffff, .ecx = 0xffffffff, .edx = 0xffffffff},
		{.function = 7, .index = 1, .eax = 0xffffffff},
		{.function = 0xd, .eax = 0x2e7, .ecx = 0x988},
		{.function = 0x80000001, .ecx = 0xffffffff, .edx = 0xffffffff},
		{.function = 0x80000007, .edx = 0x100},
		{.function = 0x80000008, .eax = 0x3030, .ebx = 0xffffffff},
	    }};
	const struct kvm_cpuid2 *avail[1] = {&host.head};
	const struct cpu_model *v3 = cpu_model_by_name("x86-64-v3");
	struct kvm_cpuid_entry2 e;
	char err[512] = "", lacks[512];

	bit_is(W_1_ECX, 28, "AVX");
	bit_is(W_1_ECX, 31, "HYPERVISOR");
	bit_is(W_1_EDX, 26, "SSE2");
	bit_is(W_1_EDX, 31, "PBE");
	bit_is(W_7_0_EBX, 20, "SMAP");
	bit_is(W_7_0_EBX, 31, "AVX512VL");
	bit_is(W_7_0_ECX, 16, "LA57");
	bit_is(W_7_0_ECX, 22, "RDPID");
	bit_is(W_7_0_ECX, 31, "PKS");
	bit_is(W_7_0_EDX, 10, "MD_CLEAR");
	bit_is(W_7_0_EDX, 29, "ARCH_CAPABILITIES");
	bit_is(W_D_1_EAX, 3, "XSAVES");
	bit_is(W_E1_ECX, 5, "ABM");
	bit_is(W_E1_ECX, 29, "MWAITX");
	bit_is(W_E1_EDX, 27, "RDTSCP");
	bit_is(W_E1_EDX, 29, "LM");
	bit_is(W_E8_EBX, 12, "AMD_IBPB");
	bit_is(W_E8_EBX, 25, "VIRT_SSBD");
	bit_is(W_E21_EAX, 29, "SRSO_NO");
	bit_is(W_KVM_EAX, 24, "CLOCKSOURCE_STABLE");

	/* x86-64-v3 on a host with everything: its level, protection bits, nothing else. */
	check("the host runs x86-64-v3", !cpu_model_missing(v3, avail, 1, lacks, sizeof(lacks)),
	      lacks);
	e = host.e[2];
	cpu_model_mask(v3, &e);
	snprintf(err, sizeof(err), "7.0 EAX %#x EBX %#x ECX %#x EDX %#x", e.eax, e.ebx, e.ecx,
		 e.edx);
	check("x86-64-v3 leaf 7.0: BMI1 AVX2 BMI2 + FSGSBASE SMEP INVPCID SMAP, UMIP, the Intel "
	      "speculation controls; no AVX-512, TSX, LA57",
	      e.eax == 2 && e.ebx == (0x128 | 0x100481) && e.ecx == 0x4 && e.edx == 0xbc000400,
	      err);
	e = host.e[3];
	cpu_model_mask(v3, &e);
	check("x86-64-v3 leaf 7.1: nothing (no AVX-VNNI, no LAM)", !e.eax && !e.ebx,
	      "7.1 not empty");
	e = host.e[7];
	cpu_model_mask(v3, &e);
	snprintf(err, sizeof(err), "0x80000008 EAX %#x EBX %#x", e.eax, e.ebx);
	check("x86-64-v3 leaf 0x80000008: 40 address bits, AMD's speculation controls only",
	      e.eax == 0x3028 && e.ebx == 0x770fd000, err);
	e = host.e[6];
	cpu_model_mask(v3, &e);
	check("x86-64-v3: no invariant TSC", !e.edx, "INVTSC kept");
	e = host.e[4];
	cpu_model_mask(v3, &e);
	snprintf(err, sizeof(err), "XCR0 %#x", e.eax);
	check("x86-64-v3 XCR0: x87 SSE AVX", e.eax == 0x7, err);
	check("x86-64-v3 drops leaf 0xa, keeps 0x80000021",
	      !cpu_model_keeps_leaf(v3, 0xa, 0) && cpu_model_keeps_leaf(v3, 0x80000021, 0),
	      "leaf choice");

	/* A host without AVX-512 cannot run x86-64-v4, and says what it lacks. */
	host.e[2].ebx &= ~0xd0030000u;
	cpu_model_missing(cpu_model_by_name("x86-64-v4"), avail, 1, lacks, sizeof(lacks));
	check("x86-64-v4 on an AVX2 host lacks exactly AVX-512",
	      !strcmp(lacks, "leaf 7.0 EBX: AVX512F AVX512DQ AVX512CD AVX512BW AVX512VL"), lacks);

	/* The check: a guest with AVX-512 on that host is refused, word and bits named. */
	{
		static struct {
			struct kvm_cpuid2 head;
			struct kvm_cpuid_entry2 e[2];
		} guest = {
		    .head.nent = 2,
		    .e = {{.function = 0, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65},
			  {.function = 7, .ebx = 0x10000 | 0x80}}};

		err[0] = '\0';
		cpu_check_features(&guest.head, avail, 1, err, sizeof(err));
		check("a guest with AVX512F is refused naming leaf 7.0 EBX AVX512F",
		      strstr(err, "leaf 7.0 EBX has 0x10000 that this host's KVM cannot provide: "
				  "AVX512F") != NULL,
		      err);
		guest.e[0].ebx = 0x756e6547;
		err[0] = '\0';
		cpu_check_identity(&guest.head, &host.head, err, sizeof(err));
		check("a guest of another vendor is refused naming both",
		      strstr(err, "vendor is 'Genu") != NULL, err);
	}
	return failures ? 1 : 0;
}
