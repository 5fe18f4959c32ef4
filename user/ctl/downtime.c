/* downtime.c: where a migration's downtime goes, phase by phase. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/downtime.h"

static const struct {
	const char *name;     /* for people */
	const char *key;      /* --json, and the destination's report */
} phases[DT_NPHASES] = {
    [DT_PAUSE] = {"pause", "pause_ns"},
    [DT_FINAL_ROUND] = {"final round", "final_round_ns"},
    [DT_VERIFY] = {"verify", "verify_ns"},
    [DT_SAVE] = {"save", "save_ns"},
    [DT_TRANSFER] = {"transfer", "transfer_ns"},
    [DT_RESTORE] = {"restore", "restore_ns"},
    [DT_RESUME] = {"resume", "resume_ns"},
};

void downtime_start(struct downtime *d, uint64_t now)
{
	memset(d, 0, sizeof(*d));
	d->mark = now;
}

void downtime_mark(struct downtime *d, enum downtime_phase phase, uint64_t now)
{
	if (now > d->mark)
		d->ns[phase] += now - d->mark;
	d->mark = now;
}

/* The phase a destination may report (restore, verify, resume), or -1. */
static int reported_phase(const char *key, size_t len)
{
	static const enum downtime_phase theirs[] = {DT_VERIFY, DT_RESTORE, DT_RESUME};

	for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++)
		if (strlen(phases[theirs[i]].key) == len &&
		    !memcmp(phases[theirs[i]].key, key, len))
			return (int)theirs[i];
	return -1;
}

void downtime_mark_reply(struct downtime *d, const char *reply, uint64_t now)
{
	uint64_t trip = now > d->mark ? now - d->mark : 0, theirs = 0;
	const char *line = reply;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *space = strchr(line, ' ');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *num_end;
		unsigned long long v;
		int phase;

		if (space && space < line + len && space[1] >= '0' && space[1] <= '9') {
			phase = reported_phase(line, (size_t)(space - line));
			v = strtoull(space + 1, &num_end, 10);
			if (phase >= 0 && num_end == line + len && v <= trip - theirs) {
				d->ns[phase] += v;
				theirs += v;
			}
		}
		line = end ? end + 1 : NULL;
	}
	d->ns[DT_TRANSFER] += trip - theirs;
	d->mark = now > d->mark ? now : d->mark;
}

uint64_t downtime_total(const struct downtime *d)
{
	uint64_t sum = 0;

	for (int p = 0; p < DT_NPHASES; p++)
		sum += d->ns[p];
	return sum;
}

void downtime_print(FILE *f, const struct downtime *d)
{
	const char *sep = " (";

	for (int p = 0; p < DT_NPHASES; p++) {
		if (!d->ns[p])
			continue;
		fprintf(f, "%s%s %.1f ms", sep, phases[p].name, d->ns[p] / 1e6);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc(')', f);
}

json_t *downtime_json(const struct downtime *d)
{
	json_t *o = json_object();

	for (int p = 0; o && p < DT_NPHASES; p++)
		if (json_object_set_new(o, phases[p].key, json_integer((json_int_t)d->ns[p]))) {
			json_decref(o);
			return NULL;
		}
	return o;
}
