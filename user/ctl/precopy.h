/*
 * precopy.h: what `migrate` and `migrate --qemu` share once the module's
 * source session runs: a pre-copy round (the module harvests and sends,
 * the link carries it, the policy decides) and the final round with the
 * guest stopped. What a caller prints and does with a decision (throttle,
 * give up) stays its own; and the connection to the destination both open.
 */
#ifndef KVMMIG_CTL_PRECOPY_H
#define KVMMIG_CTL_PRECOPY_H

#include <stddef.h>
#include <stdint.h>

#include "ctl/keyfile.h"
#include "ctl/policy.h"
#include "ctl/session.h"

struct vmm_conn;

#define PRECOPY_MAX_VCPUS 64

struct precopy {
	struct mig_session *sess; /* the module's source session */
	/* A dirty-ring VM's VMM, which reaps its rings before each round; NULL: the bitmap. */
	struct vmm_conn *ring_vmm;
	uint64_t ring_pages; /* pages the last reap reported */
	uint64_t ring_reap_ns; /* how long it took (asking the VMM included) */
	/* Per vCPU: pages its ring held since the reap before the last (its dirty rate). */
	unsigned int ring_vcpus;
	uint64_t ring_vcpu_total[PRECOPY_MAX_VCPUS];
	uint64_t ring_vcpu_pages[PRECOPY_MAX_VCPUS];
	int sock;		  /* its connection (the send queue the link drains) */
	uint32_t progress_ms;	  /* 0: the module's default */
	uint64_t page_size;
	const struct policy_limits *limits;
	struct policy_state ps;
	uint64_t bytes;	     /* stream bytes sent so far */
	uint64_t round_ns;   /* when the last round started (its harvest) */
	uint64_t between_ns; /* from the round before it to the last one's start */
};

/*
 * One pre-copy round (round 0 sends all of memory): 0 with the policy's
 * decision in *@d and the round's figures in @st and @r, or -1 with a
 * one-line reason in @why.
 */
int precopy_round(struct precopy *p, struct round_stats *st, struct policy_round *r,
		  enum policy_decision *d, char *why, size_t len);

/*
 * The final round, the guest stopped: the module sends END only if
 * nothing was written since its harvest (EAGAIN: a write reported late),
 * so up to three tries catch up. A dirty-ring VM's rings are reaped once
 * more after it: a page found there was written after END. 0, or -1 with
 * @why.
 */
int precopy_final_round(struct precopy *p, struct round_stats *st, char *why, size_t len);

/*
 * A connection to the destination @dest ("HOST[:PORT]"), paced to
 * @bandwidth bytes/s (0: unpaced; TCP's own pacing, so it holds for the
 * module's zero-copy sends too), authenticated and under kernel TLS with
 * @key (NULL: --insecure). The socket, or -1 with @why.
 */
int dial_destination(const char *dest, uint64_t bandwidth, const struct migration_key *key,
		     char *why, size_t len);

#endif /* KVMMIG_CTL_PRECOPY_H */
