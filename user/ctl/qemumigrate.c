/*
 * qemumigrate.c: `kvmmig-ctl migrate --qemu QMP_SOCKET HOST[:PORT]`: the
 * source side of a QEMU guest's migration. kvmmig.ko carries the guest RAM
 * (QEMU's shared RAM file, which x-ignore-shared keeps out of QEMU's own
 * stream); QEMU carries its devices and vCPUs over a second connection
 * under the same key. Documentation/kvmmig.rst, "QEMU guests".
 *
 * Exactly one side runs the guest: until migrate-continue every failure
 * cancels QEMU's migration and leaves the guest running here; after it,
 * QEMU itself resumes the guest if its device stream fails. QEMU completes
 * on the last device byte it sent, received or not; the destination runs
 * only on GO, which goes only after the destination tool said LOADED (its
 * QEMU loaded the state), so until LOADED any failure `cont`s the guest
 * here. Should this tool die between `migrate` and GO, its guard
 * (qemuguard.h) cancels and resumes the guest here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/clock.h"
#include "ctl/commands.h"
#include "ctl/jsonout.h"
#include "ctl/netio.h"
#include "ctl/options.h"
#include "ctl/peertext.h"
#include "ctl/policy.h"
#include "ctl/precopy.h"
#include "ctl/qemuconfig.h"
#include "ctl/qemuctl.h"
#include "ctl/qemuguard.h"
#include "ctl/qemuproc.h"
#include "ctl/qmp.h"
#include "ctl/ramverify.h"
#include "ctl/secure.h"
#include "ctl/session.h"
#include "ctl/wire.h"

/*
 * QEMU keeps KVM's dirty logging on for calc-dirty-rate's 60 s at most
 * (its maximum calc-time) unless its own migration started meanwhile:
 * kvmmig's pre-copy must reach `migrate` before that.
 */
#define CALC_TIME_S 60
/* How long QEMU may take from `migrate` to pre-switchover (all RAM ignored: ~20 ms). */
#define SWITCHOVER_WAIT_MS 30000
#define COMPLETE_WAIT_MS   60000
/* How long the destination may take to say LOADED once QEMU completed here (its own wait: 60 s). */
#define LOADED_WAIT_S 90

struct qmigration {
	const char *qmp_path;
	struct qmp q;
	int kvmmig_fd; /* /dev/kvmmig file that attached QEMU's VM */
	struct mig_session sess;
	int sock, dev_sock;
	struct ram_file rf;
	int qemu_migrating; /* `migrate` issued: cancel it on failure */
	int awaiting_stream; /* accepted, no module session yet: the destination reads records */
	int was_running;    /* the guest ran when we started: resume it on failure */
	int loaded_ack;	    /* the destination says LOADED before GO (wire.h) */
	struct qemu_guard guard; /* from `migrate` to GO: resumes QEMU if we die */
	int json;
	uint64_t start_ns;
};

static void release(struct qmigration *m)
{
	qemu_guard_disarm(&m->guard);
	session_close(&m->sess);
	if (m->sock >= 0)
		close(m->sock);
	if (m->dev_sock >= 0)
		close(m->dev_sock);
	m->sock = m->dev_sock = -1;
	ram_file_close(&m->rf);
	if (m->kvmmig_fd >= 0)
		close(m->kvmmig_fd); /* detaches QEMU's VM from kvmmig */
	m->kvmmig_fd = -1;
}

/* Before migrate-continue: QEMU's migration cancelled, the guest running here. */
static int fail(struct qmigration *m, const char *what)
{
	const char *where = "running on the source";
	int had_session = m->sess.fd >= 0;
	char clean[1024], state[64], stopped[128];

	/* The module lets go of the socket first: closing the session fd aborts it. */
	session_close(&m->sess);
	if (m->sock >= 0) {
		/*
		 * As migrate.c: the destination's module reads the page stream
		 * from ACCEPT to END, so the reason goes as a stream ABORT record
		 * before the stream began, not at all in the middle of it (a
		 * reset then: text there reads as a broken record), and as a
		 * tool message before ACCEPT and after END (the verify pass).
		 */
		if (m->awaiting_stream) {
			wire_send_stream_abort(m->sock, what);
		} else if (had_session) {
			struct linger reset = {.l_onoff = 1, .l_linger = 0};

			setsockopt(m->sock, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		} else {
			wire_send_text(m->sock, WIRE_ABORT, what);
		}
		close(m->sock);
		m->sock = -1;
	}
	if (qemu_exited(&m->q)) {
		where = "running nowhere: the source QEMU exited (its own log says why)";
	} else if (qemu_cancel_and_resume(&m->q, m->qemu_migrating, m->was_running)) {
		where = "NOT running on the source: `cont` failed, check QEMU";
	} else if (!qemu_run_state(&m->q, state, sizeof(state)) && strcmp(state, "running")) {
		/* Say what QEMU says: a guest QEMU stopped itself (internal-error,
		 * guest-panicked, shutdown) or one left paused is not running. */
		snprintf(stopped, sizeof(stopped), "NOT running on the source: QEMU is %s%s", state,
			 !strcmp(state, "paused") && !m->was_running ? ", as it was" : "");
		where = stopped;
	}
	release(m);
	peer_text(clean, sizeof(clean), what);
	if (m->json)
		json_line(json_pack("{s:s, s:s}", "event", "failed", "reason", clean));
	fprintf(stderr, "kvmmig-ctl: migration of QEMU guest %s failed: %s; the guest is %s\n",
		m->qmp_path, clean, where);
	qmp_close(&m->q);
	return 1;
}

static void show_round(const struct qmigration *m, const struct round_stats *st, uint64_t wall,
		       const struct policy_state *ps, const char *decision)
{
	if (m->json) {
		json_line(json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "event", "round", "round",
		    (json_int_t)st->round, "pages_dirty", (json_int_t)st->pages_dirty, "pages_sent",
		    (json_int_t)st->pages_sent, "pages_zero", (json_int_t)st->pages_zero, "bytes",
		    (json_int_t)st->bytes, "wall_ns", (json_int_t)wall, "decision", decision));
		return;
	}
	printf("round %2u: %8" PRIu64 " dirty %8" PRIu64 " sent %8" PRIu64
	       " zero  %7.1f MB at %6.1f MB/s  dirty rate %6.1f MB/s  -> %s\n",
	       st->round, st->pages_dirty, st->pages_sent, st->pages_zero, st->bytes / 1e6,
	       wall ? st->bytes * 1e3 / wall : 0.0, ps->dirty_rate / 1e6, decision);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvmmig-ctl migrate --qemu QMP_SOCKET HOST[:PORT] [--max-downtime MS]\n"
		   "       [--max-rounds N] [--bandwidth MB/s] [--progress-timeout SEC] [--json]\n"
		   "       [--key FILE | --insecure]\n"
		   "  moves the QEMU guest behind QMP_SOCKET (checked as by qemu-check) to the\n"
		   "  destination's `kvmmig-ctl incoming --qemu`: kvmmig carries guest RAM, QEMU\n"
		   "  its devices on a second connection under the same key; at switchover every\n"
		   "  page is verified and differing pages are resent\n");
}

/* Waits for the destination's one-message answer @want; fails with its reason. */
static int expect(struct qmigration *m, enum wire_type want, char **payload, size_t *len,
		  const char *during)
{
	char why[600], peer[400];
	enum wire_type type;

	if (wire_recv(m->sock, &type, payload, len)) {
		snprintf(why, sizeof(why), "the connection broke off %s", during);
		return fail(m, why);
	}
	if (type == want)
		return 0;
	snprintf(why, sizeof(why), "the destination gave up %s: %s", during,
		 type == WIRE_ABORT || type == WIRE_REFUSE ? peer_text(peer, sizeof(peer), *payload)
							   : wire_type_name(type));
	free(*payload);
	*payload = NULL;
	return fail(m, why);
}

/* The verify-and-repair pass (ramverify.h), QEMU held at pre-switchover. */
static int verify_and_repair(struct qmigration *m, int skip_repair, uint64_t *repaired,
			     uint64_t *verify_ns)
{
	uint8_t key[RAM_KEY_BYTES];
	uint64_t *mine = NULL, t = mono_ns();
	char *theirs = NULL, why[200];
	size_t len = 0;
	int ret;

	if (getrandom(key, sizeof(key), 0) != sizeof(key))
		return fail(m, "the kernel gave no random bytes for the digest key");
	if (wire_send(m->sock, WIRE_RAM_KEY, key, sizeof(key)))
		return fail(m, "the connection broke off sending the digest key");
	/* Both sides digest at once: ours while the destination does its own. */
	ret = ram_digests(&m->rf, key, &mine);
	if (ret) {
		snprintf(why, sizeof(why), "cannot read QEMU's RAM file: %s", strerror(-ret));
		return fail(m, why);
	}
	if (expect(m, WIRE_RAM_DIGESTS, &theirs, &len, "verifying RAM")) {
		free(mine);
		return 1;
	}
	if (len != m->rf.size / 4096 * 8) {
		free(mine);
		free(theirs);
		return fail(m, "the destination's RAM digests do not cover its RAM file");
	}
	if (skip_repair) {
		/* Test only: shows what the tracker catches by not repairing it. */
		uint64_t i, le, n = 0;

		for (i = 0; i < m->rf.size / 4096; i++) {
			memcpy(&le, theirs + i * 8, 8);
			n += le != mine[i];
		}
		fprintf(stderr,
			"kvmmig-ctl: --unsafe-skip-repair: %" PRIu64
			" pages differ at the destination and are NOT resent\n",
			n);
		memset(theirs, 0, len);
		memset(mine, 0, len); /* everything "equal": nothing sent */
	}
	ret = ram_repair_send(m->sock, &m->rf, mine, theirs, repaired);
	free(mine);
	free(theirs);
	if (ret)
		return fail(m, "the connection broke off during the RAM repair");
	theirs = NULL;
	if (expect(m, WIRE_RAM_OK, &theirs, &len, "writing the repaired pages"))
		return 1;
	free(theirs);
	*verify_ns = mono_ns() - t;
	return 0;
}

/* After QEMU completed: the destination's LOADED, or the guest resumed here. */
static int wait_loaded(struct qmigration *m)
{
	struct timeval limit = {.tv_sec = LOADED_WAIT_S};
	char *payload = NULL;

	setsockopt(m->sock, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	if (expect(m, WIRE_LOADED, &payload, NULL,
		   "waiting for its word that its QEMU loaded the device state"))
		return 1;
	free(payload);
	return 0;
}

int qemu_migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"qemu", required_argument, NULL, 'Q'},
	    SOURCE_OPTIONS,
	    {"unsafe-skip-repair", no_argument, NULL, 'U'},
	    {"unsafe-skip-loaded", no_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct qmigration m = {
	    .kvmmig_fd = -1, .sock = -1, .dev_sock = -1, .sess = {.fd = -1}, .rf = {.fd = -1}};
	struct policy_limits limits;
	struct precopy pre = {.sess = &m.sess, .sock = -1, .limits = &limits, .page_size = 4096};
	struct policy_state *ps = &pre.ps;
	struct round_stats st;
	struct qemu_config cfg;
	struct migration_key keybuf;
	const struct migration_key *key;
	struct shared_opts o;
	const char *dest;
	char why[1024], hello[256], state[64], *payload = NULL;
	uint64_t t, pause_ns, downtime_ns, repaired = 0, verify_ns = 0, final_ns;
	unsigned long long ram_total;
	uint64_t precopy_budget_ns;
	int c, ret, skip_repair = 0, skip_loaded = 0, logging_left_s;
	enum policy_decision d;
	enum wire_type type;

	shared_opts_init(&o, &limits);
	/* No throttle for a QEMU guest yet: its vCPUs are QEMU's (cpu-throttle is not driven). */
	limits.converge = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ret = shared_option(&o, c, optarg);
		if (ret < 0)
			return 1;
		if (ret)
			continue;
		switch (c) {
		case 'Q':
			m.qmp_path = optarg;
			break;
		case 'U':
			skip_repair = 1;
			break;
		case 'L':
			/* Test only: the switchover of a destination that predates LOADED. */
			skip_loaded = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!m.qmp_path || argc - optind != 1) {
		usage(stderr);
		return 1;
	}
	m.json = o.json;
	dest = argv[optind];
	if (secure_key_option(o.keypath, o.insecure, &keybuf, &key))
		return 1;

	/* Everything that can refuse, before QEMU or the destination is touched. */
	if (qmp_open(&m.q, m.qmp_path, 0) || qemu_config_check(&m.q, &cfg) < 0) {
		fprintf(stderr, "kvmmig-ctl: migrate --qemu: %s\n", m.q.error);
		qmp_close(&m.q);
		return 1;
	}
	if (cfg.nrefusals) {
		for (unsigned int i = 0; i < cfg.nrefusals; i++)
			fprintf(stderr, "kvmmig-ctl: migrate --qemu: refused: %s\n",
				cfg.refusals[i]);
		qmp_close(&m.q);
		return 1;
	}
	if (cfg.nbackends != 1)
		return fail(&m, "the guest's RAM is in more than one backend; kvmmig moves one RAM "
				"file per guest");
	if (qemu_run_state(&m.q, state, sizeof(state)))
		return fail(&m, m.q.error);
	if (strcmp(state, "running") && strcmp(state, "paused")) {
		snprintf(why, sizeof(why), "QEMU is %s, not running or paused: nothing to migrate",
			 state);
		return fail(&m, why);
	}
	m.was_running = !strcmp(state, "running");
	if (ram_file_open(m.q.pid, cfg.ram_bytes, 0, &m.rf, why, sizeof(why)))
		return fail(&m, why);
	m.kvmmig_fd = qemu_attach(&m.q, 0, why, sizeof(why));
	if (m.kvmmig_fd < 0)
		return fail(&m, why);

	m.sock = dial_destination(dest, o.bandwidth, key, why, sizeof(why));
	if (m.sock < 0)
		return fail(&m, why);
	snprintf(hello, sizeof(hello), "qemu 1\nram-bytes %llu\nqemu-version %d.%d.%d\n%s",
		 cfg.ram_bytes, m.q.major, m.q.minor, m.q.micro, skip_loaded ? "" : "loaded 1\n");
	if (wire_send_text(m.sock, WIRE_HELLO, hello))
		return fail(&m, "the handshake with the destination broke off");
	if (expect(&m, WIRE_ACCEPT, &payload, NULL, "at the handshake"))
		return 1;
	m.loaded_ack = !skip_loaded && strstr(payload, "\nloaded 1\n");
	free(payload);
	payload = NULL;
	m.awaiting_stream = 1;
	/* QEMU's device stream: its own connection, the same key, kernel TLS. */
	m.dev_sock = dial_destination(dest, 0, key, hello, sizeof(hello));
	if (m.dev_sock < 0) {
		snprintf(why, sizeof(why), "QEMU's device stream, a second connection: %s", hello);
		return fail(&m, why);
	}

	if (qemu_set_caps(&m.q, 1))
		return fail(&m, m.q.error);
	/*
	 * KVM dirty logging on the RAM file's slots: QEMU owns its memslots
	 * (invariant 9), and calc-dirty-rate in dirty-bitmap mode turns logging
	 * on for CALC_TIME_S, clearing each slot's log once at its start; its
	 * `migrate` later keeps logging on. Should that one clear land after
	 * round 0 harvested a chunk, the writes it hides are found by the
	 * verify pass (it compares all of RAM), never lost.
	 */
	ret = qemu_dirty_logging_on(&m.q, CALC_TIME_S, 30, &logging_left_s);
	if (ret)
		return fail(&m, m.q.error);
	/* Round 0 after the measurement's one clear of the log, most likely. */
	usleep(200000);
	precopy_budget_ns = (uint64_t)(logging_left_s - 10) * 1000000000ull;

	/* A copy: session_open() closes the fd it gets, and ours is the attachment. */
	ret = session_open(&m.sess, fcntl(m.kvmmig_fd, F_DUPFD_CLOEXEC, 0), m.sock,
			   KVMMIG_SESSION_SOURCE | KVMMIG_SESSION_RAM_FILE, o.progress_ms);
	if (ret) {
		char qemu_now[256] = "", desc[240];

		/* "The VMM is exiting" of a QEMU that answers QMP: say what it is. */
		if (ret == -ESRCH) {
			qemu_proc_describe(m.q.pid, desc, sizeof(desc));
			snprintf(qemu_now, sizeof(qemu_now), " (%s)", desc);
		}
		snprintf(why, sizeof(why), "the module could not start sending: %s%s",
			 m.sess.why[0] ? m.sess.why : strerror(-ret), qemu_now);
		return fail(&m, why);
	}
	m.awaiting_stream = 0;
	m.start_ns = mono_ns();
	pre.sock = m.sock;
	pre.progress_ms = o.progress_ms;
	for (;;) {
		struct policy_round r;

		if (precopy_round(&pre, &st, &r, &d, why, sizeof(why))) {
			/* A round that outlasted QEMU's logging fails as KVM_GET_DIRTY_LOG's ENOENT. */
			if (mono_ns() - m.start_ns > precopy_budget_ns) {
				size_t n = strlen(why);

				snprintf(why + n, sizeof(why) - n,
					 ": the pre-copy outlasted QEMU's dirty logging "
					 "(calc-dirty-rate's %d s): the link or this host is too "
					 "slow for this guest's memory",
					 logging_left_s);
			}
			return fail(&m, why);
		}
		show_round(&m, &st, r.wall_ns, ps, policy_decision_name(d));
		if (d == POLICY_STOP_AND_COPY)
			break;
		if (d != POLICY_ANOTHER_ROUND) {
			snprintf(why, sizeof(why),
				 "no convergence (%s, dirty rate %.1f MB/s, bandwidth %.1f MB/s): "
				 "raise --max-downtime or lower the guest's load",
				 policy_decision_name(d), ps->dirty_rate / 1e6, ps->bandwidth / 1e6);
			return fail(&m, why);
		}
		if (mono_ns() - m.start_ns > precopy_budget_ns)
			return fail(&m,
				    "pre-copy did not converge in time (QEMU keeps dirty logging "
				    "on for calc-dirty-rate's 60 s); raise --max-downtime");
	}

	/* QEMU's device stream; QEMU stops the guest and waits at pre-switchover. */
	if (qmp_getfd(&m.q, m.dev_sock, "kvmmig-out"))
		return fail(&m, m.q.error);
	close(m.dev_sock);
	m.dev_sock = -1;
	/* From here QEMU stops the guest until we say so: should we die, the guard resumes it. */
	ret = qemu_guard_arm(&m.guard, m.qmp_path, m.was_running);
	if (ret) {
		snprintf(why, sizeof(why), "cannot start the guard process: %s", strerror(-ret));
		return fail(&m, why);
	}
	pause_ns = mono_ns();
	if (qmp_execute(&m.q, "migrate", json_pack("{s:s}", "uri", "fd:kvmmig-out"), NULL))
		return fail(&m, m.q.error);
	m.qemu_migrating = 1;
	ret = qemu_wait_status(&m.q, "pre-switchover", SWITCHOVER_WAIT_MS, state, sizeof(state));
	if (ret) {
		snprintf(why, sizeof(why), "QEMU did not reach pre-switchover (%s)",
			 ret == -EIO	     ? state
			 : ret == -ETIMEDOUT ? "timed out"
					     : m.q.error);
		return fail(&m, why);
	}
	/* A backend QEMU did not ignore would be in its stream: all of RAM, twice. */
	if (qemu_migrate_status(&m.q, state, sizeof(state), &ram_total))
		return fail(&m, m.q.error);
	if (ram_total >= cfg.ram_bytes / 2)
		return fail(&m, "QEMU migrates guest RAM itself (ram.total is guest-sized): "
				"x-ignore-shared did not take");

	/* vCPUs stopped, devices quiesced: the final round, then the verify pass. */
	t = mono_ns();
	if (precopy_final_round(&pre, &st, why, sizeof(why)))
		return fail(&m, why);
	final_ns = mono_ns() - t;
	show_round(&m, &st, final_ns, ps, "final");
	session_close(&m.sess);
	if (verify_and_repair(&m, skip_repair, &repaired, &verify_ns))
		return 1;
	if (m.json)
		json_line(json_pack("{s:s, s:I, s:I}", "event", "verified", "pages_repaired",
				    (json_int_t)repaired, "verify_ns", (json_int_t)verify_ns));
	else
		printf("verified: %" PRIu64 " pages differed and were resent (%.0f ms)\n", repaired,
		       verify_ns / 1e6);
	fflush(stdout);

	/*
	 * The destination holds all of RAM. From migrate-continue on QEMU owns
	 * the outcome: a device stream that fails resumes the guest here (one
	 * cut after QEMU's last byte leaves it stopped: said below).
	 */
	if (qmp_execute(&m.q, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"),
			NULL))
		return fail(&m, m.q.error);
	ret = qemu_wait_status(&m.q, "completed", COMPLETE_WAIT_MS, state, sizeof(state));
	if (ret) {
		char st2[64] = "unknown";

		/* A QEMU that failed resumed the guest; one still waiting (a
		 * silent destination) is cancelled, which resumes it too. */
		m.qemu_migrating = ret != -EIO;
		qemu_run_state(&m.q, st2, sizeof(st2));
		snprintf(why, sizeof(why), "QEMU's device stream did not complete (%s); QEMU is %s",
			 ret == -EIO	     ? state
			 : ret == -ETIMEDOUT ? "timed out"
					     : m.q.error,
			 st2);
		return fail(&m, why);
	}
	m.qemu_migrating = 0;
	/*
	 * QEMU is stopped (postmigrate), but its last bytes may not have
	 * arrived: until the destination says its QEMU loaded them, a failure
	 * resumes the guest here (the destination runs only on GO).
	 */
	if (m.loaded_ack && wait_loaded(&m))
		return 1;
	/*
	 * Only now may the destination run. The guard stands down first:
	 * dying between the two leaves the guest stopped on both sides (said
	 * below), never running on both.
	 */
	qemu_guard_disarm(&m.guard);
	if (wire_send(m.sock, WIRE_GO, NULL, 0) || wire_recv(m.sock, &type, &payload, NULL)) {
		release(&m);
		fprintf(
		    stderr,
		    "kvmmig-ctl: migration of QEMU guest %s: the destination did not confirm it "
		    "runs the guest; the source QEMU stays STOPPED: check the destination, and "
		    "only if the guest does not run there, `cont` it here\n",
		    m.qmp_path);
		qmp_close(&m.q);
		free(payload);
		return 2;
	}
	if (type != WIRE_RUNNING) {
		char peer[400];

		/* The destination refused and never ran it: the guest goes on here. */
		snprintf(why, sizeof(why), "the destination did not start the guest: %s",
			 type == WIRE_ABORT ? peer_text(peer, sizeof(peer), payload)
					    : wire_type_name(type));
		free(payload);
		return fail(&m, why);
	}
	free(payload);
	downtime_ns = mono_ns() - pause_ns;
	t = mono_ns() - m.start_ns;
	release(&m);
	if (m.json)
		json_line(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "event", "done", "total_ns",
				    (json_int_t)t, "downtime_ns", (json_int_t)downtime_ns, "bytes",
				    (json_int_t)pre.bytes, "rounds", (json_int_t)(ps->rounds + 1),
				    "pages_repaired", (json_int_t)repaired));
	else
		printf("migrated QEMU guest %s in %.2f s: downtime %" PRIu64
		       " ms (final round %.0f ms, verify %.0f ms), %.1f MB in %u rounds, %" PRIu64
		       " pages repaired; the source QEMU is stopped (postmigrate): quit it\n",
		       m.qmp_path, t / 1e9, downtime_ns / 1000000, final_ns / 1e6, verify_ns / 1e6,
		       pre.bytes / 1e6, ps->rounds + 1, repaired);
	qmp_close(&m.q);
	return 0;
}
