/*
 * incoming.c: `kvmmig-ctl incoming NAME [--listen [ADDR]:PORT]`: the
 * destination side. The VMM (kvmmig-vm --incoming --name NAME) has created
 * an empty VM of the guest's shape and attached it. We accept one source,
 * check its shape, let the module land the pages, restore the state, and
 * run the guest only when the source says GO. Any failure makes the
 * destination VMM exit: the guest never runs here unless the source stopped.
 */
#include <getopt.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/clock.h"
#include "ctl/commands.h"
#include "ctl/netio.h"
#include "ctl/options.h"
#include "ctl/peertext.h"
#include "ctl/secure.h"
#include "ctl/session.h"
#include "ctl/shape.h"
#include "ctl/vmmclient.h"
#include "ctl/wire.h"

static int fail(struct vmm_conn *vmm, int sock, const char *name, const char *what)
{
	if (sock >= 0) {
		wire_send_text(sock, WIRE_ABORT, what);
		close(sock);
	}
	/* The guest never ran here: the empty destination VMM goes away. */
	vmm_simple(vmm, "quit");
	fprintf(stderr,
		"kvmmig-ctl: incoming migration of %s failed: %s; the destination VMM was stopped, "
		"the guest stays with the source\n",
		name, what);
	return 1;
}

/*
 * Waits for a source that passes the secure handshake. Anyone may connect:
 * one that fails is logged and dropped, and we go on waiting (nothing was
 * written, and a stray connection must not end the destination). Returns
 * the socket, or -1 when @timeout_s (0: none) ran out.
 */
static int accept_source(int lfd, const struct migration_key *key, int timeout_s)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000;
	struct sockaddr_storage ss;
	char why[512], peer[INET6_ADDRSTRLEN + 8];

	for (;;) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int wait_ms = -1, sock;
		socklen_t sl = sizeof(ss);

		if (timeout_s) {
			uint64_t now = mono_ms();

			if (now >= deadline)
				return -1;
			wait_ms = deadline - now;
		}
		if (poll(&p, 1, wait_ms) != 1)
			return -1;
		sock = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (sock < 0)
			continue;
		if (!secure_dest(sock, key, why, sizeof(why)))
			return sock;
		if (getnameinfo((struct sockaddr *)&ss, sl, peer, sizeof(peer), NULL, 0,
				NI_NUMERICHOST))
			snprintf(peer, sizeof(peer), "?");
		fprintf(stderr, "kvmmig-ctl: refused a connection from %s: %s; still waiting\n",
			peer, why);
		close(sock);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvmmig-ctl incoming NAME [--listen [ADDR]:PORT] [--timeout SEC]\n"
		   "       [--progress-timeout SEC] [--key FILE | --insecure]\n"
		   "  listens on port " KVMMIG_DEFAULT_PORT " of every address by default;\n"
		   "  accepts only a source holding the same key (default " KVMMIG_DEFAULT_KEY
		   ", - reads it from stdin)\n"
		   "  --progress-timeout: the module ends the migration when no byte moves for SEC\n"
		   "  seconds (default %u)\n",
		   KVMMIG_PROGRESS_TIMEOUT_MS / 1000);
}

int incoming_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    SHARED_OPTIONS,
	    {"listen", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct shared_opts o;
	const char *listen_on = ":" KVMMIG_DEFAULT_PORT, *name;
	struct migration_key keybuf;
	const struct migration_key *key;
	struct vmm_conn vmm;
	struct mig_session sess = {.fd = -1};
	struct vmm_status vst;
	struct round_stats st;
	enum wire_type type;
	char *payload = NULL, why[1024], line[96], peer[400];
	size_t len;
	int c, lfd, sock, ret, timeout_s = 0, vm_fd;
	uint64_t t, restore_ns = 0, verify_ns = 0;

	if (has_qemu_option(argc, argv))
		return qemu_incoming_main(argc, argv);
	shared_opts_init(&o, NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ret = shared_option(&o, c, optarg);
		if (ret < 0)
			return 1;
		if (ret)
			continue;
		switch (c) {
		case 'l':
			listen_on = optarg;
			break;
		case 't':
			timeout_s = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 1;
	}
	name = argv[optind];
	if (secure_key_option(o.keypath, o.insecure, &keybuf, &key))
		return 1;
	/* Started over SSH, stdout may go away: a failed write must not kill us mid-handoff. */
	signal(SIGPIPE, SIG_IGN);

	if (vmm_connect(&vmm, name))
		return 1;
	ret = vmm_status(&vmm, &vst);
	if (ret || strcmp(vst.state, "incoming")) {
		fprintf(stderr,
			"kvmmig-ctl: %s is %s, not waiting for a guest: start it with kvmmig-vm "
			"--incoming --name %s\n",
			name, ret ? "unreachable" : vst.state, name);
		return 1;
	}
	if (!vst.attached)
		return fail(&vmm, -1, name,
			    "the destination VM is not attached to kvmmig (load the module before "
			    "starting the VMM)");
	lfd = tcp_listen(listen_on);
	if (lfd < 0)
		return fail(&vmm, -1, name, "cannot listen");
	/* With port 0 the kernel picked one: `migrate ssh://` reads it here. */
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char host[INET6_ADDRSTRLEN] = "", port[8] = "?";

		if (!getsockname(lfd, (struct sockaddr *)&ss, &sl))
			getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
				    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
		printf("waiting for %s on %s:%s\n", name,
		       strcmp(host, "0.0.0.0") && strcmp(host, "::") ? host : "*", port);
	}
	fflush(stdout);
	sock = accept_source(lfd, key, timeout_s);
	close(lfd);
	if (sock < 0)
		return fail(&vmm, -1, name, "no source connected and authenticated in time (--timeout)");

	if (wire_recv(sock, &type, &payload, NULL) || type != WIRE_HELLO) {
		free(payload);
		return fail(&vmm, sock, name, "the source did not start with a valid HELLO");
	}
	if (shape_check(payload, &vst, why, sizeof(why))) {
		free(payload);
		wire_send_text(sock, WIRE_REFUSE, why);
		close(sock);
		return fail(&vmm, -1, name, why);
	}
	/* Refuse a guest whose CPU this host cannot give, before any page moves. */
	{
		static char cpuid[65536];

		if (shape_cpu_text(payload, cpuid, sizeof(cpuid))) {
			free(payload);
			snprintf(why, sizeof(why), "the source describes a CPU of over %zu bytes",
				 sizeof(cpuid));
			wire_send_text(sock, WIRE_REFUSE, why);
			close(sock);
			return fail(&vmm, -1, name, why);
		}
		snprintf(line, sizeof(line), "check-cpuid %zu", strlen(cpuid));
		ret = vmm_request(&vmm, line, cpuid, strlen(cpuid), NULL, NULL);
		if (ret) {
			snprintf(why, sizeof(why), "this host cannot give the guest its CPU: %s",
				 vmm.error[0] ? vmm.error : strerror(-ret));
			free(payload);
			wire_send_text(sock, WIRE_REFUSE, why);
			close(sock);
			return fail(&vmm, -1, name, why);
		}
	}
	free(payload);
	/*
	 * ACCEPT says the newest state blob version this VMM reads: a newer
	 * source writes that version for it (a source tool that predates this
	 * ignores the payload, and its VMM writes version 1, which every VMM reads).
	 * Likewise the newest memory digest it computes (--verify).
	 */
	snprintf(line, sizeof(line), "state-version %u\ndigest-version %u\n", vst.state_version,
		 vst.digest_version);
	if (wire_send_text(sock, WIRE_ACCEPT, line))
		return fail(&vmm, sock, name, "the connection broke off during the handshake");

	/* The VMM's /dev/kvmmig file is the authority: the session is opened on it. */
	ret = vmm_kvmmig_fd(&vmm, &vm_fd);
	if (ret) {
		snprintf(why, sizeof(why),
			 "receiving guest memory failed: the VMM did not hand over its kvmmig "
			 "file (%s)",
			 vmm.error[0] ? vmm.error : strerror(-ret));
		return fail(&vmm, sock, name, why);
	}
	ret = session_open(&sess, vm_fd, sock, KVMMIG_SESSION_DEST, o.progress_ms);
	if (!ret)
		ret = session_receive(&sess, &st);
	if (ret == -ECONNABORTED) {
		char reason[KVMMIG_WIRE_MAX_REASON + 1];

		/* The module stopped right after ABORT's header: its text is ours to read. */
		if (wire_recv_stream_abort(sock, reason, sizeof(reason)))
			snprintf(reason, sizeof(reason), "no reason given");
		session_close(&sess);
		snprintf(why, sizeof(why), "the source gave up before sending any memory: %s",
			 peer_text(peer, sizeof(peer), reason));
		close(sock); /* the source is gone: nothing to tell it */
		return fail(&vmm, -1, name, why);
	}
	if (ret) {
		snprintf(why, sizeof(why), "receiving guest memory failed: %s",
			 sess.why[0] ? sess.why : strerror(-ret));
		session_close(&sess);
		return fail(&vmm, sock, name, why);
	}
	session_close(&sess);
	printf("received %" PRIu64 " pages (%" PRIu64 " zero), %.1f MB\n", st.pages_sent,
	       st.pages_zero, st.bytes / 1e6);

	if (wire_recv(sock, &type, &payload, &len) == 0 && type == WIRE_DIGEST) {
		/* "2 HEX" for a version-2 digest (offered in our ACCEPT), "HEX" for version 1. */
		int v2 = !strncmp(payload, "2 ", 2);
		const char *theirs = payload + (v2 ? 2 : 0);
		char *ours = NULL;

		/* --verify: our copy must equal the source's at its pause. */
		t = mono_ns();
		ret = vmm_request(&vmm, v2 ? "digest 2" : "digest", NULL, 0, &ours, NULL);
		verify_ns = mono_ns() - t;
		if (ret || strcmp(ours, theirs)) {
			snprintf(why, sizeof(why),
				 ret ? "--verify: the VMM could not digest guest memory"
				     : "--verify: guest memory differs after the transfer (source "
				       "%.16s, destination %.16s)",
				 peer_text(peer, sizeof(peer), theirs), ours ? ours : "");
			free(ours);
			free(payload);
			return fail(&vmm, sock, name, why);
		}
		printf("memory verified: digest %s matches the source's\n", ours);
		free(ours);
		free(payload);
		payload = NULL;
		if (wire_recv(sock, &type, &payload, &len))
			type = 0;
	} else if (payload == NULL) {
		type = 0;
	}
	if (type != WIRE_STATE) {
		snprintf(why, sizeof(why), "no guest state from the source: %s",
			 payload && type == WIRE_ABORT ? peer_text(peer, sizeof(peer), payload)
						       : "connection lost");
		free(payload);
		return fail(&vmm, sock, name, why);
	}
	snprintf(line, sizeof(line), "restore-state %zu", len);
	t = mono_ns();
	ret = vmm_request(&vmm, line, payload, len, NULL, NULL);
	restore_ns = mono_ns() - t;
	free(payload);
	if (ret) {
		snprintf(why, sizeof(why), "the VMM rejected the guest state: %s",
			 vmm.error[0] ? vmm.error : strerror(-ret));
		return fail(&vmm, sock, name, why);
	}
	/* Where the downtime went on this side, for the source's summary (downtime.h). */
	snprintf(line, sizeof(line), "restore_ns %" PRIu64 "\nverify_ns %" PRIu64 "\n", restore_ns,
		 verify_ns);
	if (wire_send_text(sock, WIRE_RESTORED, line) || wire_recv(sock, &type, &payload, NULL) ||
	    type != WIRE_GO) {
		free(payload);
		return fail(&vmm, sock, name, "the source did not give the go");
	}
	free(payload);
	t = mono_ns();
	if (vmm_simple(&vmm, "resume"))
		return fail(&vmm, sock, name, "the VMM could not resume the guest");
	snprintf(line, sizeof(line), "resume_ns %" PRIu64 "\n", mono_ns() - t);
	/* If RUNNING is lost the source stays paused and says so: never both. */
	wire_send_text(sock, WIRE_RUNNING, line);
	close(sock);
	printf("%s runs here now\n", name);
	vmm_close(&vmm);
	return 0;
}
