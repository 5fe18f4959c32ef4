/*
 * options.h: the command-line options migrate and incoming share, with and
 * without --qemu: the key, the progress timeout, and the source's limits.
 */
#ifndef KVMMIG_CTL_OPTIONS_H
#define KVMMIG_CTL_OPTIONS_H

#include <getopt.h>
#include <stdint.h>

#include "ctl/keyfile.h"
#include "ctl/policy.h"

/* --key, --insecure, --progress-timeout: both sides. */
#define SHARED_OPTIONS                                                                             \
	{"key", required_argument, NULL, 'k'}, {"insecure", no_argument, NULL, 'i'},              \
	    {"progress-timeout", required_argument, NULL, 'P'}
/* --max-downtime, --max-rounds, --bandwidth, --json: the source. */
#define SOURCE_OPTIONS                                                                             \
	SHARED_OPTIONS, {"max-downtime", required_argument, NULL, 'd'},                            \
	    {"max-rounds", required_argument, NULL, 'r'},                                          \
	    {"bandwidth", required_argument, NULL, 'b'}, {"json", no_argument, NULL, 'j'}

struct shared_opts {
	const char *keypath;	 /* --key; KVMMIG_DEFAULT_KEY unless given */
	int insecure;		 /* --insecure */
	uint32_t progress_ms;	 /* --progress-timeout; 0: the module's default */
	struct policy_limits *limits; /* the source's --max-downtime, --max-rounds; NULL: none */
	uint64_t bandwidth;	 /* --bandwidth, bytes per second; 0: no cap */
	int json;		 /* --json */
};

/* The defaults; @limits (a source's, or NULL) gets policy_default_limits(). */
void shared_opts_init(struct shared_opts *o, struct policy_limits *limits);

/*
 * Takes getopt_long()'s @c and @arg if they are a shared option: 1 if taken,
 * 0 if not one of them, -1 if its value is wrong (said on stderr).
 */
int shared_option(struct shared_opts *o, int c, const char *arg);

/* True if @argv has --qemu (the QEMU variant of the command). */
int has_qemu_option(int argc, char **argv);

#endif
