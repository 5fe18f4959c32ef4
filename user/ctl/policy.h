/*
 * policy.h: when to stop pre-copying, and when to slow the guest. Pure
 * functions of the rounds' numbers, so they are unit-tested on the host
 * (tests/unit/policy).
 */
#ifndef KVMMIG_CTL_POLICY_H
#define KVMMIG_CTL_POLICY_H

#include <stddef.h>
#include <stdint.h>

/* The vCPU throttle of --converge auto: QEMU's auto-converge steps. */
#define POLICY_THROTTLE_FIRST 20
#define POLICY_THROTTLE_STEP  10
#define POLICY_THROTTLE_MAX   99
/* A round that carried less says nothing about the link's bandwidth. */
#define POLICY_MIN_SAMPLE_BYTES (64u << 10)

struct policy_limits {
	uint64_t max_downtime_ns;  /* default 300 ms, as QEMU */
	unsigned int max_rounds;   /* pre-copy rounds before giving up */
	unsigned int stall_rounds; /* rounds without progress before giving up */
	int converge;		   /* throttle the guest when the downtime stops falling */
	unsigned int max_throttle; /* percent, at most POLICY_THROTTLE_MAX (QEMU's max-cpu-throttle) */
};

/* What one pre-copy round did, as the tool saw it. */
struct policy_round {
	uint64_t pages_dirty; /* harvested at the round's start: dirtied since the last harvest */
	uint64_t bytes;	      /* stream bytes it sent */
	uint64_t wall_ns;     /* the round's duration as the tool timed it */
	uint64_t interval_ns; /* from the previous round's start (its harvest) to this one's */
	/*
	 * Stream bytes still in the socket's send queue at the round's end
	 * (SIOCOUTQ): handed to the socket, not yet carried by the link. A
	 * paced link (--bandwidth) with a send buffer larger than a round
	 * otherwise looks as fast as the copy into the buffer.
	 */
	uint64_t queued;
};

struct policy_state {
	unsigned int rounds;
	uint64_t bandwidth;	  /* bytes/s the link carries, estimated (smoothed) */
	uint64_t round_bandwidth; /* bytes/s it carried during the last round */
	uint64_t queued;	  /* the last round's policy_round.queued */
	/*
	 * Bytes/s of distinct pages the guest dirtied between the last two
	 * harvests. A page written twice counts once: when the guest rewrites
	 * its working set faster than one interval, this is a floor of what it
	 * writes (@dirty_rate_floor), not its write rate.
	 */
	uint64_t dirty_rate;
	int dirty_rate_floor; /* the working set filled up between harvests */
	/*
	 * Bytes that came back in each of the last two harvests (within 10%):
	 * what the final round would carry however soon it came. 0 while the
	 * dirty pages still change from round to round.
	 */
	uint64_t working_set;
	uint64_t expected_downtime_ns; /* if we stopped now: the queue, then the dirty pages */
	uint64_t best_dirty;	       /* fewest dirty pages seen after round 0 */
	unsigned int since_best;       /* rounds since best_dirty improved */
	/* The vCPU throttle (percent) to be in force from the next round on; 0 for none. */
	unsigned int throttle_pct;
	/* The previous round's numbers. */
	uint64_t last_dirty, last_interval_ns, last_wall_ns, page_size;
};

enum policy_decision {
	POLICY_ANOTHER_ROUND,
	POLICY_THROTTLE, /* another round, the guest throttled to throttle_pct */
	POLICY_STOP_AND_COPY,
	POLICY_GIVE_UP_ROUNDS,	/* max_rounds reached */
	POLICY_GIVE_UP_STALLED, /* the dirty pages stopped shrinking */
};

void policy_default_limits(struct policy_limits *l);

/*
 * Feeds one finished round (round 0 included) and decides whether the
 * final round, with the guest paused, would fit in max_downtime_ns, and
 * (l->converge) whether the guest is to be throttled harder.
 */
enum policy_decision policy_after_round(struct policy_state *s, const struct policy_limits *l,
					const struct policy_round *r, uint64_t page_size);

const char *policy_decision_name(enum policy_decision d);

/*
 * Why a migration is given up (@d one of the GIVE_UPs), in one line naming
 * the figure that makes it fail: the working set that keeps coming back,
 * or a dirty rate above the link's, or dirty pages that stopped shrinking.
 */
void policy_explain(const struct policy_state *s, const struct policy_limits *l,
		    enum policy_decision d, char *buf, size_t len);

/*
 * A dirty-ring VM: the vCPUs whose dirty rate is to be limited, as a mask,
 * from each vCPU's rate over the last interval (@pages_per_s, @n of them,
 * at most 64) and each one's share of the link (@share pages/s): those over
 * their share. Where none is, those over the guest's mean rate: a rate is
 * distinct pages between harvests, so a vCPU rewriting a working set reads
 * ever lower as rounds grow longer (a slow link, a loaded host) while it
 * still dirties the most. Where none is over the mean either (every vCPU
 * alike), 0: the whole guest is throttled. Sticky: the bits of @sticky
 * stay (a limited vCPU's rate falls; freeing it would let it climb back).
 */
uint64_t policy_vcpus_to_limit(const uint64_t *pages_per_s, unsigned int n, uint64_t share,
			       uint64_t sticky);

#endif /* KVMMIG_CTL_POLICY_H */
