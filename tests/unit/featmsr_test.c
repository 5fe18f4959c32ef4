/*
 * featmsr_test.c: the feature-MSR check (user/vmm/featmsr.c, the real one)
 * against fake hosts, a fake /dev/kvm answering KVM_GET_MSR_FEATURE_INDEX_LIST
 * and KVM_GET_MSRS: a guest value the destination's KVM_SET_MSRS would
 * refuse half-way through a restore is refused before, in one line naming
 * the MSR and both values. The rules are KVM's own (6.1, 6.12, 7.x):
 * PERF_CAPABILITIES' LBR and PEBS formats are values, not bit masks
 * (vmx_set_msr()). This machine's CPUs are AMD, whose KVM has no
 * PERF_CAPABILITIES: the rule is proven against the fake Intel hosts here only.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

struct host_msr {
	unsigned int index;
	unsigned long long value;
};

/* The host the fake /dev/kvm is: its feature MSRs (all listed) and values. */
static const struct host_msr *fake_host;
static size_t fake_host_n;

#define FAKE_KVM_FD 1000
static int fake_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != FAKE_KVM_FD) {
		errno = EBADF;
		return -1;
	}
	if (request == KVM_GET_MSR_FEATURE_INDEX_LIST) {
		struct kvm_msr_list *list = arg;
		unsigned int cap = list->nmsrs;

		list->nmsrs = fake_host_n;
		if (cap < fake_host_n) {
			errno = E2BIG;
			return -1;
		}
		for (size_t i = 0; i < fake_host_n; i++)
			list->indices[i] = fake_host[i].index;
		return 0;
	}
	if (request == KVM_GET_MSRS) {
		struct kvm_msrs *msrs = arg;

		for (size_t i = 0; i < fake_host_n; i++)
			if (fake_host[i].index == msrs->entries[0].index) {
				msrs->entries[0].data = fake_host[i].value;
				return 1;
			}
		return 0;
	}
	errno = ENOTTY;
	return -1;
}
#define ioctl fake_ioctl

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
	ret = vmm_feature_msrs_check(FAKE_KVM_FD, 0, msrs, err, err_size);
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

int main(void)
{
	perf_capabilities();
	return failures ? 1 : 0;
}
