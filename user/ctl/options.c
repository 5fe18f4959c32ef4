/* options.c: the command-line options migrate and incoming share (options.h). */
#include <stdlib.h>
#include <string.h>

#include "ctl/options.h"
#include "ctl/session.h"

void shared_opts_init(struct shared_opts *o, struct policy_limits *limits)
{
	*o = (struct shared_opts){.keypath = KVMMIG_DEFAULT_KEY, .limits = limits};
	if (limits)
		policy_default_limits(limits);
}

int shared_option(struct shared_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'k':
		o->keypath = arg;
		return 1;
	case 'i':
		o->insecure = 1;
		return 1;
	case 'P':
		return parse_progress_timeout(arg, &o->progress_ms) ? -1 : 1;
	}
	if (!o->limits)
		return 0;
	switch (c) {
	case 'd':
		o->limits->max_downtime_ns = strtoull(arg, NULL, 0) * 1000000ull;
		return 1;
	case 'r':
		o->limits->max_rounds = strtoul(arg, NULL, 0);
		return 1;
	case 'b':
		o->bandwidth = strtoull(arg, NULL, 0) * 1000000ull;
		return 1;
	case 'j':
		o->json = 1;
		return 1;
	}
	return 0;
}

int has_qemu_option(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--qemu") || !strncmp(argv[i], "--qemu=", 7))
			return 1;
	return 0;
}
