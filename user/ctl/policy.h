/*
 * policy.h: when to stop pre-copying. Pure functions of the rounds' numbers,
 * so they are unit-tested on the host (tests/unit/policy).
 */
#ifndef KVMMIG_CTL_POLICY_H
#define KVMMIG_CTL_POLICY_H

#include <stdint.h>

struct policy_limits {
	uint64_t max_downtime_ns;  /* default 300 ms, as QEMU */
	unsigned int max_rounds;   /* pre-copy rounds before giving up */
	unsigned int stall_rounds; /* rounds without progress before giving up */
};

/* What one pre-copy round did, as the tool saw it. */
struct policy_round {
	uint64_t pages_dirty; /* harvested at the round's start */
	uint64_t bytes;	      /* stream bytes it sent */
	uint64_t wall_ns;     /* the round's duration as the tool timed it */
};

struct policy_state {
	unsigned int rounds;
	uint64_t bandwidth;	       /* bytes/s, estimated */
	uint64_t dirty_rate;	       /* bytes/s the guest dirties */
	uint64_t expected_downtime_ns; /* if we stopped now */
	uint64_t best_dirty;	       /* fewest dirty pages seen after round 0 */
	unsigned int since_best;       /* rounds since best_dirty improved */
};

enum policy_decision {
	POLICY_ANOTHER_ROUND,
	POLICY_STOP_AND_COPY,
	POLICY_GIVE_UP_ROUNDS,	/* max_rounds reached */
	POLICY_GIVE_UP_STALLED, /* the guest dirties faster than the link carries */
};

void policy_default_limits(struct policy_limits *l);

/*
 * Feeds one finished round (round 0 included) and decides whether the
 * final round, with the guest paused, would fit in max_downtime_ns.
 */
enum policy_decision policy_after_round(struct policy_state *s, const struct policy_limits *l,
					const struct policy_round *r, uint64_t page_size);

const char *policy_decision_name(enum policy_decision d);

#endif /* KVMMIG_CTL_POLICY_H */
