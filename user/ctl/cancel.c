/*
 * cancel.c: `kvmmig-ctl cancel NAME`: end NAME's migration. Stopping the
 * module's source session aborts the round in flight; the migrate process
 * sees it fail and resumes the guest at the source, as on any failure
 * before the handoff.
 */
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/session.h"

int cancel_main(int argc, char **argv)
{
	struct kvmmig_nl nl;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "Usage: kvmmig-ctl cancel NAME\n");
		return 1;
	}
	if (kvmmig_nl_open(&nl))
		return 1;
	ret = session_source_stop(&nl, argv[1]);
	if (ret)
		kvmmig_nl_perror(&nl, "unable to cancel the migration", ret);
	else
		printf("cancelled the migration of %s\n", argv[1]);
	kvmmig_nl_close(&nl);
	return ret ? 1 : 0;
}
