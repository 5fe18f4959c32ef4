/*
 * jsonout.h: the lines of --json output. Each event is one JSON object on
 * one line of stdout, built with jansson (json_pack) so that every string in
 * it is escaped, and printed ASCII-only: a reader parses each line alone.
 */
#ifndef KVMMIG_CTL_JSONOUT_H
#define KVMMIG_CTL_JSONOUT_H

#include <jansson.h>

/*
 * Prints @event (its reference is taken) as one line and flushes stdout.
 * @event NULL (a json_pack that failed) prints an error to stderr instead.
 * Returns 0, or -1 when nothing was printed.
 */
int json_line(json_t *event);

#endif /* KVMMIG_CTL_JSONOUT_H */
