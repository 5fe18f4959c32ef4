/*
 * cancel.c: `kvmmig-ctl cancel NAME`: end NAME's migration. Authority is
 * the VM's /dev/kvmmig file, which the VMM hands over on its control
 * socket; KVMMIG_CANCEL on it aborts the VM's session, whoever drives it:
 * the migrate process sees its round fail and resumes the guest at the
 * source, as on any failure before the handoff.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/session.h"
#include "ctl/vmmclient.h"

int cancel_main(int argc, char **argv)
{
	struct vmm_conn vmm;
	int ret, vm_fd;

	if (argc != 2) {
		fprintf(stderr, "Usage: kvmmig-ctl cancel NAME\n");
		return 1;
	}
	if (vmm_connect(&vmm, argv[1]))
		return 1;
	ret = vmm_kvmmig_fd(&vmm, &vm_fd);
	if (ret) {
		fprintf(stderr,
			"kvmmig-ctl: unable to cancel the migration: the VMM of %s did not hand "
			"over its kvmmig file: %s\n",
			argv[1], vmm.error[0] ? vmm.error : strerror(-ret));
		return 1;
	}
	ret = session_cancel(vm_fd);
	close(vm_fd);
	if (ret == -ENOENT)
		fprintf(stderr, "kvmmig-ctl: unable to cancel the migration: %s has none running\n",
			argv[1]);
	else if (ret)
		fprintf(stderr, "kvmmig-ctl: unable to cancel the migration: %s\n",
			strerror(-ret));
	else
		printf("cancelled the migration of %s\n", argv[1]);
	return ret ? 1 : 0;
}
