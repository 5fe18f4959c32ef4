/*
 * downtime_test.c: the downtime breakdown (user/ctl/downtime.c). The phases
 * add up to the total; what a destination reports in RESTORED and RUNNING
 * is split out of the round trip only when it is well formed and fits in
 * it (a peer's text is untrusted: it cannot inflate or invent a phase).
 */
#include <stdio.h>
#include <string.h>

#include "ctl/downtime.h"

static int failures;

static void check(const char *name, int ok)
{
	printf("%s: downtime: %s\n", ok ? "PASS" : "FAIL", name);
	failures += !ok;
}

#define MS 1000000ull

/* A trip of 10 ms that started at 100 ms, with the destination's @reply. */
static struct downtime trip(const char *reply)
{
	struct downtime d;

	downtime_start(&d, 100 * MS);
	downtime_mark_reply(&d, reply, 110 * MS);
	return d;
}

int main(void)
{
	struct downtime d;
	char buf[256];
	FILE *f;
	json_t *j;

	downtime_start(&d, 1000 * MS);
	downtime_mark(&d, DT_PAUSE, 1001 * MS);
	downtime_mark(&d, DT_FINAL_ROUND, 1013 * MS);
	downtime_mark(&d, DT_SAVE, 1016 * MS);
	downtime_mark_reply(&d, "restore_ns 9000000\nverify_ns 0\n", 1030 * MS);
	downtime_mark_reply(&d, "resume_ns 2000000\n", 1034 * MS);
	check("the phases add up to the time from the pause to RUNNING",
	      downtime_total(&d) == 34 * MS);
	check("each phase where it was spent",
	      d.ns[DT_PAUSE] == MS && d.ns[DT_FINAL_ROUND] == 12 * MS && d.ns[DT_SAVE] == 3 * MS &&
		  d.ns[DT_RESTORE] == 9 * MS && d.ns[DT_RESUME] == 2 * MS &&
		  d.ns[DT_TRANSFER] == (14 - 9 + 4 - 2) * MS);
	f = fmemopen(buf, sizeof(buf), "w");
	downtime_print(f, &d);
	fclose(f);
	check("printed in order, phases of no time left out",
	      !strcmp(buf, " (pause 1.0 ms, final round 12.0 ms, save 3.0 ms, transfer 7.0 ms, "
			   "restore 9.0 ms, resume 2.0 ms)"));
	j = downtime_json(&d);
	check("--json has every phase in ns",
	      j && json_integer_value(json_object_get(j, "restore_ns")) == (json_int_t)(9 * MS) &&
		  json_integer_value(json_object_get(j, "verify_ns")) == 0 &&
		  json_object_size(j) == DT_NPHASES);
	json_decref(j);

	d = trip(NULL);
	check("an older destination's empty reply: all of the trip is transfer",
	      d.ns[DT_TRANSFER] == 10 * MS && downtime_total(&d) == 10 * MS);
	d = trip("restore_ns 99000000\n");
	check("a reported phase longer than the trip is ignored", d.ns[DT_RESTORE] == 0 &&
								     d.ns[DT_TRANSFER] == 10 * MS);
	d = trip("restore_ns 6000000\nresume_ns 6000000\n");
	check("reports that together exceed the trip count only as far as they fit",
	      d.ns[DT_RESTORE] == 6 * MS && d.ns[DT_RESUME] == 0 && downtime_total(&d) == 10 * MS);
	d = trip("pause_ns 5000000\nsave_ns 1\ntransfer_ns 3\n");
	check("a destination cannot report the source's phases", d.ns[DT_PAUSE] == 0 &&
								     d.ns[DT_SAVE] == 0 &&
								     d.ns[DT_TRANSFER] == 10 * MS);
	d = trip("restore_ns -5\nrestore_ns 5x\nrestore_ns\nrestore_ns  7\n\nrestore_ns 18446744073709551616\n");
	check("malformed, negative, trailing junk and overflowing values are ignored",
	      d.ns[DT_RESTORE] == 0 && d.ns[DT_TRANSFER] == 10 * MS);
	d = trip("restore_ns 4000000");
	check("a last line without its newline counts", d.ns[DT_RESTORE] == 4 * MS);
	return failures ? 1 : 0;
}
