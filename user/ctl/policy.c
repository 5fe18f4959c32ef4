/* policy.c: bandwidth, dirty rate and expected downtime; the stop decision. */
#include "ctl/policy.h"

void policy_default_limits(struct policy_limits *l)
{
	l->max_downtime_ns = 300ull * 1000 * 1000;
	l->max_rounds = 30;
	l->stall_rounds = 5;
}

enum policy_decision policy_after_round(struct policy_state *s, const struct policy_limits *l,
					const struct policy_round *r, uint64_t page_size)
{
	uint64_t wall = r->wall_ns ? r->wall_ns : 1;
	uint64_t bw = (uint64_t)((double)r->bytes * 1e9 / wall);
	unsigned int round = s->rounds++;

	/* Smooth the bandwidth: one slow round must not dominate. */
	s->bandwidth = s->bandwidth ? (s->bandwidth + bw) / 2 : bw;
	if (!s->bandwidth)
		s->bandwidth = 1;

	/*
	 * Pages harvested at the start of a later round were dirtied while the
	 * previous one ran: that is the dirty rate. Round 0 sends everything,
	 * so it says nothing about the rate; the next round's harvest will.
	 */
	if (round == 0) {
		s->expected_downtime_ns = UINT64_MAX;
		return l->max_rounds ? POLICY_ANOTHER_ROUND : POLICY_GIVE_UP_ROUNDS;
	}
	s->dirty_rate = (uint64_t)((double)r->pages_dirty * page_size * 1e9 / wall);

	/*
	 * If we stopped now, the final round would carry about what this round
	 * harvested (what the guest dirtied in one round's time).
	 */
	s->expected_downtime_ns =
	    (uint64_t)((double)r->pages_dirty * page_size * 1e9 / s->bandwidth);
	if (s->expected_downtime_ns <= l->max_downtime_ns)
		return POLICY_STOP_AND_COPY;

	if (!s->best_dirty || r->pages_dirty < s->best_dirty - s->best_dirty / 20) {
		s->best_dirty = r->pages_dirty;
		s->since_best = 0;
	} else if (++s->since_best >= l->stall_rounds) {
		return POLICY_GIVE_UP_STALLED;
	}
	if (s->rounds >= l->max_rounds)
		return POLICY_GIVE_UP_ROUNDS;
	return POLICY_ANOTHER_ROUND;
}

const char *policy_decision_name(enum policy_decision d)
{
	switch (d) {
	case POLICY_ANOTHER_ROUND:
		return "another round";
	case POLICY_STOP_AND_COPY:
		return "stop and copy";
	case POLICY_GIVE_UP_ROUNDS:
		return "round limit reached";
	case POLICY_GIVE_UP_STALLED:
		return "not converging";
	}
	return "?";
}
