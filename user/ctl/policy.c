/*
 * policy.c: bandwidth, dirty rate, working set and expected downtime; the
 * stop decision and the vCPU throttle of --converge auto.
 */
#include <stdio.h>

#include "ctl/policy.h"

void policy_default_limits(struct policy_limits *l)
{
	l->max_downtime_ns = 300ull * 1000 * 1000;
	l->max_rounds = 30;
	l->stall_rounds = 5;
	l->converge = 1;
	l->max_throttle = POLICY_THROTTLE_MAX;
}

/* @a and @b differ by at most a tenth of the larger. */
static int about_equal(uint64_t a, uint64_t b)
{
	uint64_t hi = a > b ? a : b, lo = a > b ? b : a;

	return (hi - lo) * 10 <= hi;
}

/*
 * The pages that keep coming back. Two harvests in a row of about the same
 * pages are the working set the final round would carry. If they came
 * from intervals of clearly different lengths, the count did not follow
 * the time: the guest filled its working set before each harvest, and the
 * rate seen (pages over interval) is only a floor of what it writes.
 */
static void track_working_set(struct policy_state *s, uint64_t pages, uint64_t interval_ns)
{
	uint64_t a = interval_ns, b = s->last_interval_ns;

	if (!s->last_dirty || !pages || !about_equal(pages, s->last_dirty)) {
		s->working_set = 0;
		s->dirty_rate_floor = 0;
		return;
	}
	s->working_set = pages * s->page_size;
	if (a && b && (a * 2 >= b * 3 || b * 2 >= a * 3))
		s->dirty_rate_floor = 1;
}

/* The next step of the throttle: 20%, then 10% more a round, at most @max. */
static unsigned int next_throttle(unsigned int pct, unsigned int max)
{
	pct = pct ? pct + POLICY_THROTTLE_STEP : POLICY_THROTTLE_FIRST;
	return pct > max ? max : pct;
}

enum policy_decision policy_after_round(struct policy_state *s, const struct policy_limits *l,
					const struct policy_round *r, uint64_t page_size)
{
	uint64_t wall = r->wall_ns ? r->wall_ns : 1, interval, carried, bw;
	unsigned int round = s->rounds++;
	int falling;

	/* What the link carried: what the round sent, less what still waits in the socket. */
	carried = r->bytes + s->queued > r->queued ? r->bytes + s->queued - r->queued : 0;
	bw = (uint64_t)((double)carried * 1e9 / wall);
	s->round_bandwidth = bw;
	s->queued = r->queued;
	s->page_size = page_size;
	/*
	 * Smooth the bandwidth: one slow round must not dominate. A round that
	 * carried next to nothing (no dirty page) says nothing about the link.
	 */
	if (!s->bandwidth)
		s->bandwidth = bw;
	else if (carried >= POLICY_MIN_SAMPLE_BYTES)
		s->bandwidth = (s->bandwidth + bw) / 2;
	if (!s->bandwidth)
		s->bandwidth = 1;

	/*
	 * Pages harvested at the start of a later round were dirtied since the
	 * previous round's harvest, i.e. while the previous round ran: their
	 * rate is over that interval, not over this round's own time (which
	 * is how long the link took to carry them). Round 0 sends everything,
	 * so it says nothing about the rate; the next round's harvest will.
	 */
	if (round == 0) {
		s->expected_downtime_ns = UINT64_MAX;
		s->last_wall_ns = wall;
		return l->max_rounds ? POLICY_ANOTHER_ROUND : POLICY_GIVE_UP_ROUNDS;
	}
	interval = r->interval_ns ? r->interval_ns : s->last_wall_ns;
	if (!interval)
		interval = wall;
	s->dirty_rate = (uint64_t)((double)r->pages_dirty * page_size * 1e9 / interval);
	track_working_set(s, r->pages_dirty, interval);
	s->last_dirty = r->pages_dirty;
	s->last_interval_ns = interval;
	s->last_wall_ns = wall;

	/*
	 * If we stopped now, the final round would carry about what this round
	 * harvested (what the guest dirtied in one round's time), behind what
	 * still waits in the socket.
	 */
	s->expected_downtime_ns =
	    (uint64_t)(((double)r->pages_dirty * page_size + r->queued) * 1e9 / s->bandwidth);
	if (s->expected_downtime_ns <= l->max_downtime_ns)
		return POLICY_STOP_AND_COPY;

	/* Falling: 5% fewer dirty pages (so 5% less downtime) than the best round yet. */
	falling = !s->best_dirty || r->pages_dirty < s->best_dirty - s->best_dirty / 20;
	if (falling) {
		s->best_dirty = r->pages_dirty;
		s->since_best = 0;
	} else {
		s->since_best++;
	}
	/*
	 * The downtime stopped falling: slow the guest down before giving up.
	 * Each step gets stall_rounds rounds of its own; only at the last
	 * step does a stall end the migration.
	 */
	if (l->converge && !falling && s->throttle_pct < l->max_throttle) {
		s->throttle_pct = next_throttle(s->throttle_pct, l->max_throttle);
		s->since_best = 0;
		return s->rounds >= l->max_rounds ? POLICY_GIVE_UP_ROUNDS : POLICY_THROTTLE;
	}
	if (s->since_best >= l->stall_rounds)
		return POLICY_GIVE_UP_STALLED;
	if (s->rounds >= l->max_rounds)
		return POLICY_GIVE_UP_ROUNDS;
	return POLICY_ANOTHER_ROUND;
}

const char *policy_decision_name(enum policy_decision d)
{
	switch (d) {
	case POLICY_ANOTHER_ROUND:
		return "another round";
	case POLICY_THROTTLE:
		return "throttle the guest";
	case POLICY_STOP_AND_COPY:
		return "stop and copy";
	case POLICY_GIVE_UP_ROUNDS:
		return "round limit reached";
	case POLICY_GIVE_UP_STALLED:
		return "not converging";
	}
	return "?";
}

void policy_explain(const struct policy_state *s, const struct policy_limits *l,
		    enum policy_decision d, char *buf, size_t len)
{
	double mib = 1024.0 * 1024.0, dirty = (double)s->last_dirty * s->page_size;
	double secs = s->expected_downtime_ns == UINT64_MAX ? 0 : s->expected_downtime_ns / 1e9;
	unsigned long long limit_ms = l->max_downtime_ns / 1000000;
	const char *advice = !l->converge ? "raise --max-downtime or the link's bandwidth, lower the "
					    "guest's load, or let --converge auto throttle it"
			     : l->max_throttle < POLICY_THROTTLE_MAX
				 ? "raise --max-downtime, --max-throttle or the link's bandwidth, "
				   "or lower the guest's load"
				 : "raise --max-downtime or the link's bandwidth, or lower "
				   "the guest's load";
	char rounds[64] = "", throttle[80] = "";

	if (d == POLICY_GIVE_UP_ROUNDS)
		snprintf(rounds, sizeof(rounds), "no convergence after %u rounds: ", s->rounds);
	if (s->throttle_pct)
		snprintf(throttle, sizeof(throttle), ", its vCPUs throttled to %u%%",
			 s->throttle_pct);
	if (s->working_set) {
		/* What fails it is the working set: no rate is faster than the link here. */
		snprintf(
		    buf, len,
		    "%sthe guest's working set of %.1f MiB comes back between every two "
		    "harvests (it dirtied %s%.1f MB/s of distinct pages%s): sending it with the "
		    "guest paused takes %.1f s at the link's %.1f MB/s, more than the %llu ms "
		    "allowed; %s",
		    rounds, s->working_set / mib, s->dirty_rate_floor ? "at least " : "",
		    s->dirty_rate / 1e6, throttle, secs, s->bandwidth / 1e6, limit_ms, advice);
	} else if (s->dirty_rate > s->bandwidth) {
		snprintf(
		    buf, len,
		    "%sthe guest dirties %.1f MB/s of distinct pages%s, faster than the link "
		    "carries them (%.1f MB/s): its dirty pages do not shrink (%.1f MiB, %.1f s "
		    "to send with the guest paused, more than the %llu ms allowed); %s",
		    rounds, s->dirty_rate / 1e6, throttle, s->bandwidth / 1e6, dirty / mib, secs,
		    limit_ms, advice);
	} else {
		snprintf(buf, len,
			 "%sthe guest's dirty pages stopped shrinking at %.1f MiB (it dirties %.1f "
			 "MB/s of distinct pages%s, the link carries %.1f MB/s): sending them with "
			 "the guest paused takes %.1f s, more than the %llu ms allowed; %s",
			 rounds, dirty / mib, s->dirty_rate / 1e6, throttle, s->bandwidth / 1e6,
			 secs, limit_ms, advice);
	}
}

uint64_t policy_vcpus_to_limit(const uint64_t *pages_per_s, unsigned int n, uint64_t share,
			       uint64_t sticky)
{
	uint64_t over_share = 0, over_mean = 0, total = 0;
	unsigned int i;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		total += pages_per_s[i];
		if (pages_per_s[i] > share)
			over_share |= 1ull << i;
	}
	if (over_share || !n)
		return sticky | over_share;
	for (i = 0; i < n; i++)
		if (pages_per_s[i] * n > total)
			over_mean |= 1ull << i;
	return sticky | over_mean;
}
