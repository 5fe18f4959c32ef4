// SPDX-License-Identifier: GPL-2.0
/* leakcheck.c: counts live objects and reports survivors at unload. */
#include <linux/printk.h>

#include "leakcheck.h"

atomic_t kvmmig_live_objs[KVMMIG_OBJ_NR];

static const char *const obj_names[KVMMIG_OBJ_NR] = {
	[KVMMIG_OBJ_VM] = "attached VM",
	[KVMMIG_OBJ_HANDLE] = "/dev/kvmmig handle",
	[KVMMIG_OBJ_SESSION] = "migration session",
	[KVMMIG_OBJ_WORKER] = "session worker thread",
	[KVMMIG_OBJ_SOCKET] = "stream socket reference",
	[KVMMIG_OBJ_MM] = "VMM mm reference",
	[KVMMIG_OBJ_SCRATCH] = "scratch mapping in a VMM",
	[KVMMIG_OBJ_PAGE_REF] = "guest page reference",
};

void kvmmig_leakcheck_report(void)
{
	int i, n;

	for (i = 0; i < KVMMIG_OBJ_NR; i++) {
		n = atomic_read(&kvmmig_live_objs[i]);
		if (n)
			pr_err("leak: %d %s object(s) still alive at unload\n",
			       n, obj_names[i]);
	}
}
