/*
 * debug.c: `kvmmig-ctl debug ...`: low-level access to the module's data
 * path for tests and benchmarks. Not the migration tool (that is
 * `migrate`/`incoming`): no handshake, no policy.
 *
 *   debug source VM HOST:PORT   connect, SOURCE_START, then run commands
 *                               from stdin: "round [full] [final]",
 *                               "trailer TEXT" (write TEXT\n on the socket
 *                               after the stream), "stop"; one line out
 *                               per command.
 *   debug dest VM PORT          listen on PORT, accept one connection,
 *                               DEST_START + DEST_RECEIVE, print the
 *                               totals, then the line that follows END.
 *   debug monitor               print the "events" multicast group, one
 *                               line per event, until killed.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/genl.h"
#include "ctl/netio.h"
#include <netlink/genl/ctrl.h>

static int print_stats(struct nlattr **attrs, void *arg)
{
	struct nlattr *st[KVMMIG_STATS_A_MAX + 1];
	const char *prefix = arg;

	if (!attrs[KVMMIG_A_STATS] ||
	    nla_parse_nested(st, KVMMIG_STATS_A_MAX, attrs[KVMMIG_A_STATS], NULL) < 0)
		return -EPROTO;
#define U64(a) (st[a] ? nla_get_u64(st[a]) : 0)
	printf("%s round=%u dirty=%" PRIu64 " sent=%" PRIu64 " zero=%" PRIu64 " bytes=%" PRIu64
	       " harvest_ns=%" PRIu64 " send_ns=%" PRIu64 "\n",
	       prefix, st[KVMMIG_STATS_A_ROUND] ? nla_get_u32(st[KVMMIG_STATS_A_ROUND]) : 0,
	       U64(KVMMIG_STATS_A_PAGES_DIRTY), U64(KVMMIG_STATS_A_PAGES_SENT),
	       U64(KVMMIG_STATS_A_PAGES_ZERO), U64(KVMMIG_STATS_A_BYTES),
	       U64(KVMMIG_STATS_A_HARVEST_NS), U64(KVMMIG_STATS_A_SEND_NS));
#undef U64
	fflush(stdout);
	return 0;
}

static int request(struct kvmmig_nl *nl, int cmd, const char *vm, int fd, int flags,
		   const char *prefix)
{
	struct nl_msg *msg = kvmmig_nl_msg(nl, cmd, 0);

	if (!msg)
		return -ENOMEM;
	nla_put_string(msg, KVMMIG_A_VM_NAME, vm);
	if (fd >= 0)
		nla_put_u32(msg, KVMMIG_A_SOCK_FD, fd);
	if (flags >= 0)
		nla_put_u32(msg, KVMMIG_A_ROUND_FLAGS, flags);
	return kvmmig_nl_call(nl, msg, prefix ? print_stats : NULL, (void *)prefix);
}

static void print_error(const struct kvmmig_nl *nl, int err)
{
	printf("error %s: %s\n", strerror(-err), nl->error[0] ? nl->error : "-");
	fflush(stdout);
}

static int debug_source(const char *vm, const char *hostport)
{
	struct kvmmig_nl nl;
	char line[256];
	int fd, ret;

	fd = tcp_connect(hostport);
	if (fd < 0)
		return 1;
	if (kvmmig_nl_open(&nl))
		return 1;
	ret = request(&nl, KVMMIG_CMD_SOURCE_START, vm, fd, -1, NULL);
	if (ret) {
		print_error(&nl, ret);
		return 1;
	}
	printf("started\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "round", 5)) {
			int flags = 0;

			if (strstr(line, "full"))
				flags |= KVMMIG_ROUND_FULL;
			if (strstr(line, "final"))
				flags |= KVMMIG_ROUND_FINAL;
			if (strstr(line, "bogus"))
				flags |= 1 << 7;
			ret = request(&nl, KVMMIG_CMD_SOURCE_ROUND, vm, -1, flags, "round");
		} else if (!strncmp(line, "stop", 4)) {
			ret = request(&nl, KVMMIG_CMD_SOURCE_STOP, vm, -1, -1, NULL);
			if (!ret)
				printf("stopped\n");
		} else if (!strncmp(line, "trailer ", 8)) {
			size_t n = strlen(line + 8);

			ret = write(fd, line + 8, n) == (ssize_t)n ? 0 : -errno;
			if (!ret)
				printf("trailer sent\n");
		} else {
			printf("error unknown command\n");
			fflush(stdout);
			continue;
		}
		if (ret)
			print_error(&nl, ret);
		fflush(stdout);
	}
	kvmmig_nl_close(&nl);
	close(fd);
	return 0;
}

static int debug_dest(const char *vm, const char *port)
{
	char addr[16];
	struct kvmmig_nl nl;
	int lfd, fd, ret;
	char buf[256];
	ssize_t n, got = 0;

	snprintf(addr, sizeof(addr), ":%s", port);
	lfd = tcp_listen(addr);
	if (lfd < 0)
		return 1;
	printf("listening\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		fprintf(stderr, "kvmmig-ctl: accept: %m\n");
		return 1;
	}
	close(lfd);
	if (kvmmig_nl_open(&nl))
		return 1;
	ret = request(&nl, KVMMIG_CMD_DEST_START, vm, fd, -1, NULL);
	if (!ret)
		ret = request(&nl, KVMMIG_CMD_DEST_RECEIVE, vm, -1, -1, "received");
	if (ret) {
		print_error(&nl, ret);
		return 1;
	}
	/* The stream must end exactly at END: what follows is ours. */
	while (got < (ssize_t)sizeof(buf) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	printf("after END: %s%s", buf, got && buf[got - 1] == '\n' ? "" : "\n");
	kvmmig_nl_close(&nl);
	close(fd);
	return 0;
}

static int print_event(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *attrs[KVMMIG_A_MAX + 1];
	struct nlattr *vm[KVMMIG_VM_A_MAX + 1];

	(void)arg;
	if (genlmsg_parse(nlmsg_hdr(msg), 0, attrs, KVMMIG_A_MAX, NULL) < 0)
		return NL_SKIP;
	if (g->cmd == KVMMIG_CMD_ROUND_EVENT && attrs[KVMMIG_A_VM_NAME]) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "event round vm=%s",
			 nla_get_string(attrs[KVMMIG_A_VM_NAME]));
		print_stats(attrs, prefix);
	} else if (g->cmd == KVMMIG_CMD_VM_EVENT && attrs[KVMMIG_A_VM] && attrs[KVMMIG_A_EVENT] &&
		   nla_parse_nested(vm, KVMMIG_VM_A_MAX, attrs[KVMMIG_A_VM], NULL) == 0 &&
		   vm[KVMMIG_VM_A_NAME] && vm[KVMMIG_VM_A_STATE]) {
		printf("event vm vm=%s event=%u state=%u\n", nla_get_string(vm[KVMMIG_VM_A_NAME]),
		       nla_get_u32(attrs[KVMMIG_A_EVENT]), nla_get_u32(vm[KVMMIG_VM_A_STATE]));
		fflush(stdout);
	}
	return NL_OK;
}

static int debug_monitor(void)
{
	struct kvmmig_nl nl;
	int grp;

	if (kvmmig_nl_open(&nl))
		return 1;
	grp = genl_ctrl_resolve_grp(nl.sk, KVMMIG_GENL_NAME, KVMMIG_MCGRP_EVENTS);
	if (grp < 0 || nl_socket_add_membership(nl.sk, grp) < 0) {
		fprintf(stderr, "kvmmig-ctl: unable to join the events group\n");
		return 1;
	}
	nl_socket_disable_seq_check(nl.sk);
	nl_socket_modify_cb(nl.sk, NL_CB_VALID, NL_CB_CUSTOM, print_event, NULL);
	printf("monitoring\n");
	fflush(stdout);
	while (nl_recvmsgs_default(nl.sk) >= 0 || errno == EINTR || errno == ENOBUFS)
		;
	kvmmig_nl_close(&nl);
	return 1;
}

int debug_main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "monitor"))
		return debug_monitor();
	if (argc == 4 && !strcmp(argv[1], "source"))
		return debug_source(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "dest"))
		return debug_dest(argv[2], argv[3]);
	fprintf(
	    stderr,
	    "Usage: kvmmig-ctl debug source VM HOST:PORT | debug dest VM PORT | debug monitor\n");
	return 1;
}
