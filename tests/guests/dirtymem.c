/* dirtymem.c: a payload guest that dirties memory at a set rate and verifies it. */
#include "dirtymem.h"
#include "lib.h"

static struct line lines[PAYLOAD_MAX_CPUS];
static volatile uint32_t cpus_done;
static volatile uint64_t total_failures;

struct run {
	struct dirtymem_status *st;
	struct line *l;
	uint64_t cpu;
	uint64_t base; /* first global page of this vCPU */
	uint64_t npages;
	uint64_t rate;
	volatile uint64_t *test;
	volatile uint32_t *table;
	int fail_lines;
};

static void begin(struct run *r)
{
	line_str(r->l, "dirtymem: cpu");
	line_u64(r->l, r->cpu);
	line_str(r->l, " ");
}

static void report_failure(struct run *r, uint64_t p, uint64_t found, uint64_t want,
			   const char *what)
{
	r->st->failures++;
	__atomic_add_fetch(&total_failures, 1, __ATOMIC_SEQ_CST);
	/* Enough to diagnose, not a flood. */
	if (r->fail_lines++ >= 8)
		return;
	begin(r);
	line_str(r->l, "verify FAIL page ");
	line_u64(r->l, p);
	line_str(r->l, " iter ");
	line_u64(r->l, r->st->iteration);
	line_str(r->l, " ");
	line_str(r->l, what);
	line_str(r->l, " found ");
	line_u64(r->l, found);
	line_str(r->l, " want ");
	line_u64(r->l, want);
	line_send(r->l);
}

static void verify(struct run *r)
{
	uint64_t k = r->st->iteration;

	for (uint64_t q = 0; q < r->npages; q++) {
		uint64_t p = r->base + q;
		volatile uint64_t *page = r->test + p * 512;
		uint64_t want = dirtymem_expected(q, k, r->rate, r->npages);

		if (r->table[p] != want)
			report_failure(r, p, r->table[p], want, "table");
		else if (page[0] != want)
			report_failure(r, p, page[0], want, "head");
		else if (page[511] != want)
			report_failure(r, p, page[511], want, "tail");
		else if (page[1] != (want ? p : 0))
			report_failure(r, p, page[1], want ? p : 0, "index");
	}
	r->st->verifies++;
}

static void write_iteration(struct run *r, uint64_t k)
{
	for (uint64_t j = 0; j < r->rate; j++) {
		uint64_t s = (k - 1) * r->rate + j;
		uint64_t p = r->base + s % r->npages;
		volatile uint64_t *page = r->test + p * 512;

		page[0] = k;
		page[1] = p;
		page[511] = k;
		r->table[p] = (uint32_t)k;
	}
	r->st->iteration = k;
}

static void report(struct run *r, const char *what)
{
	begin(r);
	if (*what) {
		line_str(r->l, what);
		line_str(r->l, " ");
	}
	line_str(r->l, "iter ");
	line_u64(r->l, r->st->iteration);
	line_str(r->l, " verifies ");
	line_u64(r->l, r->st->verifies);
	line_str(r->l, " failures ");
	line_u64(r->l, r->st->failures);
	line_send(r->l);
}

void payload_main(struct payload_boot_info *boot, uint64_t cpu);
void payload_main(struct payload_boot_info *boot, uint64_t cpu)
{
	struct run r = {.cpu = cpu, .l = &lines[cpu]};
	uint64_t ncpus = boot->ncpus, max_pages, pages, verify_every, report_ticks, delay_ticks;
	uint64_t iterations, fault_iter, tsc_per_ms, last_tsc, next_report, gap_ticks;

	if (boot->magic != PAYLOAD_BOOT_MAGIC || cpu >= PAYLOAD_MAX_CPUS)
		guest_exit(3);
	max_pages = (boot->lowmem_end - DIRTYMEM_TEST_GPA) / 4096;
	if (max_pages > DIRTYMEM_MAX_PAGES)
		max_pages = DIRTYMEM_MAX_PAGES;
	pages = cmdline_u64(boot, "pages", max_pages);
	if (pages > max_pages)
		pages = max_pages;
	r.npages = pages / ncpus;
	if (!r.npages)
		guest_exit(3);
	r.base = cpu * r.npages;
	r.rate = cmdline_u64(boot, "rate", 64);
	/* rate0=N: vCPU 0's own (a guest where one vCPU dirties slower than the others). */
	if (cpu == 0)
		r.rate = cmdline_u64(boot, "rate0", r.rate);
	if (r.rate < 1)
		r.rate = 1;
	if (r.rate > r.npages)
		r.rate = r.npages;
	verify_every = cmdline_u64(boot, "verify_every", 8);
	iterations = cmdline_u64(boot, "iterations", 0);
	/* fault_iter=N: at iteration N write above the identity map (a #PF), to test fault.c. */
	fault_iter = cmdline_u64(boot, "fault_iter", 0);
	tsc_per_ms = boot->tsc_khz ? boot->tsc_khz : 1000000; /* unknown: assume 1 GHz */
	report_ticks = cmdline_u64(boot, "report_ms", 100) * tsc_per_ms;
	delay_ticks = cmdline_u64(boot, "delay_us", 0) * tsc_per_ms / 1000;
	gap_ticks = cmdline_u64(boot, "gap_ms", 50) * tsc_per_ms;
	r.test = (volatile uint64_t *)DIRTYMEM_TEST_GPA;
	r.table = (volatile uint32_t *)DIRTYMEM_TABLE_GPA;
	r.st = (struct dirtymem_status *)DIRTYMEM_STATUS_GPA + cpu;
	r.st->magic = DIRTYMEM_STATUS_MAGIC;
	r.st->first_page = r.base;
	r.st->npages = r.npages;
	r.st->rate = r.rate;

	begin(&r);
	line_str(r.l, "start pages ");
	line_u64(r.l, r.npages);
	line_str(r.l, " first ");
	line_u64(r.l, r.base);
	line_str(r.l, " rate ");
	line_u64(r.l, r.rate);
	line_str(r.l, " verify_every ");
	line_u64(r.l, verify_every);
	line_str(r.l, " tsc_khz ");
	line_u64(r.l, boot->tsc_khz);
	line_send(r.l);

	last_tsc = rdtsc();
	next_report = last_tsc + report_ticks;
	for (;;) {
		uint64_t k = r.st->iteration + 1, now;

		if (k == fault_iter)
			*(volatile uint64_t *)(4ull << 30) = k;
		write_iteration(&r, k);
		if (verify_every && k % verify_every == 0)
			verify(&r);

		now = rdtsc();
		/* The TSC is restored with the rest after a save/restore: it never runs back. */
		if (now < last_tsc) {
			r.st->failures++;
			__atomic_add_fetch(&total_failures, 1, __ATOMIC_SEQ_CST);
			begin(&r);
			line_str(r.l, "tsc FAIL went backwards from ");
			line_hex(r.l, last_tsc);
			line_str(r.l, " to ");
			line_hex(r.l, now);
			line_send(r.l);
		}
		/* A long gap is a pause (or a stolen host CPU): worth a line, not a failure. */
		if (now - last_tsc > gap_ticks && now > last_tsc) {
			begin(&r);
			line_str(r.l, "gap_ms ");
			line_u64(r.l, (now - last_tsc) / tsc_per_ms);
			line_str(r.l, " at iter ");
			line_u64(r.l, k);
			line_send(r.l);
		}
		last_tsc = now;
		if (now >= next_report) {
			report(&r, "");
			next_report = now + report_ticks;
		}
		if (delay_ticks)
			while (rdtsc() - now < delay_ticks)
				cpu_relax();
		if (iterations && k >= iterations)
			break;
	}

	verify(&r);
	report(&r, "done");
	r.st->done = 1;
	if (__atomic_add_fetch(&cpus_done, 1, __ATOMIC_SEQ_CST) == ncpus)
		guest_exit(total_failures ? 1 : 0);
	guest_halt();
}
