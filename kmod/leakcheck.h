/* SPDX-License-Identifier: GPL-2.0 */
/*
 * leakcheck.h: live-object counters. Module exit reports any object still
 * alive as "kvmmig: leak: ..." in the kernel log, which the test hosts
 * treat as a failure, so every test run is also a leak test.
 */
#ifndef KVMMIG_LEAKCHECK_H
#define KVMMIG_LEAKCHECK_H

#include <linux/atomic.h>

enum kvmmig_obj {
	KVMMIG_OBJ_VM,
	KVMMIG_OBJ_HANDLE,
	KVMMIG_OBJ_SESSION,
	KVMMIG_OBJ_WORKER,
	KVMMIG_OBJ_SOCKET,
	KVMMIG_OBJ_MM,
	KVMMIG_OBJ_SCRATCH,
	KVMMIG_OBJ_PAGE_REF,
	KVMMIG_OBJ_NR
};

extern atomic_t kvmmig_live_objs[KVMMIG_OBJ_NR];

static inline void kvmmig_leak_inc(enum kvmmig_obj obj)
{
	atomic_inc(&kvmmig_live_objs[obj]);
}

static inline void kvmmig_leak_dec(enum kvmmig_obj obj)
{
	atomic_dec(&kvmmig_live_objs[obj]);
}

static inline void kvmmig_leak_add(enum kvmmig_obj obj, int n)
{
	atomic_add(n, &kvmmig_live_objs[obj]);
}

void kvmmig_leakcheck_report(void);

#endif /* KVMMIG_LEAKCHECK_H */
