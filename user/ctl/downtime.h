/*
 * downtime.h: where a migration's downtime goes, phase by phase, from the
 * source's pause to the destination's RUNNING. The source times its own
 * phases; the destination times its restore (and its --verify digest) and
 * its resume and reports them in the payloads of RESTORED and RUNNING
 * ("restore_ns N", "verify_ns N", "resume_ns N" lines; a destination that
 * predates this sends none, and the source then counts that time as
 * transfer or handoff).
 */
#ifndef KVMMIG_CTL_DOWNTIME_H
#define KVMMIG_CTL_DOWNTIME_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

enum downtime_phase {
	DT_PAUSE,	/* the source VMM stops the vCPUs */
	DT_FINAL_ROUND, /* the last harvest and its pages, to END */
	DT_VERIFY,	/* --verify: the digests of both sides */
	DT_SAVE,	/* the source VMM saves the vCPU and device state */
	DT_TRANSFER,	/* the state on the wire, and the replies' trips */
	DT_RESTORE,	/* the destination VMM restores the state */
	DT_RESUME,	/* the destination VMM starts the vCPUs */
	DT_NPHASES,
};

struct downtime {
	uint64_t ns[DT_NPHASES];
	uint64_t mark; /* the end of the last phase counted */
};

/* Starts the clock at @now (CLOCK_MONOTONIC ns): the pause begins. */
void downtime_start(struct downtime *d, uint64_t now);

/* Counts the time from the last mark to @now as @phase; @now is the new mark. */
void downtime_mark(struct downtime *d, enum downtime_phase phase, uint64_t now);

/*
 * Splits the time since the last mark, a round trip to the destination
 * that ended at @now, into what the destination reported in @reply (the
 * payload of RESTORED or RUNNING, may be NULL: "restore_ns N",
 * "verify_ns N", "resume_ns N" lines; untrusted: only well-formed values
 * within the trip count) and DT_TRANSFER, the rest.
 */
void downtime_mark_reply(struct downtime *d, const char *reply, uint64_t now);

/* The total, the sum of the phases. */
uint64_t downtime_total(const struct downtime *d);

/* " (pause 1 ms, final round 12 ms, ...)": the phases that took any time. */
void downtime_print(FILE *f, const struct downtime *d);

/* {"pause_ns": N, ...}: every phase. */
json_t *downtime_json(const struct downtime *d);

#endif /* KVMMIG_CTL_DOWNTIME_H */
