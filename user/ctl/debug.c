/*
 * debug.c: `kvmmig-ctl debug ...`: low-level access to the module's data
 * path for tests and benchmarks. Not the migration tool (that is
 * `migrate`/`incoming`): no handshake, no policy. The sessions are opened,
 * as migrate's, on the VM's /dev/kvmmig file, which its VMM hands over on
 * its control socket ("kvmmig-fd").
 *
 *   debug source VM HOST:PORT [--progress-timeout SEC]
 *                               connect, open a source session ("started"
 *                               once its setup succeeded), then run
 *                               commands from stdin: "round [full]
 *                               [final]", "trailer TEXT" (write TEXT\n on
 *                               the socket after the stream), "stop"
 *                               (close the session fd); one line out per
 *                               command.
 *   debug dest VM PORT [--progress-timeout SEC]
 *                               listen on PORT, accept one connection,
 *                               open a destination session and RECEIVE,
 *                               print the totals, then the line that
 *                               follows END.
 *   debug monitor               print the "events" multicast group, one
 *                               line per event, until killed.
 *
 * A refusal prints "error <strerror>: <the module's reason>", the reason
 * "-" when the ioctl itself refused the request (it carries no text).
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/genl.h"
#include "ctl/netio.h"
#include "ctl/session.h"
#include "ctl/vmmclient.h"
#include <netlink/genl/ctrl.h>

static void print_round_stats(const char *prefix, const struct round_stats *st)
{
	printf("%s round=%u dirty=%" PRIu64 " sent=%" PRIu64 " zero=%" PRIu64 " bytes=%" PRIu64
	       " harvest_ns=%" PRIu64 " send_ns=%" PRIu64 "\n",
	       prefix, st->round, st->pages_dirty, st->pages_sent, st->pages_zero, st->bytes,
	       st->harvest_ns, st->send_ns);
	fflush(stdout);
}

static int print_stats(struct nlattr **attrs, const char *prefix)
{
	struct nlattr *a[KVMMIG_STATS_A_MAX + 1];
	struct round_stats st;

	if (!attrs[KVMMIG_A_STATS] ||
	    nla_parse_nested(a, KVMMIG_STATS_A_MAX, attrs[KVMMIG_A_STATS], NULL) < 0)
		return -EPROTO;
#define U64(x) (a[x] ? nla_get_u64(a[x]) : 0)
	st.round = a[KVMMIG_STATS_A_ROUND] ? nla_get_u32(a[KVMMIG_STATS_A_ROUND]) : 0;
	st.pages_dirty = U64(KVMMIG_STATS_A_PAGES_DIRTY);
	st.pages_sent = U64(KVMMIG_STATS_A_PAGES_SENT);
	st.pages_zero = U64(KVMMIG_STATS_A_PAGES_ZERO);
	st.bytes = U64(KVMMIG_STATS_A_BYTES);
	st.harvest_ns = U64(KVMMIG_STATS_A_HARVEST_NS);
	st.send_ns = U64(KVMMIG_STATS_A_SEND_NS);
#undef U64
	print_round_stats(prefix, &st);
	return 0;
}

static void print_error(const char *why, int err)
{
	printf("error %s: %s\n", strerror(-err), why && why[0] ? why : "-");
	fflush(stdout);
}

/* Opens a session of @flags on @vm's /dev/kvmmig file, which its VMM hands over. */
static int open_session(struct mig_session *s, const char *vm, int sock, uint32_t flags,
			uint32_t progress_ms)
{
	struct vmm_conn vmm;
	int ret, vm_fd;

	s->fd = -1;
	if (vmm_connect(&vmm, vm))
		return -ENOENT;
	ret = vmm_kvmmig_fd(&vmm, &vm_fd);
	if (ret) {
		char why[sizeof(vmm.error) + 64];

		snprintf(why, sizeof(why), "the VMM did not hand over its kvmmig file (%s)",
			 vmm.error[0] ? vmm.error : strerror(-ret));
		print_error(why, ret);
		return ret;
	}
	ret = session_open(s, vm_fd, sock, flags, progress_ms);
	if (ret) {
		print_error(s->why, ret);
		session_close(s);
	}
	return ret;
}

static int debug_source(const char *vm, const char *hostport, uint32_t progress_ms)
{
	struct mig_session s;
	struct round_stats st;
	char line[256];
	int fd, ret;

	fd = tcp_connect(hostport);
	if (fd < 0)
		return 1;
	if (open_session(&s, vm, fd, KVMMIG_SESSION_SOURCE, progress_ms))
		return 1;
	printf("started\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "round", 5)) {
			uint32_t flags = 0;

			if (strstr(line, "full"))
				flags |= KVMMIG_ROUND_FULL;
			if (strstr(line, "final"))
				flags |= KVMMIG_ROUND_FINAL;
			if (strstr(line, "bogus"))
				flags |= 1 << 7;
			ret = session_round(&s, flags, &st);
			if (!ret)
				print_round_stats("round", &st);
		} else if (!strncmp(line, "stop", 4)) {
			ret = s.fd >= 0 ? 0 : -EBADF;
			s.why[0] = '\0';
			session_close(&s);
			if (!ret)
				printf("stopped\n");
		} else if (!strncmp(line, "trailer ", 8)) {
			size_t n = strlen(line + 8);

			s.why[0] = '\0';
			ret = write(fd, line + 8, n) == (ssize_t)n ? 0 : -errno;
			if (!ret)
				printf("trailer sent\n");
		} else {
			printf("error unknown command\n");
			fflush(stdout);
			continue;
		}
		if (ret)
			print_error(s.why, ret);
		fflush(stdout);
	}
	session_close(&s);
	close(fd);
	return 0;
}

static int debug_dest(const char *vm, const char *port, uint32_t progress_ms)
{
	char addr[16];
	struct mig_session s;
	struct round_stats st;
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
	if (open_session(&s, vm, fd, KVMMIG_SESSION_DEST, progress_ms))
		return 1;
	ret = session_receive(&s, &st);
	if (ret) {
		print_error(s.why, ret);
		return 1;
	}
	session_close(&s);
	print_round_stats("received", &st);
	/*
	 * The stream must end exactly at END: what follows is ours. The peer
	 * writes it when its test gets there: a debug test host under load
	 * took more than 5 s, so wait a minute (a consumed trailer never comes).
	 */
	while (got < (ssize_t)sizeof(buf) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, 60000) <= 0)
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
	/* Events come when they come: no answer limit here. */
	setsockopt(nl_socket_get_fd(nl.sk), SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0},
		   sizeof(struct timeval));
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
	uint32_t progress_ms = 0;

	if (argc == 2 && !strcmp(argv[1], "monitor"))
		return debug_monitor();
	if (argc == 6 && !strcmp(argv[4], "--progress-timeout")) {
		if (parse_progress_timeout(argv[5], &progress_ms))
			return 1;
		argc = 4;
	}
	if (argc == 4 && !strcmp(argv[1], "source"))
		return debug_source(argv[2], argv[3], progress_ms);
	if (argc == 4 && !strcmp(argv[1], "dest"))
		return debug_dest(argv[2], argv[3], progress_ms);
	fprintf(stderr,
		"Usage: kvmmig-ctl debug source VM HOST:PORT [--progress-timeout SEC]\n"
		"       kvmmig-ctl debug dest VM PORT [--progress-timeout SEC]\n"
		"       kvmmig-ctl debug monitor\n");
	return 1;
}
