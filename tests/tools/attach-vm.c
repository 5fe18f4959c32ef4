/*
 * attach-vm.c: test helper. Creates a KVM VM with one memslot, attaches it
 * to kvmmig under a name, reports the outcome as a single line and holds
 * the registration until stdin closes (or --hold SEC runs out).
 *
 *   attach-vm NAME [--mem MiB] [--hold SEC] [--flags N] [--fd-of PATH]
 *
 * Prints "attached NAME" or "attach-vm: attach failed: <errno name>" and
 * exits 0 or 1. --fd-of attaches an open file that is not a VM (a negative
 * test): a path, or @vcpu (a vCPU fd of the VM: KVM's own anon inode, not a
 * VM's) or @eventfd (an anon inode of the core kernel); --flags sets attach
 * flags (KVMMIG_ATTACH_INCOMING is 1, KVMMIG_ATTACH_DIRTY_RING 2; unknown bits
 * must be refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/kvmmig.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *errno_name(int e)
{
	switch (e) {
	case EEXIST:
		return "EEXIST";
	case EALREADY:
		return "EALREADY";
	case EINVAL:
		return "EINVAL";
	case EBADF:
		return "EBADF";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	default:
		return strerror(e);
	}
}

int main(int argc, char **argv)
{
	struct kvmmig_attach attach = {.flags = 0};
	size_t mem_mib = 16;
	int hold = -1;
	const char *fd_of = NULL;
	int kvm, vm, dev, i;
	void *mem;

	if (argc < 2) {
		fprintf(
		    stderr,
		    "usage: attach-vm NAME [--mem MiB] [--hold SEC] [--flags N] [--fd-of PATH]\n");
		return 2;
	}
	/* Copy without truncation: the module must see over-long names whole. */
	memcpy(attach.name, argv[1], strnlen(argv[1], sizeof(attach.name)));
	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mem"))
			mem_mib = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--hold"))
			hold = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--flags"))
			attach.flags = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--fd-of"))
			fd_of = argv[i + 1];
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "attach-vm: unable to open /dev/kvm: %s\n", strerror(errno));
		return 2;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "attach-vm: KVM_CREATE_VM: %s\n", strerror(errno));
		return 2;
	}
	mem = mmap(NULL, mem_mib << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "attach-vm: mmap: %s\n", strerror(errno));
		return 2;
	}
	struct kvm_userspace_memory_region region = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = mem_mib << 20,
	    .userspace_addr = (unsigned long)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		fprintf(stderr, "attach-vm: KVM_SET_USER_MEMORY_REGION: %s\n", strerror(errno));
		return 2;
	}
	if (!fd_of)
		attach.vm_fd = vm;
	else if (!strcmp(fd_of, "@vcpu"))
		attach.vm_fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	else if (!strcmp(fd_of, "@eventfd"))
		attach.vm_fd = eventfd(0, EFD_CLOEXEC);
	else
		attach.vm_fd = open(fd_of, O_RDONLY);
	if (attach.vm_fd < 0) {
		fprintf(stderr, "attach-vm: making the --fd-of %s file: %s\n", fd_of, strerror(errno));
		return 2;
	}

	dev = open("/dev/kvmmig", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		printf("attach-vm: open /dev/kvmmig failed: %s\n", errno_name(errno));
		return 1;
	}
	if (ioctl(dev, KVMMIG_ATTACH, &attach) < 0) {
		printf("attach-vm: attach failed: %s\n", errno_name(errno));
		return 1;
	}
	printf("attached %s\n", attach.name);
	fflush(stdout);

	if (hold >= 0) {
		sleep(hold);
	} else {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		char c;

		while (poll(&p, 1, -1) > 0 && read(0, &c, 1) > 0)
			;
	}
	return 0;
}
