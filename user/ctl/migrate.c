/*
 * migrate.c: `kvmmig-ctl migrate NAME HOST[:PORT]`: the source side of a
 * live migration. Pre-copy rounds until the policy says the final round fits
 * the downtime limit, then pause, final pages, state, and the handoff.
 *
 * Exactly one side runs the guest (Documentation/kvmmig.rst, "Invariants",
 * 3): until the destination has restored the state and we sent GO, every
 * failure resumes the source. Once GO is sent, only RUNNING proves the
 * destination runs; without it the source stays paused and says so.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/jsonout.h"
#include "ctl/netio.h"
#include "ctl/peertext.h"
#include "ctl/policy.h"
#include "ctl/secure.h"
#include "ctl/session.h"
#include "ctl/shape.h"
#include "ctl/sshdest.h"
#include "ctl/vmmclient.h"
#include "ctl/wire.h"

struct migration {
	const char *name;
	struct vmm_conn vmm;
	struct mig_session sess; /* the module's source session, fd -1 when none */
	int sock;
	int awaiting_stream; /* accepted, and no module session started yet: the destination reads records */
	int logging;   /* we asked the VMM to switch dirty logging on */
	int we_paused; /* we paused the guest: resume it on failure */
	int json;
	struct ssh_dest ssh; /* the destination started over SSH, if any */
	uint64_t start_ns, bytes;
	uint64_t guest_pages; /* for the percent column */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Ends a failed migration with the guest running at the source (or as it was). */
static int fail(struct migration *m, const char *what)
{
	const char *where = "running on the source";
	char clean[1024];
	int had_session = m->sess.fd >= 0;

	/* The module lets go of the socket first: closing the session fd aborts it (socket shut down). */
	session_close(&m->sess);
	if (m->sock >= 0) {
		struct linger reset = {.l_onoff = 1, .l_linger = 0};

		/*
		 * Tell the destination why (not in the middle of the page
		 * stream, where it would read as a broken record), then reset
		 * the connection rather than drain what is queued (a paced
		 * link may hold seconds of pages): the destination learns at
		 * once and stops its VMM.
		 */
		if (m->awaiting_stream) {
			/* Nothing queued: a plain close delivers the reason. */
			wire_send_stream_abort(m->sock, what);
			reset.l_onoff = 0;
		} else if (!had_session) {
			wire_send_text(m->sock, WIRE_ABORT, what);
		}
		setsockopt(m->sock, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		close(m->sock);
		m->sock = -1;
	}
	/* Not needed for correctness (a logged slot costs little), but as it was. */
	if (m->logging)
		vmm_simple(&m->vmm, "dirty-log off");
	if (m->we_paused) {
		if (vmm_simple(&m->vmm, "resume")) {
			where = "PAUSED on the source (resume failed: run `kvmmig-ctl resume`)";
		}
	}
	if (m->ssh.pid)
		ssh_dest_finish(&m->ssh, 15);
	/* @what may quote the destination, or our VMM: printable ASCII only. */
	peer_text(clean, sizeof(clean), what);
	if (m->json)
		json_line(json_pack("{s:s, s:s}", "event", "failed", "reason", clean));
	fprintf(stderr, "kvmmig-ctl: migration of %s failed: %s; the guest is %s\n", m->name, clean,
		where);
	return 1;
}

static void show_round(const struct migration *m, const struct round_stats *st, uint64_t wall,
		       const struct policy_state *ps, enum policy_decision d)
{
	double mbps = wall ? st->bytes * 1e3 / wall : 0;

	if (m->json) {
		json_line(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
				    "event", "round", "round", (json_int_t)st->round,
				    "pages_dirty", (json_int_t)st->pages_dirty,
				    "pages_sent", (json_int_t)st->pages_sent,
				    "pages_zero", (json_int_t)st->pages_zero,
				    "bytes", (json_int_t)st->bytes, "wall_ns", (json_int_t)wall,
				    "harvest_ns", (json_int_t)st->harvest_ns,
				    "bandwidth", (json_int_t)ps->bandwidth,
				    "dirty_rate", (json_int_t)ps->dirty_rate,
				    "expected_downtime_ns",
				    (json_int_t)(ps->expected_downtime_ns == UINT64_MAX
						     ? 0
						     : ps->expected_downtime_ns),
				    "decision", policy_decision_name(d)));
	} else {
		printf("round %2u: %8" PRIu64 " dirty %8" PRIu64 " sent %8" PRIu64
		       " zero (%5.1f%% of memory)  %7.1f MB at %6.1f MB/s  dirty rate %6.1f MB/s",
		       st->round, st->pages_dirty, st->pages_sent, st->pages_zero,
		       m->guest_pages ? 100.0 * (st->pages_sent + st->pages_zero) / m->guest_pages
				      : 0,
		       st->bytes / 1e6, mbps, ps->dirty_rate / 1e6);
		if (ps->expected_downtime_ns != UINT64_MAX)
			printf("  expected downtime %" PRIu64 " ms",
			       ps->expected_downtime_ns / 1000000);
		printf("  -> %s\n", policy_decision_name(d));
	}
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvmmig-ctl migrate NAME HOST[:PORT] [--max-downtime MS] [--max-rounds "
		   "N] [--timeout SEC]\n"
		   "       [--bandwidth MB/s] [--progress-timeout SEC] [--verify] [--json]\n"
		   "       [--key FILE | --insecure]\n"
		   "       kvmmig-ctl migrate NAME ssh://[USER@]HOST[:PORT] [--ssh CMD] "
		   "[--remote-ctl PATH] [options]\n"
		   "  the default port is " KVMMIG_DEFAULT_PORT
		   "; the destination runs `kvmmig-ctl incoming NAME`\n"
		   "  both sides prove they hold the same key (default " KVMMIG_DEFAULT_KEY
		   ")\n"
		   "  and the stream runs over kernel TLS; --insecure (both sides) is plain TCP\n"
		   "  ssh:// starts the destination's `kvmmig-ctl incoming` over SSH with a fresh "
		   "key\n"
		   "  --progress-timeout: the module ends the migration when no byte moves for SEC\n"
		   "  seconds (default %u)\n",
		   KVMMIG_PROGRESS_TIMEOUT_MS / 1000);
}

int migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"max-downtime", required_argument, NULL, 'd'},
	    {"max-rounds", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 't'},
	    {"progress-timeout", required_argument, NULL, 'P'},
	    {"json", no_argument, NULL, 'j'},
	    {"bandwidth", required_argument, NULL, 'b'},
	    {"verify", no_argument, NULL, 'v'},
	    {"key", required_argument, NULL, 'k'},
	    {"insecure", no_argument, NULL, 'i'},
	    {"ssh", required_argument, NULL, 's'},
	    {"remote-ctl", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct migration m = {.sock = -1, .sess = {.fd = -1}};
	struct policy_limits limits;
	struct policy_state ps = {0};
	struct vmm_status vst;
	struct round_stats st;
	struct migration_key keybuf;
	const struct migration_key *key;
	const char *keypath = KVMMIG_DEFAULT_KEY, *dest, *ssh = "ssh", *remote_ctl = "kvmmig-ctl";
	enum policy_decision d;
	uint64_t timeout_ns = 0, pause_ns, downtime_ns, t, bandwidth = 0;
	char hello[32768], *payload = NULL, why[1024], peer[400];
	size_t blob_len;
	enum wire_type type;
	int c, ret, verify = 0, insecure = 0, vm_fd;
	uint32_t progress_ms = 0;
	unsigned int peer_state_version;

	policy_default_limits(&limits);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			limits.max_downtime_ns = strtoull(optarg, NULL, 0) * 1000000ull;
			break;
		case 'r':
			limits.max_rounds = strtoul(optarg, NULL, 0);
			break;
		case 't':
			timeout_ns = strtoull(optarg, NULL, 0) * 1000000000ull;
			break;
		case 'P':
			if (parse_progress_timeout(optarg, &progress_ms))
				return 1;
			break;
		case 'j':
			m.json = 1;
			break;
		case 'v':
			verify = 1;
			break;
		case 'b':
			bandwidth = strtoull(optarg, NULL, 0) * 1000000ull;
			break;
		case 'k':
			keypath = optarg;
			break;
		case 'i':
			insecure = 1;
			break;
		case 's':
			ssh = optarg;
			break;
		case 'R':
			remote_ctl = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 1;
	}
	m.name = argv[optind];
	dest = argv[optind + 1];
	if (is_ssh_url(dest)) {
		/* A fresh key per migration, agreed over SSH. */
		if (insecure || key_random(&keybuf)) {
			fprintf(stderr, "kvmmig-ctl: %s\n",
				insecure ? "ssh:// always authenticates: drop --insecure"
					 : "the kernel gave no random bytes for the key");
			return 1;
		}
		key = &keybuf;
	} else if (secure_key_option(keypath, insecure, &keybuf, &key)) {
		return 1;
	}

	if (vmm_connect(&m.vmm, m.name))
		return 1;
	ret = vmm_status(&m.vmm, &vst);
	if (ret) {
		fprintf(stderr, "kvmmig-ctl: unable to ask the VMM of %s for its status: %s\n",
			m.name, m.vmm.error[0] ? m.vmm.error : strerror(-ret));
		return 1;
	}
	if (strcmp(vst.state, "running") && strcmp(vst.state, "paused")) {
		fprintf(stderr, "kvmmig-ctl: %s is %s, not running or paused: nothing to migrate\n",
			m.name, vst.state);
		return 1;
	}
	if (!vst.attached) {
		fprintf(stderr,
			"kvmmig-ctl: %s is not attached to kvmmig: load the module (modprobe "
			"kvmmig) before starting its VMM\n",
			m.name);
		return 1;
	}
	m.guest_pages = vst.mem / sysconf(_SC_PAGESIZE);

	if (is_ssh_url(dest)) {
		m.ssh.json = m.json;
		if (ssh_dest_start(&m.ssh, dest, m.name, ssh, remote_ctl, progress_ms, key, why,
				   sizeof(why)))
			return fail(&m, why);
		dest = m.ssh.data;
	}
	m.sock = tcp_connect(dest);
	if (m.sock < 0)
		return fail(&m, "no connection to the destination");
	/*
	 * The cap is TCP's own pacing of this socket, so it holds for the
	 * module's zero-copy sends as well as for ours.
	 */
	if (bandwidth &&
	    setsockopt(m.sock, SOL_SOCKET, SO_MAX_PACING_RATE, &bandwidth, sizeof(bandwidth)))
		return fail(&m, "the kernel refused the bandwidth cap (SO_MAX_PACING_RATE)");
	if (secure_source(m.sock, key, why, sizeof(why)))
		return fail(&m, why);
	if (shape_describe(&vst, hello, sizeof(hello)) ||
	    wire_send_text(m.sock, WIRE_HELLO, hello) || wire_recv(m.sock, &type, &payload, NULL))
		return fail(&m, "the handshake with the destination broke off");
	if (type != WIRE_ACCEPT) {
		snprintf(why, sizeof(why), "the destination refused: %s",
			 type == WIRE_REFUSE || type == WIRE_ABORT
				 ? peer_text(peer, sizeof(peer), payload)
				 : wire_type_name(type));
		free(payload);
		return fail(&m, why);
	}
	/* The newest state version the destination's VMM reads: 1 if it does not say. */
	if (!payload || sscanf(payload, "state-version %u", &peer_state_version) != 1 ||
	    !peer_state_version)
		peer_state_version = 1;
	free(payload);
	m.awaiting_stream = 1;

	/* The VMM's /dev/kvmmig file is the authority: the session is opened on it. */
	ret = vmm_kvmmig_fd(&m.vmm, &vm_fd);
	if (ret) {
		snprintf(why, sizeof(why),
			 "the module could not start sending: the VMM did not hand over its "
			 "kvmmig file (%s)",
			 m.vmm.error[0] ? m.vmm.error : strerror(-ret));
		return fail(&m, why);
	}
	ret = session_open(&m.sess, vm_fd, m.sock, KVMMIG_SESSION_SOURCE, progress_ms);
	if (ret) {
		snprintf(why, sizeof(why), "the module could not start sending: %s",
			 m.sess.why[0] ? m.sess.why : strerror(-ret));
		return fail(&m, why);
	}
	m.awaiting_stream = 0;
	/*
	 * The VMM owns its memslots: it logs them, the module only harvests.
	 * Logging goes on after the session opened, which put KVM's dirty log
	 * in manual-protect mode, initially all set: KVM then protects pages
	 * chunk by chunk as round 0 sends them, not the whole guest at once.
	 * Logging it had on already (another migration's, or the VMM's own)
	 * is not ours to switch off when we fail.
	 */
	if (!vst.dirty_log) {
		ret = vmm_simple(&m.vmm, "dirty-log on");
		if (ret) {
			snprintf(why, sizeof(why),
				 "the VMM could not switch dirty logging on (%s): a VMM migrated "
				 "by kvmmig must serve 'dirty-log on'",
				 m.vmm.error[0] ? m.vmm.error : strerror(-ret));
			return fail(&m, why);
		}
		m.logging = 1;
	}
	m.start_ns = now_ns();

	for (;;) {
		struct policy_round r;

		t = now_ns();
		ret = session_round(&m.sess, ps.rounds ? 0 : KVMMIG_ROUND_FULL, &st);
		if (ret) {
			snprintf(why, sizeof(why), "round %u failed: %s", ps.rounds,
				 m.sess.why[0] ? m.sess.why : strerror(-ret));
			return fail(&m, why);
		}
		r.pages_dirty = st.pages_dirty;
		r.bytes = st.bytes;
		r.wall_ns = now_ns() - t;
		m.bytes += st.bytes;
		d = policy_after_round(&ps, &limits, &r, sysconf(_SC_PAGESIZE));
		show_round(&m, &st, r.wall_ns, &ps, d);
		if (d == POLICY_STOP_AND_COPY)
			break;
		if (d == POLICY_GIVE_UP_STALLED) {
			snprintf(why, sizeof(why),
				 "the guest dirties memory at %.1f MB/s, faster than the link "
				 "carries it (%.1f MB/s) within %" PRIu64
				 " ms of downtime; raise --max-downtime or lower the guest's load",
				 ps.dirty_rate / 1e6, ps.bandwidth / 1e6,
				 limits.max_downtime_ns / 1000000);
			return fail(&m, why);
		}
		if (d == POLICY_GIVE_UP_ROUNDS) {
			snprintf(why, sizeof(why),
				 "no convergence after %u rounds (expected downtime %" PRIu64
				 " ms > %" PRIu64 " ms); raise --max-downtime or --max-rounds",
				 ps.rounds, ps.expected_downtime_ns / 1000000,
				 limits.max_downtime_ns / 1000000);
			return fail(&m, why);
		}
		if (timeout_ns && now_ns() - m.start_ns > timeout_ns)
			return fail(&m, "timed out before converging (--timeout)");
	}

	/* Stop and copy. */
	pause_ns = now_ns();
	if (strcmp(vst.state, "paused")) {
		ret = vmm_simple(&m.vmm, "pause");
		if (ret)
			return fail(&m, "the VMM did not pause the guest");
		m.we_paused = 1;
	}
	/*
	 * The module sends END only if nothing was written since the final
	 * harvest (EAGAIN otherwise: a write the VMM reported late). With
	 * the guest paused another final round catches up; a writer that
	 * keeps writing fails it, and the guest goes on at the source.
	 */
	for (int tries = 0;; tries++) {
		ret = session_round(&m.sess, KVMMIG_ROUND_FINAL, &st);
		m.bytes += st.bytes;
		if (ret != -EAGAIN || tries == 2)
			break;
	}
	if (ret) {
		snprintf(why, sizeof(why), "the final round failed: %s",
			 m.sess.why[0] ? m.sess.why : strerror(-ret));
		return fail(&m, why);
	}
	show_round(&m, &st, now_ns() - pause_ns, &ps, POLICY_STOP_AND_COPY);
	session_close(&m.sess);

	if (verify) {
		/* The memory as it is now, paused: the destination must match it. */
		ret = vmm_request(&m.vmm, "digest", NULL, 0, &payload, NULL);
		if (ret)
			return fail(&m, "the VMM could not digest guest memory (--verify)");
		ret = wire_send_text(m.sock, WIRE_DIGEST, payload);
		free(payload);
		if (ret)
			return fail(&m, "the connection broke off sending the digest");
	}
	/*
	 * In a version both VMMs know: ours writes its own, or an older one
	 * the destination's reads (a VMM that predates versions writes 1).
	 */
	if (peer_state_version < vst.state_version)
		snprintf(why, sizeof(why), "save-state %u", peer_state_version);
	else
		snprintf(why, sizeof(why), "save-state");
	ret = vmm_request(&m.vmm, why, NULL, 0, &payload, &blob_len);
	if (ret) {
		snprintf(why, sizeof(why), "the VMM could not save the guest's state: %s",
			 m.vmm.error[0] ? m.vmm.error : strerror(-ret));
		return fail(&m, why);
	}
	ret = wire_send(m.sock, WIRE_STATE, payload, blob_len);
	m.bytes += blob_len;
	free(payload);
	if (ret || wire_recv(m.sock, &type, &payload, NULL))
		return fail(&m, "the connection broke off during the state transfer");
	if (type != WIRE_RESTORED) {
		/* The destination's reason, e.g. a --verify mismatch. */
		snprintf(why, sizeof(why), "the destination could not restore the state: %s",
			 type == WIRE_ABORT ? peer_text(peer, sizeof(peer), payload)
					    : wire_type_name(type));
		free(payload);
		return fail(&m, why);
	}
	free(payload);

	/*
	 * The point of no return. A GO that could not be written was not
	 * received whole, so the destination cannot run: resume here. A GO
	 * written but not answered leaves the outcome unknown: stay paused.
	 */
	if (wire_send(m.sock, WIRE_GO, NULL, 0))
		return fail(&m, "the connection broke off before the destination was told to run");
	if (wire_recv(m.sock, &type, &payload, NULL) || type != WIRE_RUNNING) {
		if (m.ssh.pid)
			ssh_dest_finish(&m.ssh, 15); /* what the destination said helps decide */
		fprintf(stderr,
			"kvmmig-ctl: migration of %s: the destination did not confirm it runs the "
			"guest; the source stays PAUSED: check the destination, and only if the "
			"guest does not run there, `kvmmig-ctl resume %s` here\n",
			m.name, m.name);
		free(payload);
		return 2;
	}
	free(payload);
	downtime_ns = now_ns() - pause_ns;
	vmm_simple(&m.vmm, "quit");
	close(m.sock);
	if (m.ssh.pid)
		ssh_dest_finish(&m.ssh, 15);

	t = now_ns() - m.start_ns;
	if (m.json)
		json_line(json_pack("{s:s, s:I, s:I, s:I, s:I}", "event", "done", "total_ns",
				    (json_int_t)t, "downtime_ns", (json_int_t)downtime_ns, "bytes",
				    (json_int_t)m.bytes, "rounds", (json_int_t)(ps.rounds + 1)));
	else
		printf("migrated %s in %.2f s: downtime %" PRIu64 " ms, %.1f MB in %u rounds%s\n",
		       m.name, t / 1e9, downtime_ns / 1000000, m.bytes / 1e6, ps.rounds + 1,
		       verify ? ", memory verified" : "");
	vmm_close(&m.vmm);
	return 0;
}
