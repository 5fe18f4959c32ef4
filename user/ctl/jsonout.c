/* jsonout.c: one --json event per line (see jsonout.h). */
#include <stdio.h>

#include "ctl/jsonout.h"

int json_line(json_t *event)
{
	int ret = -1;

	if (event && !json_dumpf(event, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) &&
	    putchar('\n') != EOF)
		ret = 0;
	if (!event)
		fprintf(stderr, "kvmmig-ctl: could not build a --json line (out of memory?)\n");
	json_decref(event);
	fflush(stdout);
	return ret;
}
