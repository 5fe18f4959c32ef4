/* policy_test.c: the stop-and-copy policy against rounds of known numbers. */
#include <stdio.h>

#include "ctl/policy.h"

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

int main(void)
{
	struct policy_limits l;
	struct policy_state s = {0};
	struct policy_round r0 = {.pages_dirty = 65536, .bytes = 256ull << 20, .wall_ns = 1000000};
	unsigned int rounds;
	enum policy_decision d;

	policy_default_limits(&l);
	check("default max downtime is 300 ms", l.max_downtime_ns == 300000000ull, "not 300 ms");

	d = policy_after_round(&s, &l, &r0, 4096);
	check("round 0 never stops (it says nothing about the dirty rate)",
	      d == POLICY_ANOTHER_ROUND, policy_decision_name(d));

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
	l.max_rounds = 3;
	l.stall_rounds = 100;
	d = run(100000, 100000000ull, &l, &rounds);
	check("the round limit ends a migration that never converges",
	      d == POLICY_GIVE_UP_ROUNDS && rounds == 3, policy_decision_name(d));
	return failures ? 1 : 0;
}
