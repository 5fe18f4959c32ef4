/*
 * qemucheck.c: `kvmmig-ctl qemu-check QMP_SOCKET`: asks a running QEMU,
 * over its QMP socket, whether kvmmig could move its guest's memory
 * (qemuconfig.h), and says what to change if not. Changes nothing in QEMU.
 */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>

#include "ctl/commands.h"
#include "ctl/jsonout.h"
#include "ctl/qemuconfig.h"
#include "ctl/qmp.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvmmig-ctl qemu-check QMP_SOCKET [--timeout MS] [--json]\n"
		   "  checks that kvmmig can move the memory of the QEMU guest behind QMP_SOCKET\n"
		   "  (QEMU started with -qmp unix:QMP_SOCKET,server=on,wait=off); run it as root\n"
		   "  on QEMU's host. Exit status 0: nothing to change; 1: refused (one line per\n"
		   "  reason, each saying what to change); 2: QEMU could not be asked.\n");
}

int qemu_check_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"timeout", required_argument, NULL, 't'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct qemu_config cfg;
	unsigned int timeout_ms = 0, i;
	struct qmp q;
	int c, json = 0, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			timeout_ms = strtoul(optarg, NULL, 0);
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	ret = qmp_open(&q, argv[optind], timeout_ms);
	if (!ret)
		ret = qemu_config_check(&q, &cfg);
	if (ret < 0) {
		if (json)
			json_line(json_pack("{s:s, s:s}", "event", "error", "reason", q.error));
		fprintf(stderr, "kvmmig-ctl: qemu-check: %s\n", q.error);
		qmp_close(&q);
		return 2;
	}
	for (i = 0; i < cfg.nrefusals; i++) {
		if (json)
			json_line(
			    json_pack("{s:s, s:s}", "event", "refused", "reason", cfg.refusals[i]));
		fprintf(stderr, "kvmmig-ctl: qemu-check: %s\n", cfg.refusals[i]);
	}
	if (json)
		json_line(json_pack(
		    "{s:s, s:b, s:i, s:i, s:i, s:I, s:I}", "event", "checked", "ok", !cfg.nrefusals,
		    "qemu_major", q.major, "qemu_minor", q.minor, "refusals", cfg.nrefusals,
		    "backends", (json_int_t)cfg.nbackends, "ram_bytes", (json_int_t)cfg.ram_bytes));
	else if (!cfg.nrefusals)
		printf(
		    "QEMU %d.%d.%d (pid %d): guest RAM %llu MiB in %u shared backend%s that "
		    "x-ignore-shared skips; KVM dirty bitmap; no postcopy, no vhost-user: kvmmig "
		    "can move its memory\n",
		    q.major, q.minor, q.micro, (int)q.pid, cfg.ram_bytes >> 20, cfg.nbackends,
		    cfg.nbackends == 1 ? "" : "s");
	qmp_close(&q);
	return cfg.nrefusals ? 1 : 0;
}
