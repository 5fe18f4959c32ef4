/*
 * resume.c: `kvmmig-ctl resume NAME`: run a paused guest again, e.g. the
 * source after a migration whose outcome was unknown, once it is certain
 * that the guest does not run at the destination.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/vmmclient.h"

int resume_main(int argc, char **argv)
{
	struct vmm_conn vmm;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "Usage: kvmmig-ctl resume NAME\n");
		return 1;
	}
	if (vmm_connect(&vmm, argv[1]))
		return 1;
	ret = vmm_simple(&vmm, "resume");
	if (ret)
		fprintf(stderr, "kvmmig-ctl: unable to resume %s: %s\n", argv[1],
			vmm.error[0] ? vmm.error : strerror(-ret));
	else
		printf("%s runs\n", argv[1]);
	vmm_close(&vmm);
	return ret ? 1 : 0;
}
