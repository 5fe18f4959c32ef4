/* policy_test.c: the stop-and-copy policy against rounds of known numbers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctl/policy.h"

#define MIB (1024.0 * 1024.0)

static int failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("PASS: policy: %s\n", name);
	else
		printf("FAIL: policy: %s: %s\n", name, why);
	failures += !ok;
}

/* Runs rounds of @dirty pages each at @bw bytes/s until a decision other than another round. */
static enum policy_decision run(unsigned long long dirty, unsigned long long bw,
				const struct policy_limits *l, unsigned int *rounds)
{
	struct policy_state s = {0};
	enum policy_decision d;
	struct policy_round r0 = {.pages_dirty = 0, .bytes = 256ull << 20};

	r0.wall_ns = r0.bytes * 1000000000ull / bw;
	d = policy_after_round(&s, l, &r0, 4096);
	while (d == POLICY_ANOTHER_ROUND) {
		struct policy_round r = {.pages_dirty = dirty, .bytes = dirty * 4096};

		r.wall_ns = r.bytes ? r.bytes * 1000000000ull / bw : 1000000;
		d = policy_after_round(&s, l, &r, 4096);
		if (s.rounds > 1000)
			break;
	}
	*rounds = s.rounds;
	return d;
}

/*
 * A guest as the rounds see it: it dirties @rate bytes/s of distinct pages
 * while it runs (a throttle of p% leaves it (100-p)% of the time), never
 * more than its working set @ws between two harvests; round 0 sends @mem
 * bytes; the link carries @bw bytes/s.
 */
struct guest {
	double rate, ws, mem, bw;
};

struct sim {
	struct policy_state s;
	enum policy_decision d;
	unsigned int throttles[64]; /* the throttle asked after each round */
	unsigned int nthrottles;    /* how many times it changed */
	int throttle_ok;	    /* each change was 20 first, then +10, at most 99 */
};

static void simulate(const struct guest *g, const struct policy_limits *l, struct sim *m)
{
	double wall = g->mem / g->bw + 0.001; /* seconds */
	struct policy_round r = {.bytes = (uint64_t)g->mem, .wall_ns = (uint64_t)(wall * 1e9)};
	unsigned int in_force = 0, last = 0;

	memset(m, 0, sizeof(*m));
	m->throttle_ok = 1;
	m->d = policy_after_round(&m->s, l, &r, 4096);
	while (m->d == POLICY_ANOTHER_ROUND || m->d == POLICY_THROTTLE) {
		/* What the guest dirtied while the previous round ran, under its throttle. */
		double interval = wall + 0.0005;
		double dirty = g->rate * (100 - in_force) / 100.0 * interval;
		uint64_t pages = (uint64_t)((dirty < g->ws ? dirty : g->ws) / 4096);

		if (m->s.throttle_pct != last) {
			unsigned int want =
			    last ? last + POLICY_THROTTLE_STEP : POLICY_THROTTLE_FIRST;

			if (want > l->max_throttle)
				want = l->max_throttle;
			m->throttle_ok &= m->s.throttle_pct == want;
			if (m->nthrottles < 64)
				m->throttles[m->nthrottles++] = m->s.throttle_pct;
			last = m->s.throttle_pct;
		}
		in_force = m->s.throttle_pct;
		wall = pages * 4096.0 / g->bw + 0.001;
		r = (struct policy_round){.pages_dirty = pages,
					  .bytes = pages * 4096,
					  .wall_ns = (uint64_t)(wall * 1e9),
					  .interval_ns = (uint64_t)(interval * 1e9)};
		m->d = policy_after_round(&m->s, l, &r, 4096);
		if (m->s.rounds > 200)
			break;
	}
}

static int near(double got, double want, double tolerance)
{
	return fabs(got - want) <= tolerance * want;
}

/* A give-up reason must not claim a rate faster than the link when its own numbers say not. */
static int consistent(const struct policy_state *s, const char *msg)
{
	return !strstr(msg, "faster than the link") || s->dirty_rate > s->bandwidth;
}

int main(void)
{
	struct policy_limits l;
	struct policy_state s = {0};
	struct policy_round r0 = {.pages_dirty = 65536, .bytes = 256ull << 20, .wall_ns = 1000000};
	unsigned int rounds;
	enum policy_decision d;
	struct sim m;
	char msg[512], why[1024];

	policy_default_limits(&l);
	check("default max downtime is 300 ms", l.max_downtime_ns == 300000000ull, "not 300 ms");
	check("--converge auto is the default", l.converge, "off by default");

	d = policy_after_round(&s, &l, &r0, 4096);
	check("round 0 never stops (it says nothing about the dirty rate)",
	      d == POLICY_ANOTHER_ROUND, policy_decision_name(d));

	/* --converge off: today's behaviour. */
	l.converge = 0;
	/* 100 MB/s link, 1000 dirty pages (4 MB) per round: 40 ms downtime. */
	d = run(1000, 100000000ull, &l, &rounds);
	check("a quiet guest stops and copies after round 1", d == POLICY_STOP_AND_COPY && rounds == 2,
	      policy_decision_name(d));

	/* 100 MB/s link, 100000 dirty pages (400 MB) every round: 4 s downtime forever. */
	d = run(100000, 100000000ull, &l, &rounds);
	check("a guest dirtying faster than the link is given up, not looped",
	      d == POLICY_GIVE_UP_STALLED && rounds <= 1 + l.stall_rounds + 1, policy_decision_name(d));

	l.max_downtime_ns = 1000000000ull * 10;
	d = run(100000, 100000000ull, &l, &rounds);
	check("a larger --max-downtime lets the same guest through", d == POLICY_STOP_AND_COPY,
	      policy_decision_name(d));

	policy_default_limits(&l);
	l.converge = 0;
	l.max_rounds = 3;
	l.stall_rounds = 100;
	d = run(100000, 100000000ull, &l, &rounds);
	check("the round limit ends a migration that never converges",
	      d == POLICY_GIVE_UP_ROUNDS && rounds == 3, policy_decision_name(d));

	/*
	 * The dirty rate is what the guest dirtied between two harvests over
	 * the time between them, not over the time it then took to send it
	 * (that is the link's throughput): 2 MB/s through a 100 MB/s link.
	 */
	policy_default_limits(&l);
	{
		struct guest g = {.rate = 2e6, .ws = 1e12, .mem = 256 * MIB, .bw = 100e6};

		simulate(&g, &l, &m);
		snprintf(why, sizeof(why), "%s after %u rounds, dirty rate %.2f MB/s (want 2.00)",
			 policy_decision_name(m.d), m.s.rounds, m.s.dirty_rate / 1e6);
		check("the dirty rate is distinct pages per second between harvests, not the send "
		      "throughput",
		      m.d == POLICY_STOP_AND_COPY && near(m.s.dirty_rate, 2e6, 0.1) &&
			  !m.s.dirty_rate_floor,
		      why);
		check("a guest that converges by itself is never throttled", m.nthrottles == 0,
		      "throttled");
	}

	/*
	 * The guest: 190 MB/s into a 64 MiB working set, a 5.2 MB/s
	 * link. Every interval dirties the whole working set: the rate seen is
	 * a floor, and what fails the migration is that 64 MiB come back.
	 */
	policy_default_limits(&l);
	l.converge = 0;
	{
		struct guest g = {.rate = 190e6, .ws = 64 * MIB, .mem = 256 * MIB, .bw = 5.2e6};

		simulate(&g, &l, &m);
		policy_explain(&m.s, &l, m.d, msg, sizeof(msg));
		snprintf(why, sizeof(why), "%s; working set %.1f MiB floor %d: '%s'",
			 policy_decision_name(m.d), m.s.working_set / MIB, m.s.dirty_rate_floor,
			 msg);
		check("a working set rewritten faster than one round is found and given up",
		      m.d == POLICY_GIVE_UP_STALLED && near(m.s.working_set, 64 * MIB, 0.05) &&
			  m.s.dirty_rate_floor,
		      why);
		check("the give-up names the working set and its downtime, and no false rate",
		      strstr(msg, "working set of 64.0 MiB") && strstr(msg, "at least") &&
			  strstr(msg, "5.2 MB/s") && consistent(&m.s, msg),
		      why);
		check("--converge off never throttles", m.nthrottles == 0, "throttled");
	}

	/*
	 * The same when round 0 is no longer than the others (the guest's
	 * memory is its working set): the rate cannot be told from the
	 * throughput, but the working set still comes back, and is named.
	 */
	l.max_downtime_ns = 50000000ull;
	{
		struct guest g = {.rate = 50e6, .ws = 4 * MIB, .mem = 4 * MIB, .bw = 2e6};

		simulate(&g, &l, &m);
		policy_explain(&m.s, &l, m.d, msg, sizeof(msg));
		snprintf(why, sizeof(why), "%s; working set %.1f MiB: '%s'",
			 policy_decision_name(m.d), m.s.working_set / MIB, msg);
		check("a working set as large as memory is named, not a rate above the link",
		      m.d == POLICY_GIVE_UP_STALLED && strstr(msg, "working set of 4.0 MiB") &&
			  strstr(msg, "50 ms") && consistent(&m.s, msg),
		      why);
	}

	/* Faster than the link with no working set in sight: the rates are the reason. */
	policy_default_limits(&l);
	l.converge = 0;
	{
		struct guest g = {.rate = 8e6, .ws = 1e13, .mem = 64 * MIB, .bw = 5e6};

		simulate(&g, &l, &m);
		policy_explain(&m.s, &l, m.d, msg, sizeof(msg));
		snprintf(why, sizeof(why), "%s; rate %.2f MB/s: '%s'", policy_decision_name(m.d),
			 m.s.dirty_rate / 1e6, msg);
		check("a guest dirtying 8 MB/s through a 5 MB/s link is given up with both rates",
		      m.d == POLICY_GIVE_UP_STALLED && near(m.s.dirty_rate, 8e6, 0.1) &&
			  strstr(msg, "8.0 MB/s") && strstr(msg, "5.0 MB/s") &&
			  strstr(msg, "faster than the link") && consistent(&m.s, msg),
		      why);
	}

	/*
	 * A paced link (--bandwidth 1) behind a socket buffer larger than the
	 * rounds: each round is copied into the buffer in 10 ms, and the link
	 * carries 1 MB/s of it. The bandwidth is what the link carried, and
	 * stopping now would first wait for the queue.
	 */
	policy_default_limits(&l);
	{
		struct policy_state q = {0};
		struct policy_round a = {.bytes = 1500000, .wall_ns = 10000000, .queued = 1490000};
		struct policy_round b = {.pages_dirty = 256,
					 .bytes = 256 * 4096,
					 .wall_ns = 10000000,
					 .interval_ns = 11000000,
					 .queued = 1490000 + 256 * 4096 - 10000};

		policy_after_round(&q, &l, &a, 4096);
		d = policy_after_round(&q, &l, &b, 4096);
		snprintf(why, sizeof(why), "%s, bandwidth %.2f MB/s, expected downtime %.2f s",
			 policy_decision_name(d), q.bandwidth / 1e6, q.expected_downtime_ns / 1e9);
		check("a round absorbed by the socket buffer: the bandwidth is what the link "
		      "carried, the downtime counts the queue",
		      d != POLICY_STOP_AND_COPY && near(q.bandwidth, 1e6, 0.1) &&
			  near(q.expected_downtime_ns / 1e9, 3.58, 0.05),
		      why);
	}

	/* A round with nothing to send (the guest quiet) leaves the bandwidth as it was. */
	policy_default_limits(&l);
	{
		struct policy_state q = {0};
		struct policy_round a = {.bytes = 8000000, .wall_ns = 1000000000};
		struct policy_round b = {.pages_dirty = 1000,
					 .bytes = 4096000,
					 .wall_ns = 512000000,
					 .interval_ns = 1000000000};
		struct policy_round c = {.wall_ns = 300000, .interval_ns = 512000000};

		policy_after_round(&q, &l, &a, 4096);
		policy_after_round(&q, &l, &b, 4096);
		policy_after_round(&q, &l, &c, 4096);
		snprintf(why, sizeof(why), "bandwidth %.2f MB/s", q.bandwidth / 1e6);
		check("an empty round does not halve the bandwidth estimate",
		      near(q.bandwidth, 8e6, 0.02), why);
	}

	/* --converge auto: 20%, then +10% a round while the downtime does not fall. */
	policy_default_limits(&l);
	{
		struct guest g = {.rate = 190e6, .ws = 64 * MIB, .mem = 256 * MIB, .bw = 5.2e6};
		char steps[256] = "";

		simulate(&g, &l, &m);
		for (unsigned int i = 0; i < m.nthrottles; i++)
			snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%u ",
				 m.throttles[i]);
		snprintf(why, sizeof(why), "%s after %u rounds, throttles %s",
			 policy_decision_name(m.d), m.s.rounds, steps);
		check("--converge auto throttles 20, 30, ... 99 and the saturated guest converges",
		      m.d == POLICY_STOP_AND_COPY && m.throttle_ok && m.nthrottles == 9 &&
			  m.throttles[8] == 99 && m.s.rounds <= l.max_rounds,
		      why);
	}
	{
		struct guest g = {.rate = 1e9, .ws = 64 * MIB, .mem = 256 * MIB, .bw = 5.2e6};

		simulate(&g, &l, &m);
		policy_explain(&m.s, &l, m.d, msg, sizeof(msg));
		snprintf(why, sizeof(why), "%s after %u rounds at %u%%: '%s'",
			 policy_decision_name(m.d), m.s.rounds, m.s.throttle_pct, msg);
		check("a guest too fast even at 99% is given up, the message saying the throttle",
		      (m.d == POLICY_GIVE_UP_STALLED || m.d == POLICY_GIVE_UP_ROUNDS) &&
			  m.s.throttle_pct == 99 && m.throttle_ok && strstr(msg, "99%") &&
			  consistent(&m.s, msg),
		      why);
	}
	/* --max-throttle 50: the same saturated guest, throttled no further than 50%. */
	policy_default_limits(&l);
	l.max_throttle = 50;
	{
		struct guest g = {.rate = 190e6, .ws = 64 * MIB, .mem = 256 * MIB, .bw = 5.2e6};
		char steps[256] = "";

		simulate(&g, &l, &m);
		policy_explain(&m.s, &l, m.d, msg, sizeof(msg));
		for (unsigned int i = 0; i < m.nthrottles; i++)
			snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%u ",
				 m.throttles[i]);
		snprintf(why, sizeof(why), "%s after %u rounds, throttles %s: '%s'",
			 policy_decision_name(m.d), m.s.rounds, steps, msg);
		check("--max-throttle 50 stops the throttle at 50% (20 30 40 50); the guest that "
		      "needed 99% is given up, the message naming --max-throttle",
		      (m.d == POLICY_GIVE_UP_STALLED || m.d == POLICY_GIVE_UP_ROUNDS) &&
			  m.throttle_ok && m.nthrottles == 4 && m.throttles[3] == 50 &&
			  m.s.throttle_pct == 50 && strstr(msg, "50%") &&
			  strstr(msg, "--max-throttle"),
		      why);
	}
	/*
	 * Which vCPUs of a dirty-ring VM get a dirty limit. converge.sh's guest:
	 * vCPU 1 rewrites 2048 pages, vCPU 0 one page per 20 ms; a 2 MB/s link
	 * gives each vCPU 244 pages/s. With short rounds vCPU 1 reads over its
	 * share; with a 12 s round (round 0 of 24 MiB at 2 MB/s, a loaded host)
	 * its distinct pages read 170 pages/s, under it, while it still dirties
	 * most: CI then throttled the whole guest, vCPU 0 with it.
	 */
	{
		uint64_t fast[] = {50, 2400}, slow[] = {50, 170}, alike[] = {170, 170},
			 none[] = {0, 0}, three[] = {10, 300, 290};

		check("a vCPU over its share of the link is limited, alone",
		      policy_vcpus_to_limit(fast, 2, 244, 0) == 0x2, "not 0x2");
		check("none over its share: the vCPU over the guest's mean rate is limited, alone",
		      policy_vcpus_to_limit(slow, 2, 244, 0) == 0x2, "not 0x2");
		check("vCPUs that all dirty alike: none singled out (the whole guest is throttled)",
		      policy_vcpus_to_limit(alike, 2, 244, 0) == 0 &&
			  policy_vcpus_to_limit(none, 2, 244, 0) == 0,
		      "a mask");
		check("a limited vCPU stays limited when its rate falls under its share",
		      policy_vcpus_to_limit(alike, 2, 244, 0x2) == 0x2, "freed");
		check("of three, the two over the mean are limited",
		      policy_vcpus_to_limit(three, 3, 1000, 0) == 0x6, "not 0x6");
	}
	return failures ? 1 : 0;
}
