/*
 * featmsr_test.c: the feature-MSR check (user/vmm/featmsr.c, the real one)
 * against fake hosts, a fake /dev/kvm answering KVM_GET_MSR_FEATURE_INDEX_LIST
 * and KVM_GET_MSRS: a guest value the destination's KVM_SET_MSRS would
 * refuse half-way through a restore is refused before, in one line naming
 * the MSR and both values. The rules are KVM's own (6.1, 6.12, 7.x):
 * PERF_CAPABILITIES' LBR and PEBS formats are values, not bit masks
 * (vmx_set_msr()), the VMX capability MSRs follow vmx_set_vmx_msr() in
 * arch/x86/kvm/vmx/nested.c. This machine's CPUs are AMD, whose KVM has
 * neither: these rules are proven against the fake Intel hosts here only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "../fuzz/fake_kvm_msrs.h"

#include "../../user/vmm/featmsr.c"

#define PERF_CAPABILITIES 0x345
#define VMX_BASIC	  0x480
#define VMX_PINBASED	  0x481
#define VMX_MISC	  0x485
#define VMX_CR0_FIXED0	  0x486
#define VMX_CR0_FIXED1	  0x487
#define VMX_CR4_FIXED0	  0x488
#define VMX_VMCS_ENUM	  0x48a
#define VMX_TRUE_PINBASED 0x48d

/*
 * An Intel host with LBR format 3 and PEBS format 4 with baseline (the
 * PEBS fields: trap, arch regs, format, baseline), full-width writes.
 */
#define HOST_PERF_CAPS 0x64c3ull
/* VMCS revision 4, 4096-byte VMCS, write-back, INS/OUTS info, true controls. */
#define HOST_VMX_BASIC 0x00d8100000000004ull
/* Preemption timer rate 5, EFER.LMA saved, HLT/shutdown/wait-for-SIPI, 4 CR3 targets, VMWRITE any.
 */
#define HOST_VMX_MISC	       0x200401e5ull
#define PIN_PREEMPTION_TIMER   (0x40ull << 32)
#define HOST_VMX_TRUE_PINBASED (0x16ull | ((0x16ull | 0x40 | 0x80) << 32))

static const struct host_msr intel_host[] = {
    {0x10a, 0x2b},
    {PERF_CAPABILITIES, HOST_PERF_CAPS},
    {VMX_BASIC, HOST_VMX_BASIC},
    {VMX_PINBASED, HOST_VMX_TRUE_PINBASED},
    {VMX_MISC, HOST_VMX_MISC},
    {VMX_CR0_FIXED0, 0x80000021},
    {VMX_CR0_FIXED1, 0xffffffff},
    {VMX_CR4_FIXED0, 0x2000},
    {VMX_VMCS_ENUM, 0x2e},
    {VMX_TRUE_PINBASED, HOST_VMX_TRUE_PINBASED},
};

/* A 7.x Intel host whose PEBS records have timing info (PERF_CAPABILITIES bit 17). */
static const struct host_msr intel_host_timing[] = {
    {PERF_CAPABILITIES, HOST_PERF_CAPS | (1ull << 17)},
};

/* An Intel host without LBR, without PEBS (perf capabilities: full-width writes only). */
static const struct host_msr intel_host_no_lbr[] = {
    {PERF_CAPABILITIES, 0x2000},
};

/* The host's CPU for KVM's model check: family 6, model 0x9e (leaf-1 EAX 0x906ea). */
#define HOST_SIGNATURE 0x000906eau
#define OTHER_SIGNATURE 0x000806ecu /* family 6, model 0x8e */
#define CPUID_DTES64	(1u << 2)
#define CPUID_PDCM	(1u << 15)
#define CPUID_DS	(1u << 21)

struct fake_cpuid {
	struct kvm_cpuid2 head;
	struct kvm_cpuid_entry2 e[2];
};

static const struct fake_cpuid host_cpuid = {
    .head.nent = 1, .e = {{.function = 1, .eax = HOST_SIGNATURE}}};

/* The fake host's KVM_GET_SUPPORTED_CPUID (user/vmm/cpuid.c is not linked in). */
int vmm_cpuid_supported(int kvm_fd, const struct kvm_cpuid2 **out)
{
	if (kvm_fd != FAKE_KVM_FD)
		return -EBADF;
	*out = &host_cpuid.head;
	return 0;
}

/* A guest of the host's model with PDCM, DS, DTES64 and an architectural PMU v2. */
static struct fake_cpuid guest_cpuid(unsigned int signature, unsigned int ecx, unsigned int edx,
				     unsigned int pmu_version)
{
	return (struct fake_cpuid){.head.nent = 2,
				   .e = {{.function = 1, .eax = signature, .ecx = ecx, .edx = edx},
					 {.function = 0xa, .eax = 0x07300400 | pmu_version}}};
}

static struct fake_cpuid intel_guest;

static int failures;

/* Checks the guest's MSRs @guest against @host; 0 or -errno, the refusal in @err. */
static int check_guest(const struct host_msr *host, size_t host_n,
		       const struct kvm_msr_entry *guest, unsigned int guest_n, char *err,
		       size_t err_size)
{
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + guest_n * sizeof(msrs->entries[0]));
	int ret;

	msrs->nmsrs = guest_n;
	memcpy(msrs->entries, guest, guest_n * sizeof(guest[0]));
	fake_host = host;
	fake_host_n = host_n;
	err[0] = '\0';
	ret = vmm_feature_msrs_check(FAKE_KVM_FD, 0, msrs, &intel_guest.head, err, err_size);
	free(msrs);
	return ret;
}

/* @name: the guest's @index = @value on the Intel host passes. */
static void accepted(const char *name, unsigned int index, unsigned long long value)
{
	struct kvm_msr_entry e = {.index = index, .data = value};
	char err[512];
	int ret = check_guest(intel_host, sizeof(intel_host) / sizeof(intel_host[0]), &e, 1, err,
			      sizeof(err));

	if (!ret) {
		printf("PASS: %s\n", name);
		return;
	}
	printf("FAIL: %s: refused: %s\n", name, err);
	failures++;
}

/* @name: the guest's @index = @value on @host is refused, in one line containing each of @want. */
static void refused_on(const char *name, const struct host_msr *host, size_t host_n,
		       unsigned int index, unsigned long long value, const char *const *want)
{
	struct kvm_msr_entry e = {.index = index, .data = value};
	char err[512];
	int ret = check_guest(host, host_n, &e, 1, err, sizeof(err));
	const char *missing = NULL;

	for (; *want && !missing; want++)
		if (!strstr(err, *want))
			missing = *want;
	if (ret == -EINVAL && !missing && !strchr(err, '\n')) {
		printf("PASS: %s: %s\n", name, err);
		return;
	}
	printf("FAIL: %s: %s (expected a refusal with '%s')\n", name, ret ? err : "accepted",
	       missing ? missing : "one line");
	failures++;
}

#define REFUSED(name, index, value, ...)                                                           \
	refused_on(name, intel_host, sizeof(intel_host) / sizeof(intel_host[0]), index, value,     \
		   (const char *const[]){__VA_ARGS__, NULL})

static void perf_capabilities(void)
{
	accepted("PERF_CAPABILITIES as the host gives it", PERF_CAPABILITIES, HOST_PERF_CAPS);
	accepted("PERF_CAPABILITIES 0 (no LBR, no PEBS)", PERF_CAPABILITIES, 0);
	accepted("PERF_CAPABILITIES full-width writes only", PERF_CAPABILITIES, 0x2000);
	accepted("PERF_CAPABILITIES with the PEBS trap bit but PEBS format 0", PERF_CAPABILITIES,
		 0x2040);
	REFUSED("LBR format 1 on a host of LBR format 3 (a subset of its bits, yet KVM refuses it)",
		PERF_CAPABILITIES, 0x2001, "0x345", "PERF_CAPABILITIES", "LBR format 1",
		"LBR format 3");
	REFUSED("PEBS format 4 without baseline on a host with baseline", PERF_CAPABILITIES, 0x24c3,
		"PERF_CAPABILITIES", "PEBS format 4", "0x4c0", "0x44c0");
	REFUSED("PEBS format 1 on a host of PEBS format 4", PERF_CAPABILITIES, 0x2143,
		"PERF_CAPABILITIES", "PEBS format 1");
	REFUSED("PERF_CAPABILITIES with a capability the host lacks (perf metrics)",
		PERF_CAPABILITIES, HOST_PERF_CAPS | (1ull << 15), "PERF_CAPABILITIES",
		"bits 0x8000");
	refused_on("PEBS format 4 without timing info on a 7.x host with it (in KVM's PEBS fields)",
		   intel_host_timing, 1, PERF_CAPABILITIES, HOST_PERF_CAPS,
		   (const char *const[]){"PEBS format 4", "0x244c0", NULL});
	refused_on("LBR format 3 on a host without LBR", intel_host_no_lbr, 1, PERF_CAPABILITIES,
		   0x2003, (const char *const[]){"PERF_CAPABILITIES", "LBR format 3", NULL});
}

/* Where KVM reads the guest's CPUID before it takes PERF_CAPABILITIES (vmx_set_msr()). */
static void perf_capabilities_cpuid(void)
{
	const struct fake_cpuid full =
	    guest_cpuid(HOST_SIGNATURE, CPUID_PDCM | CPUID_DTES64, CPUID_DS, 2);

	intel_guest = guest_cpuid(HOST_SIGNATURE, CPUID_DTES64, CPUID_DS, 2);
	accepted("a guest without PDCM: PERF_CAPABILITIES is never seen and the restore drops it",
		 PERF_CAPABILITIES, 0x2001);
	intel_guest = guest_cpuid(HOST_SIGNATURE, CPUID_PDCM | CPUID_DTES64, CPUID_DS, 0);
	REFUSED("PERF_CAPABILITIES for a guest without a PMU (leaf 0xa version 0)",
		PERF_CAPABILITIES, 0x2000, "PERF_CAPABILITIES", "no PMU");
	accepted("PERF_CAPABILITIES 0 for a guest without a PMU", PERF_CAPABILITIES, 0);
	intel_guest = guest_cpuid(OTHER_SIGNATURE, CPUID_PDCM | CPUID_DTES64, CPUID_DS, 2);
	REFUSED("LBR for a guest of another CPU model", PERF_CAPABILITIES, 0x2003,
		"PERF_CAPABILITIES", "LBR", "CPU model (158)", "is 142");
	REFUSED("PEBS for a guest of another CPU model", PERF_CAPABILITIES, 0x64c0,
		"PERF_CAPABILITIES", "PEBS", "CPU model (158)");
	accepted("full-width writes for a guest of another CPU model", PERF_CAPABILITIES, 0x2000);
	intel_guest = guest_cpuid(HOST_SIGNATURE, CPUID_PDCM | CPUID_DTES64, 0, 2);
	REFUSED("PEBS for a guest without DS", PERF_CAPABILITIES, HOST_PERF_CAPS,
		"PERF_CAPABILITIES", "without DS");
	accepted("LBR without PEBS for a guest without DS", PERF_CAPABILITIES, 0x2003);
	intel_guest = guest_cpuid(HOST_SIGNATURE, CPUID_PDCM, CPUID_DS, 2);
	REFUSED("PEBS for a guest without DTES64", PERF_CAPABILITIES, HOST_PERF_CAPS,
		"PERF_CAPABILITIES", "without DTES64");
	intel_guest = full;
}

static void vmx_basic(void)
{
	accepted("VMX_BASIC as the host gives it", VMX_BASIC, HOST_VMX_BASIC);
	accepted("VMX_BASIC without INS/OUTS info (a subset of the features)", VMX_BASIC,
		 HOST_VMX_BASIC & ~(1ull << 54));
	accepted("VMX_BASIC with a larger VMCS", VMX_BASIC,
		 (HOST_VMX_BASIC & ~(0x1fffull << 32)) | (0x1800ull << 32));
	REFUSED("VMX_BASIC of another VMCS revision", VMX_BASIC, HOST_VMX_BASIC + 1, "0x480",
		"VMX_BASIC", "VMCS revision 5", "revision 4");
	REFUSED("VMX_BASIC with dual-monitor SMM the host lacks", VMX_BASIC,
		HOST_VMX_BASIC | (1ull << 49), "VMX_BASIC", "0x2000000000000");
	REFUSED("VMX_BASIC with a reserved bit", VMX_BASIC, HOST_VMX_BASIC | (1ull << 31),
		"VMX_BASIC", "0x80000000");
	REFUSED("VMX_BASIC with 32-bit VMX addresses (bit 48)", VMX_BASIC,
		HOST_VMX_BASIC | (1ull << 48), "VMX_BASIC", "32-bit");
	REFUSED("VMX_BASIC with a VMCS smaller than the host's", VMX_BASIC,
		(HOST_VMX_BASIC & ~(0x1fffull << 32)) | (0x800ull << 32), "VMX_BASIC",
		"VMCS of 2048 bytes", "4096");
}

static void vmx_misc(void)
{
	char err[512];
	const struct kvm_msr_entry timer_off[] = {
	    {.index = VMX_TRUE_PINBASED, .data = HOST_VMX_TRUE_PINBASED & ~PIN_PREEMPTION_TIMER},
	    {.index = VMX_MISC, .data = (HOST_VMX_MISC & ~0x1full) | 7}};
	int ret;

	accepted("VMX_MISC as the host gives it", VMX_MISC, HOST_VMX_MISC);
	accepted("VMX_MISC with fewer activity states and CR3 targets", VMX_MISC,
		 (HOST_VMX_MISC & ~(0x1c0ull | 0x1ff0000ull)) | 0x20000);
	REFUSED("VMX_MISC with a preemption timer rate the host's differs from", VMX_MISC,
		(HOST_VMX_MISC & ~0x1full) | 7, "0x485", "VMX_MISC", "preemption timer rate 7",
		"5");
	ret = check_guest(intel_host, sizeof(intel_host) / sizeof(intel_host[0]), timer_off, 2, err,
			  sizeof(err));
	printf("%s: VMX_MISC's timer rate is free when the guest's pin-based controls have no "
	       "preemption timer%s%s\n",
	       ret ? "FAIL" : "PASS", ret ? ": " : "", ret ? err : "");
	failures += !!ret;
	REFUSED("VMX_MISC with more CR3 targets than the host", VMX_MISC,
		(HOST_VMX_MISC & ~0x1ff0000ull) | 0x50000, "VMX_MISC", "5 CR3 targets", "4");
	REFUSED("VMX_MISC with a larger MSR list than the host", VMX_MISC,
		HOST_VMX_MISC | (1ull << 25), "VMX_MISC", "MSR list");
	REFUSED("VMX_MISC with RDMSR in SMM the host lacks", VMX_MISC, HOST_VMX_MISC | (1ull << 15),
		"VMX_MISC", "0x8000");
	REFUSED("VMX_MISC of another MSEG revision", VMX_MISC, HOST_VMX_MISC | (1ull << 32),
		"VMX_MISC", "MSEG revision 1", "0");
}

static void vmx_fixed_and_others(void)
{
	accepted("CR0_FIXED0 as the host gives it", VMX_CR0_FIXED0, 0x80000021);
	accepted("CR0_FIXED0 with one more must-be-1 bit", VMX_CR0_FIXED0, 0x80000031);
	REFUSED("CR0_FIXED0 without CR0.NE, which the host's VMX needs", VMX_CR0_FIXED0, 0x80000001,
		"0x486", "VMX_CR0_FIXED0", "0x20");
	REFUSED("CR4_FIXED0 without CR4.VMXE", VMX_CR4_FIXED0, 0x20, "0x488", "VMX_CR4_FIXED0",
		"0x2000");
	accepted("CR0_FIXED1 of 0 (the restore drops a zero KVM refuses)", VMX_CR0_FIXED1, 0);
	refused_on("VMX_BASIC on a host whose KVM has no nested VMX (does not list it)",
		   intel_host_no_lbr, 1, VMX_BASIC, HOST_VMX_BASIC,
		   (const char *const[]){"VMX_BASIC", "not among", NULL});
	REFUSED("CR0_FIXED1 (derived from CPUID: KVM restores no value)", VMX_CR0_FIXED1,
		0xffffffff, "0x487", "VMX_CR0_FIXED1", "derives");
	REFUSED("the non-true pin-based controls (derived from the true ones)", VMX_PINBASED,
		HOST_VMX_TRUE_PINBASED, "0x481", "VMX_PINBASED_CTLS", "derives");
	accepted("VMCS_ENUM larger than the host's (KVM takes any value)", VMX_VMCS_ENUM, 0x60);
}

int main(void)
{
	intel_guest = guest_cpuid(HOST_SIGNATURE, CPUID_PDCM | CPUID_DTES64, CPUID_DS, 2);
	perf_capabilities();
	perf_capabilities_cpuid();
	vmx_basic();
	vmx_misc();
	vmx_fixed_and_others();
	return failures ? 1 : 0;
}
