/* attach.c: registering a VM with kvmmig.ko through /dev/kvmmig, for the VMM's lifetime. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvmmig.h>

#include "vmm/attach.h"

#define KVMMIG_DEVICE_PATH "/dev/" KVMMIG_DEVICE_NAME

bool vmm_name_is_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= KVMMIG_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int vmm_attach(struct vmm_vm *vm)
{
	/* An empty VM waiting for a guest: only such a VM accepts a destination session. */
	struct kvmmig_attach attach = {
	    .vm_fd = vm->vm_fd,
	    .flags = (vm->state == VMM_VM_INCOMING ? KVMMIG_ATTACH_INCOMING : 0) |
		     (vm->ring_entries ? KVMMIG_ATTACH_DIRTY_RING : 0),
	};
	int fd, err;

	fd = open(KVMMIG_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT || err == -ENXIO || err == -ENODEV) {
			vmm_debug("%s not present (kvmmig.ko not loaded): running unattached",
				  KVMMIG_DEVICE_PATH);
			return 0;
		}
		vmm_log("unable to open %s: %s", KVMMIG_DEVICE_PATH, strerror(-err));
		return err;
	}
	snprintf(attach.name, sizeof(attach.name), "%s", vm->name);
	if (ioctl(fd, KVMMIG_ATTACH, &attach) < 0) {
		err = -errno;
		if (err == -EEXIST)
			vmm_log(
			    "unable to attach VM '%s' to kvmmig: the name is taken by another VM",
			    vm->name);
		else
			vmm_log("unable to attach VM '%s' to kvmmig: %s", vm->name, strerror(-err));
		close(fd);
		return err;
	}
	vm->kvmmig_fd = fd;
	vmm_debug("VM '%s' attached to kvmmig%s", vm->name,
		  attach.flags & KVMMIG_ATTACH_INCOMING ? " (incoming)" : "");
	return 0;
}

void vmm_detach(struct vmm_vm *vm)
{
	if (vm->kvmmig_fd >= 0) {
		close(vm->kvmmig_fd);
		vm->kvmmig_fd = -1;
	}
}
