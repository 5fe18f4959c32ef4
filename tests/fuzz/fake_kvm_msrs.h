/*
 * fake_kvm_msrs.h: a fake /dev/kvm (FAKE_KVM_FD) that answers the two
 * feature-MSR ioctls of user/vmm/featmsr.c from a table the test sets
 * (fake_host, fake_host_n): every MSR of it listed, each with its value.
 * Any other descriptor is a bad one. Include it before the code under
 * test: it redefines ioctl. For tests/fuzz/state_fake.h and
 * tests/unit/featmsr_test.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
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
