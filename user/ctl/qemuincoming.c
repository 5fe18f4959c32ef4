/*
 * qemuincoming.c: `kvmmig-ctl incoming --qemu QMP_SOCKET`: the destination
 * of a QEMU guest (qemumigrate.c has the source). QEMU was started with
 * `-incoming defer` and the same RAM backend; we attach its empty VM, take
 * one source that holds the key and its second connection for QEMU's device
 * stream, let kvmmig.ko land guest RAM in QEMU's RAM file, answer the
 * verify pass, say LOADED once QEMU has loaded the device state, and `cont`
 * the guest only on the source's GO (wire.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/netio.h"
#include "ctl/options.h"
#include "ctl/peertext.h"
#include "ctl/qemuconfig.h"
#include "ctl/qemuctl.h"
#include "ctl/qmp.h"
#include "ctl/ramverify.h"
#include "ctl/secure.h"
#include "ctl/session.h"
#include "ctl/wire.h"

#define LOAD_WAIT_MS 60000
/* How long the source may take to say GO after LOADED (it answers at once). */
#define GO_WAIT_S 30

struct qincoming {
	const char *qmp_path;
	struct qmp q;
	int kvmmig_fd, lfd, sock, dev_sock;
	struct mig_session sess;
	struct ram_file rf;
};

/* The guest never ran here: the source keeps it. */
static int fail(struct qincoming *in, const char *what)
{
	char clean[1024];

	session_close(&in->sess);
	if (in->sock >= 0) {
		wire_send_text(in->sock, WIRE_ABORT, what);
		close(in->sock);
	}
	if (in->dev_sock >= 0)
		close(in->dev_sock);
	if (in->lfd >= 0)
		close(in->lfd);
	ram_file_close(&in->rf);
	if (in->kvmmig_fd >= 0)
		close(in->kvmmig_fd);
	peer_text(clean, sizeof(clean), what);
	fprintf(stderr,
		"kvmmig-ctl: incoming migration of QEMU guest %s failed: %s; the guest did not "
		"run here and stays with the source (quit this QEMU)\n",
		in->qmp_path, clean);
	qmp_close(&in->q);
	return 1;
}

/* One connection that proves the key; others are refused and dropped. */
static int accept_one(int lfd, const struct migration_key *key, int timeout_ms)
{
	char why[512];

	for (;;) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int sock;

		if (poll(&p, 1, timeout_ms) != 1)
			return -1;
		sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (sock < 0)
			continue;
		if (!secure_dest(sock, key, why, sizeof(why)))
			return sock;
		fprintf(stderr, "kvmmig-ctl: refused a connection: %s; still waiting\n", why);
		close(sock);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmmig-ctl incoming --qemu QMP_SOCKET [--listen [ADDR]:PORT]\n"
		"       [--timeout SEC] [--progress-timeout SEC] [--key FILE | --insecure]\n"
		"  QEMU started with -incoming defer and the source's RAM backend (shared file)\n");
}

/* Answers the source's verify pass (ramverify.h). */
static int answer_verify(struct qincoming *in, uint64_t *repaired)
{
	uint64_t *d = NULL, i, npages = in->rf.size / 4096;
	char *key = NULL, why[300];
	enum wire_type type;
	size_t len;
	int ret;

	if (wire_recv(in->sock, &type, &key, &len))
		return fail(in, "the connection broke off before the verify pass");
	if (type != WIRE_RAM_KEY || len != RAM_KEY_BYTES) {
		free(key);
		return fail(in, "the source sent no digest key after the page stream");
	}
	ret = ram_digests(&in->rf, (const uint8_t *)key, &d);
	free(key);
	if (ret) {
		snprintf(why, sizeof(why), "cannot read QEMU's RAM file: %s", strerror(-ret));
		return fail(in, why);
	}
	for (i = 0; i < npages; i++)
		d[i] = htole64(d[i]);
	ret = wire_send(in->sock, WIRE_RAM_DIGESTS, d, npages * 8);
	free(d);
	if (ret)
		return fail(in, "the connection broke off sending the RAM digests");
	if (ram_repair_receive(in->sock, &in->rf, repaired, why, sizeof(why)))
		return fail(in, why);
	if (wire_send(in->sock, WIRE_RAM_OK, NULL, 0))
		return fail(in, "the connection broke off after the RAM repair");
	return 0;
}

/* QEMU's device stream loaded, or the guest stays with the source. */
static int wait_loaded(struct qincoming *in)
{
	char why[1024], state[64];
	int ret = qemu_wait_status(&in->q, "completed", LOAD_WAIT_MS, state, sizeof(state));

	if (!ret)
		return 0;
	snprintf(why, sizeof(why), "QEMU did not load the device state (%s)",
		 ret == -EIO	     ? state
		 : ret == -ETIMEDOUT ? "timed out"
				     : in->q.error);
	return fail(in, why);
}

int qemu_incoming_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    SHARED_OPTIONS,
	    {"qemu", required_argument, NULL, 'Q'},
	    {"listen", required_argument, NULL, 'l'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct qincoming in = {.kvmmig_fd = -1,
			       .lfd = -1,
			       .sock = -1,
			       .dev_sock = -1,
			       .sess = {.fd = -1},
			       .rf = {.fd = -1}};
	struct shared_opts o;
	const char *listen_on = ":" KVMMIG_DEFAULT_PORT;
	struct migration_key keybuf;
	const struct migration_key *key;
	struct qemu_config cfg;
	struct round_stats st;
	unsigned long long ram_bytes = 0;
	char why[1024], state[64], *payload = NULL, accept_text[64];
	uint64_t repaired = 0;
	int c, ret, timeout_s = 0, loaded_ack;
	enum wire_type type;

	shared_opts_init(&o, NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ret = shared_option(&o, c, optarg);
		if (ret < 0)
			return 1;
		if (ret)
			continue;
		switch (c) {
		case 'Q':
			in.qmp_path = optarg;
			break;
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
	if (!in.qmp_path || argc != optind) {
		usage(stderr);
		return 1;
	}
	if (secure_key_option(o.keypath, o.insecure, &keybuf, &key))
		return 1;
	if (qmp_open(&in.q, in.qmp_path, 0) || qemu_config_check(&in.q, &cfg) < 0)
		return fail(&in, in.q.error);
	/* The RAM backend must be one x-ignore-shared skips here too. */
	for (unsigned int i = 0; i < cfg.nrefusals; i++)
		if (strstr(cfg.refusals[i], "RAM backend"))
			return fail(&in, cfg.refusals[i]);
	if (cfg.nbackends != 1)
		return fail(&in, "the guest's RAM must be in exactly one backend");
	if (qemu_run_state(&in.q, state, sizeof(state)))
		return fail(&in, in.q.error);
	if (strcmp(state, "inmigrate"))
		return fail(&in,
			    "QEMU is not waiting for a migration: start it with -incoming defer");
	if (ram_file_open(in.q.pid, cfg.ram_bytes, 1, &in.rf, why, sizeof(why)))
		return fail(&in, why);
	in.kvmmig_fd = qemu_attach(&in.q, 1, why, sizeof(why));
	if (in.kvmmig_fd < 0)
		return fail(&in, why);
	if (qemu_set_caps(&in.q, 0))
		return fail(&in, in.q.error);

	in.lfd = tcp_listen(listen_on);
	if (in.lfd < 0)
		return fail(&in, "cannot listen");
	printf("waiting for a source on %s\n", listen_on);
	fflush(stdout);
	in.sock = accept_one(in.lfd, key, timeout_s ? timeout_s * 1000 : -1);
	if (in.sock < 0)
		return fail(&in, "no source came (--timeout)");
	if (wire_recv(in.sock, &type, &payload, NULL) || type != WIRE_HELLO || !payload ||
	    sscanf(payload, "qemu 1\nram-bytes %llu", &ram_bytes) != 1) {
		free(payload);
		return fail(&in, "the source is not migrating a QEMU guest (migrate --qemu)");
	}
	loaded_ack = !!strstr(payload, "\nloaded 1\n");
	free(payload);
	if (ram_bytes != cfg.ram_bytes) {
		snprintf(why, sizeof(why),
			 "the source's guest has %llu bytes of RAM, this QEMU %llu", ram_bytes,
			 cfg.ram_bytes);
		return fail(&in, why);
	}
	snprintf(accept_text, sizeof(accept_text), "qemu 1\n%s", loaded_ack ? "loaded 1\n" : "");
	if (wire_send_text(in.sock, WIRE_ACCEPT, accept_text))
		return fail(&in, "the connection broke off at the handshake");
	in.dev_sock = accept_one(in.lfd, key, 30000);
	if (in.dev_sock < 0)
		return fail(&in, "the source opened no second connection for QEMU's device stream");
	close(in.lfd);
	in.lfd = -1;
	/* QEMU reads its device stream straight from the kernel TLS socket. */
	if (qmp_getfd(&in.q, in.dev_sock, "kvmmig-in"))
		return fail(&in, in.q.error);
	close(in.dev_sock);
	in.dev_sock = -1;
	if (qmp_execute(&in.q, "migrate-incoming", json_pack("{s:s}", "uri", "fd:kvmmig-in"), NULL))
		return fail(&in, in.q.error);

	/* A copy: session_open() closes the fd it gets, and ours is the attachment. */
	ret = session_open(&in.sess, fcntl(in.kvmmig_fd, F_DUPFD_CLOEXEC, 0), in.sock,
			   KVMMIG_SESSION_DEST | KVMMIG_SESSION_RAM_FILE, o.progress_ms);
	if (!ret)
		ret = session_receive(&in.sess, &st);
	if (ret) {
		char abort_why[KVMMIG_WIRE_MAX_REASON + 1], peer[400];

		if (ret == -ECONNABORTED &&
		    !wire_recv_stream_abort(in.sock, abort_why, sizeof(abort_why)))
			snprintf(why, sizeof(why), "the source gave up: %s",
				 peer_text(peer, sizeof(peer), abort_why));
		else
			snprintf(why, sizeof(why), "receiving guest RAM failed: %s",
				 in.sess.why[0] ? in.sess.why : strerror(-ret));
		return fail(&in, why);
	}
	session_close(&in.sess);
	printf("received %" PRIu64 " pages (%" PRIu64 " zero) in %u rounds\n", st.pages_sent,
	       st.pages_zero, st.round);
	if (answer_verify(&in, &repaired))
		return 1;
	printf("verified: %" PRIu64 " pages repaired\n", repaired);
	fflush(stdout);

	if (loaded_ack) {
		/* QEMU loads first; the source waits for our word before GO. */
		struct timeval limit = {.tv_sec = GO_WAIT_S};

		if (wait_loaded(&in))
			return 1;
		if (wire_send(in.sock, WIRE_LOADED, NULL, 0))
			return fail(&in, "the connection broke off before LOADED reached the source");
		setsockopt(in.sock, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	}
	/* A source that predates LOADED sends GO once its QEMU completed. */
	if (wire_recv(in.sock, &type, &payload, NULL) || type != WIRE_GO) {
		free(payload);
		return fail(&in, "the source did not say GO");
	}
	free(payload);
	if (!loaded_ack && wait_loaded(&in))
		return 1;
	if (qmp_execute(&in.q, "cont", NULL, NULL))
		return fail(&in, in.q.error);
	wire_send(in.sock, WIRE_RUNNING, NULL, 0);
	close(in.sock);
	close(in.kvmmig_fd);
	ram_file_close(&in.rf);
	printf("the guest runs here\n");
	qmp_close(&in.q);
	return 0;
}
