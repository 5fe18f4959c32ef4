/* dirtymem.h: the memory layout of the dirtymem payload guest, for it and outside checkers. */
#ifndef GUEST_DIRTYMEM_H
#define GUEST_DIRTYMEM_H

/*
 * dirtymem dirties memory at a configurable rate with the dirty-log oracle
 * of KVM selftests' dirty_log_test, and checks its own memory.
 *
 * Command line (kvmmig-vm --append), all optional, "key=number":
 *	pages=N		test pages in all (default: all RAM from 16 MiB up to
 *			the end of slot 0), split evenly between the vCPUs
 *	rate=N		pages each vCPU writes per iteration (default 64)
 *	delay_us=N	busy wait after each iteration (default 0)
 *	verify_every=N	verify this vCPU's pages every N iterations (default 8)
 *	report_ms=N	progress line every N ms of guest TSC time (default 100)
 *	iterations=N	stop after N iterations per vCPU, 0 = never (default 0)
 *	gap_ms=N	report an iteration that took longer than N ms of TSC
 *			time (a pause the guest could see; default 50)
 *
 * Layout (guest physical):
 *	DIRTYMEM_STATUS_GPA	struct dirtymem_status[ncpus], one per vCPU
 *	DIRTYMEM_TABLE_GPA	u32 table[pages]: the iteration last written
 *				into each test page (0: never)
 *	DIRTYMEM_TEST_GPA	test page p at DIRTYMEM_TEST_GPA + p * 4096
 * vCPU c owns pages [c * M, (c + 1) * M), M = pages / ncpus. In its
 * iteration k (k = 1, 2, ...) it writes R = rate pages, the "write
 * positions" s = (k-1)*R .. k*R-1, position s landing on its page s mod M.
 * Into a page it writes: u64 k at offset 0, u64 p (the global page index)
 * at offset 8, u64 k at offset 4088; then table[p] = k; then, once the
 * iteration's pages are all written, status.iteration = k.
 *
 * So after K completed iterations (status.iteration), the page at local
 * index q holds exactly: nothing (all zero) if K*R <= q, else the k of its
 * last write, k = s_last / R + 1 with s_last = q + M * ((K*R - 1 - q) / M).
 * A vCPU caught in the middle of iteration K+1 may also have some pages of
 * iteration K+1 written: a checker from outside must accept K or K+1 for
 * the positions of that iteration (dirtymem_expected() gives the K value).
 *
 * Verdicts on the debug console (port 0xe9), one line each:
 *	dirtymem: cpu<c> start pages <M> first <page> rate <R> ...
 *	dirtymem: cpu<c> iter <k> verifies <n> failures <f>	(every report_ms)
 *	dirtymem: cpu<c> verify FAIL page <p> iter <k> found <v> want <w>
 *	dirtymem: cpu<c> tsc FAIL went backwards ...
 *	dirtymem: cpu<c> gap_ms <ms> at iter <k>	(information, not a failure)
 *	dirtymem: cpu<c> done iter <k> verifies <n> failures <f>
 * With iterations=N the last vCPU done ends the VM with exit status 0 if
 * no vCPU saw a failure, else 1.
 */

#define DIRTYMEM_STATUS_GPA   0x9000ull
#define DIRTYMEM_TABLE_GPA    0x200000ull
#define DIRTYMEM_TEST_GPA     0x1000000ull
#define DIRTYMEM_MAX_PAGES    ((DIRTYMEM_TEST_GPA - DIRTYMEM_TABLE_GPA) / 4)
#define DIRTYMEM_STATUS_MAGIC 0x4d454d5954524944ull /* "DIRTYMEM" */

struct dirtymem_status {
	unsigned long long magic;
	unsigned long long iteration; /* last completed iteration */
	unsigned long long verifies;  /* completed verifications */
	unsigned long long failures;  /* pages found wrong, TSC going backwards */
	unsigned long long first_page;
	unsigned long long npages;
	unsigned long long rate;
	unsigned long long done; /* 1 once iterations=N is reached */
};

/* The iteration a page at local index @q holds after @k completed iterations (0: none). */
static inline unsigned long long dirtymem_expected(unsigned long long q, unsigned long long k,
						   unsigned long long rate,
						   unsigned long long npages)
{
	unsigned long long written = k * rate, last;

	if (written <= q)
		return 0;
	last = q + npages * ((written - 1 - q) / npages);
	return last / rate + 1;
}

#endif /* GUEST_DIRTYMEM_H */
