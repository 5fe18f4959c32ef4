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
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/clock.h"
#include "ctl/commands.h"
#include "ctl/downtime.h"
#include "ctl/jsonout.h"
#include "ctl/netio.h"
#include "ctl/options.h"
#include "ctl/peertext.h"
#include "ctl/policy.h"
#include "ctl/precopy.h"
#include "ctl/secure.h"
#include "ctl/session.h"
#include "ctl/shape.h"
#include "ctl/sshdest.h"
#include "ctl/vmmclient.h"
#include "ctl/wire.h"

struct migration {
	const char *name;
	struct vmm_conn vmm;
	/*
	 * The vCPU throttle of --converge auto, on a control connection of its
	 * own that stays open while the throttle is in force: the VMM lifts it
	 * when the connection closes, so a tool that dies leaves no throttle.
	 */
	struct vmm_conn throttle;
	unsigned int throttle_pct, throttle_max;
	/* The vCPUs throttled (bit i: vCPU i); 0: all of them (a bitmap VM). */
	uint64_t throttle_vcpus;
	/*
	 * A dirty-ring VM's throttle: each vCPU of throttle_vcpus may dirty
	 * this many pages a second (the VMM's dirty-limit), 0 for none.
	 */
	uint64_t dirty_limit;
	struct mig_session sess; /* the module's source session, fd -1 when none */
	int sock;
	int awaiting_stream; /* accepted, and no module session started yet: the destination reads records */
	int logging;   /* we asked the VMM to switch dirty logging on */
	int we_paused; /* we paused the guest: resume it on failure */
	int json;
	struct ssh_dest ssh; /* the destination started over SSH, if any */
	uint64_t start_ns;
	uint64_t guest_pages; /* for the percent column */
	uint64_t page_size;
};

/*
 * Lifts the throttle (and hangs up, which would lift it too). Idempotent.
 * Before a resume and after the pause: the guest never runs throttled
 * once its migration is over.
 */
static void lift_throttle(struct migration *m)
{
	const char *lift = m->dirty_limit ? "dirty-limit 0" : "throttle 0";

	if (m->throttle.fd < 0)
		return;
	if (m->throttle_pct && vmm_request_held(&m->throttle, lift))
		fprintf(stderr,
			"kvmmig-ctl: the VMM did not answer '%s' (%s): hanging up "
			"lifts the throttle\n",
			lift, m->throttle.error[0] ? m->throttle.error : "no answer");
	vmm_close(&m->throttle);
	m->throttle_pct = 0;
	m->dirty_limit = 0;
}

/*
 * A dirty-ring VM: the vCPUs to limit (policy_vcpus_to_limit), from each
 * one's rate (its ring's pages over the last interval) and its share of the
 * link, the link's rate over the vCPUs. 0 (the whole guest throttled) when
 * the rates are not known.
 */
static uint64_t vcpus_to_throttle(const struct migration *m, const struct precopy *p,
				  const struct policy_state *ps, uint64_t interval_ns)
{
	uint64_t rates[PRECOPY_MAX_VCPUS];

	_Static_assert(PRECOPY_MAX_VCPUS <= 64, "a vCPU mask is 64 bits");
	if (!p->ring_vmm || !interval_ns || !p->ring_vcpus)
		return 0;
	for (unsigned int i = 0; i < p->ring_vcpus; i++)
		rates[i] = p->ring_vcpu_pages[i] * 1000000000ull / interval_ns;
	return policy_vcpus_to_limit(rates, p->ring_vcpus, ps->bandwidth / m->page_size / p->ring_vcpus,
				     m->throttle_vcpus);
}

/*
 * A dirty-ring VM's throttle of @pct percent, as a dirty limit: each vCPU
 * over its share of the link may dirty (100 - pct)% of that share.
 */
static uint64_t dirty_limit_of(const struct migration *m, const struct precopy *p,
			       const struct policy_state *ps, unsigned int pct)
{
	uint64_t share = ps->bandwidth / m->page_size / p->ring_vcpus, limit;

	limit = share * (100 - pct) / 100;
	return limit ? limit : 1;
}

/*
 * Throttles the guest's vCPUs to @pct percent: those of m->throttle_vcpus
 * of a dirty-ring VM with a dirty limit (the VMM's dirty-limit: only the
 * pages they dirty slow them), a bitmap VM's all with the VMM's throttle
 * (they sleep that share of the time). A VMM that cannot (one that
 * predates the command) is migrated without: the policy is told so.
 */
static void set_throttle(struct migration *m, const struct precopy *p, struct policy_state *ps,
			 struct policy_limits *l)
{
	unsigned int pct = ps->throttle_pct;
	uint64_t limit = 0;
	char line[64];
	int ret;

	if (m->throttle_vcpus) {
		limit = dirty_limit_of(m, p, ps, pct);
		snprintf(line, sizeof(line), "dirty-limit %llu 0x%llx", (unsigned long long)limit,
			 (unsigned long long)m->throttle_vcpus);
	} else {
		snprintf(line, sizeof(line), "throttle %u", pct);
	}
	ret = vmm_request_held(&m->throttle, line);
	if (!ret) {
		m->throttle_pct = pct;
		m->dirty_limit = limit;
		if (pct > m->throttle_max)
			m->throttle_max = pct;
		return;
	}
	fprintf(stderr,
		"kvmmig-ctl: the VMM cannot throttle %s (%s): going on without "
		"--converge\n",
		m->name, m->throttle.error[0] ? m->throttle.error : strerror(-ret));
	lift_throttle(m);
	l->converge = 0;
	ps->throttle_pct = 0;
}

/* Ends a failed migration with the guest running at the source (or as it was). */
static int fail(struct migration *m, const char *what)
{
	const char *where = "running on the source";
	char clean[1024];
	int had_session = m->sess.fd >= 0;

	/* The module lets go of the socket first: closing the session fd aborts it (socket shut down). */
	session_close(&m->sess);
	lift_throttle(m);
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
	if (vmm_gone(&m->vmm)) {
		/* The guest died with its VMM (the module aborts the session then). */
		where = "NOT running: its VMM on the source exited (its log says why)";
	} else {
		/* Not needed for correctness (a logged slot costs little), but as it was. */
		if (m->logging)
			vmm_simple(&m->vmm, "dirty-log off");
		if (m->we_paused && vmm_simple(&m->vmm, "resume"))
			where = "PAUSED on the source (resume failed: run `kvmmig-ctl resume`)";
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

/*
 * A dirty-ring VM's per-vCPU dirty rates (pages/s): the distinct pages each
 * vCPU's ring held between the last two reaps, over their interval. NULL
 * for a bitmap VM, or before the first interval.
 */
static json_t *vcpu_dirty_rates(const struct precopy *p, uint64_t interval_ns)
{
	json_t *rates;

	if (!p->ring_vmm || !interval_ns)
		return NULL;
	rates = json_array();
	for (unsigned int i = 0; rates && i < p->ring_vcpus; i++)
		json_array_append_new(rates, json_integer((json_int_t)(p->ring_vcpu_pages[i] * 1e9 /
								       interval_ns)));
	return rates;
}

/*
 * The throttle of a round's line: in force while it ran; after a THROTTLE
 * decision, m->throttle_vcpus is the set it is about to apply to.
 */
static void show_pre_copy_round(const struct migration *m, const struct precopy *p,
				const struct round_stats *st, const struct policy_round *r,
				const struct policy_state *ps, unsigned int throttle,
				enum policy_decision d)
{
	uint64_t downtime = ps->expected_downtime_ns == UINT64_MAX ? 0 : ps->expected_downtime_ns;
	json_t *rates = vcpu_dirty_rates(p, r->interval_ns);

	if (m->json) {
		json_line(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
				    "s:b, s:I, s:I, s:I, s:s, s:o*, s:I, s:I}",
				    "event", "round", "round", (json_int_t)st->round,
				    "pages_dirty", (json_int_t)st->pages_dirty,
				    "pages_sent", (json_int_t)st->pages_sent,
				    "pages_zero", (json_int_t)st->pages_zero,
				    "bytes", (json_int_t)st->bytes, "wall_ns", (json_int_t)r->wall_ns,
				    "interval_ns", (json_int_t)r->interval_ns,
				    "harvest_ns", (json_int_t)st->harvest_ns,
				    "queued", (json_int_t)r->queued,
				    "bandwidth", (json_int_t)ps->bandwidth,
				    "dirty_rate", (json_int_t)ps->dirty_rate,
				    "dirty_rate_floor", ps->dirty_rate_floor,
				    "working_set", (json_int_t)ps->working_set,
				    "throttle_pct", (json_int_t)throttle,
				    "expected_downtime_ns", (json_int_t)downtime,
				    "decision", policy_decision_name(d),
				    "vcpu_dirty_pages_per_s", rates,
				    "throttle_vcpus", (json_int_t)m->throttle_vcpus,
				    "dirty_limit_pages_per_s", (json_int_t)m->dirty_limit));
		fflush(stdout);
		return;
	}
	/* The link's rate: what it carried, not what the socket's buffer took. */
	printf("round %2u: %8" PRIu64 " dirty %8" PRIu64 " sent %8" PRIu64
	       " zero (%5.1f%% of memory)  %7.1f MB, link %6.1f MB/s",
	       st->round, st->pages_dirty, st->pages_sent, st->pages_zero,
	       m->guest_pages ? 100.0 * (st->pages_sent + st->pages_zero) / m->guest_pages : 0,
	       st->bytes / 1e6, ps->round_bandwidth / 1e6);
	if (r->queued >= 1000000)
		printf(" (%.1f MB queued)", r->queued / 1e6);
	/* Round 0 sends everything: the first dirty rate comes with round 1's harvest. */
	if (r->interval_ns)
		printf("  dirtied %s%.1f MB/s in %.2f s", ps->dirty_rate_floor ? ">=" : "",
		       ps->dirty_rate / 1e6, r->interval_ns / 1e9);
	if (rates) {
		size_t i;
		json_t *v;

		printf("  vCPU pages/s");
		json_array_foreach(rates, i, v)
			printf(" %" JSON_INTEGER_FORMAT, json_integer_value(v));
		json_decref(rates);
	}
	if (ps->working_set)
		printf("  working set %.1f MiB", ps->working_set / (1024.0 * 1024.0));
	if (throttle && m->dirty_limit)
		printf("  dirty limit %" PRIu64 " pages/s", m->dirty_limit);
	else if (throttle)
		printf("  throttle %u%%", throttle);
	if (ps->expected_downtime_ns != UINT64_MAX)
		printf("  expected downtime %" PRIu64 " ms", downtime / 1000000);
	if (d == POLICY_THROTTLE && m->throttle_vcpus)
		printf("  -> limit vCPUs 0x%llx to %" PRIu64 " dirty pages/s (throttle step %u%%)\n",
		       (unsigned long long)m->throttle_vcpus, dirty_limit_of(m, p, ps, ps->throttle_pct),
		       ps->throttle_pct);
	else if (d == POLICY_THROTTLE)
		printf("  -> throttle the guest to %u%%\n", ps->throttle_pct);
	else
		printf("  -> %s\n", policy_decision_name(d));
	fflush(stdout);
}

/*
 * The final round, the guest paused: what it measured (the pages dirtied
 * since the last harvest and how long they took), next to what the last
 * pre-copy round expected. No verdict: it was the verdict.
 */
static void show_final_round(const struct migration *m, const struct round_stats *st, uint64_t wall,
			     uint64_t interval, const struct policy_state *ps,
			     unsigned int throttle)
{
	uint64_t rate = interval ? (uint64_t)(st->pages_dirty * m->page_size * 1e9 / interval) : 0;

	if (m->json) {
		json_line(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
				    "s:I}",
				    "event", "round", "final", 1, "round", (json_int_t)st->round,
				    "pages_dirty", (json_int_t)st->pages_dirty,
				    "pages_sent", (json_int_t)st->pages_sent,
				    "pages_zero", (json_int_t)st->pages_zero,
				    "bytes", (json_int_t)st->bytes, "wall_ns", (json_int_t)wall,
				    "interval_ns", (json_int_t)interval,
				    "harvest_ns", (json_int_t)st->harvest_ns,
				    "dirty_rate", (json_int_t)rate,
				    "throttle_pct", (json_int_t)throttle,
				    "expected_downtime_ns", (json_int_t)ps->expected_downtime_ns));
		fflush(stdout);
		return;
	}
	printf("final round %u (guest paused): %8" PRIu64 " dirty %8" PRIu64 " sent %8" PRIu64
	       " zero  %7.1f MB in %" PRIu64 " ms (expected %" PRIu64 " ms)"
	       "  dirtied %.1f MB/s in the last %.2f s",
	       st->round, st->pages_dirty, st->pages_sent, st->pages_zero, st->bytes / 1e6,
	       wall / 1000000, ps->expected_downtime_ns / 1000000, rate / 1e6, interval / 1e9);
	if (throttle)
		printf("  throttle %u%%", throttle);
	printf("\n");
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvmmig-ctl migrate NAME HOST[:PORT] [--max-downtime MS] [--max-rounds "
		"N] [--timeout SEC]\n"
		"       [--bandwidth MB/s] [--progress-timeout SEC] [--converge auto|off] "
		"[--max-throttle PCT]\n"
		"       [--verify] [--json]\n"
		"       [--key FILE | --insecure]\n"
		"       kvmmig-ctl migrate NAME ssh://[USER@]HOST[:PORT] [--ssh CMD] "
		"[--remote-ctl PATH] [options]\n"
		"  the default port is " KVMMIG_DEFAULT_PORT
		"; the destination runs `kvmmig-ctl incoming NAME`\n"
		"  both sides prove they hold the same key (default " KVMMIG_DEFAULT_KEY ")\n"
		"  and the stream runs over kernel TLS; --insecure (both sides) is plain TCP\n"
		"  ssh:// starts the destination's `kvmmig-ctl incoming` over SSH with a fresh "
		"key\n"
		"  --progress-timeout: the module ends the migration when no byte moves for SEC\n"
		"  seconds (default %u)\n"
		"  --converge auto (default): when the expected downtime stops falling, the\n"
		"  guest's vCPUs are throttled, 20%% then 10%% more a round up to 99%%, until\n"
		"  it fits; off: give up instead\n"
		"  --max-throttle: the throttle's last step (1-99, default 99), as QEMU's\n"
		"  max-cpu-throttle\n",
		KVMMIG_PROGRESS_TIMEOUT_MS / 1000);
}

int migrate_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    SOURCE_OPTIONS,
	    {"timeout", required_argument, NULL, 't'},
	    {"verify", no_argument, NULL, 'v'},
	    {"converge", required_argument, NULL, 'c'},
	    {"max-throttle", required_argument, NULL, 'T'},
	    {"ssh", required_argument, NULL, 's'},
	    {"remote-ctl", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct migration m = {.sock = -1, .sess = {.fd = -1}, .throttle = {.fd = -1}};
	struct policy_limits limits;
	struct precopy pre = {.sess = &m.sess, .sock = -1, .limits = &limits};
	struct policy_state *ps = &pre.ps;
	struct vmm_status vst;
	struct round_stats st;
	struct migration_key keybuf;
	const struct migration_key *key;
	struct shared_opts o;
	const char *dest, *ssh = "ssh", *remote_ctl = "kvmmig-ctl";
	enum policy_decision d;
	uint64_t timeout_ns = 0, pause_ns, t;
	struct downtime dt;
	char hello[32768], *payload = NULL, *p, why[1024], peer[400];
	size_t blob_len;
	enum wire_type type;
	int c, ret, verify = 0, vm_fd;
	unsigned int throttle;
	unsigned int peer_state_version, digest_version = 1;

	if (has_qemu_option(argc, argv))
		return qemu_migrate_main(argc, argv);
	shared_opts_init(&o, &limits);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		ret = shared_option(&o, c, optarg);
		if (ret < 0)
			return 1;
		if (ret)
			continue;
		switch (c) {
		case 't':
			timeout_ns = strtoull(optarg, NULL, 0) * 1000000000ull;
			break;
		case 'v':
			verify = 1;
			break;
		case 'c':
			if (strcmp(optarg, "auto") && strcmp(optarg, "off")) {
				fprintf(stderr,
					"kvmmig-ctl: --converge auto or --converge off, not "
					"'%s'\n",
					optarg);
				return 1;
			}
			limits.converge = !strcmp(optarg, "auto");
			break;
		case 'T': {
			char *end;
			unsigned long pct = strtoul(optarg, &end, 10);

			if (*end || !*optarg || pct < 1 || pct > POLICY_THROTTLE_MAX) {
				fprintf(stderr,
					"kvmmig-ctl: --max-throttle takes a percent from 1 to %d, "
					"not '%s'\n",
					POLICY_THROTTLE_MAX, optarg);
				return 1;
			}
			limits.max_throttle = pct;
			break;
		}
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
	m.json = o.json;
	m.name = argv[optind];
	dest = argv[optind + 1];
	if (is_ssh_url(dest)) {
		/* A fresh key per migration, agreed over SSH. */
		if (o.insecure || key_random(&keybuf)) {
			fprintf(stderr, "kvmmig-ctl: %s\n",
				o.insecure ? "ssh:// always authenticates: drop --insecure"
					 : "the kernel gave no random bytes for the key");
			return 1;
		}
		key = &keybuf;
	} else if (secure_key_option(o.keypath, o.insecure, &keybuf, &key)) {
		return 1;
	}

	if (vmm_connect(&m.vmm, m.name))
		return 1;
	m.throttle = m.vmm; /* the same socket; a connection of its own once it throttles */
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
	m.page_size = sysconf(_SC_PAGESIZE);
	m.guest_pages = vst.mem / m.page_size;

	if (is_ssh_url(dest)) {
		m.ssh.json = m.json;
		if (ssh_dest_start(&m.ssh, dest, m.name, ssh, remote_ctl, o.progress_ms, key, why,
				   sizeof(why)))
			return fail(&m, why);
		dest = m.ssh.data;
	}
	m.sock = dial_destination(dest, o.bandwidth, key, why, sizeof(why));
	if (m.sock < 0)
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
	/* The memory digest both VMMs compute (version 2 skips what the guest never wrote). */
	p = payload ? strstr(payload, "\ndigest-version ") : NULL;
	if (!p || sscanf(p + 1, "digest-version %u", &digest_version) != 1)
		digest_version = 1;
	digest_version = digest_version >= 2 && vst.digest_version >= 2 ? 2 : 1;
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
	ret = session_open(&m.sess, vm_fd, m.sock, KVMMIG_SESSION_SOURCE, o.progress_ms);
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
	m.start_ns = mono_ns();

	pre.sock = m.sock;
	pre.ring_vmm = vst.dirty_ring ? &m.vmm : NULL;
	pre.progress_ms = o.progress_ms;
	pre.page_size = m.page_size;
	for (;;) {
		struct policy_round r;

		if (precopy_round(&pre, &st, &r, &d, why, sizeof(why)))
			return fail(&m, why);
		if (d == POLICY_THROTTLE)
			m.throttle_vcpus = vcpus_to_throttle(&m, &pre, ps, r.interval_ns);
		show_pre_copy_round(&m, &pre, &st, &r, ps, m.throttle_pct, d);
		if (d == POLICY_STOP_AND_COPY)
			break;
		if (d == POLICY_THROTTLE)
			set_throttle(&m, &pre, ps, &limits);
		if (d == POLICY_GIVE_UP_STALLED || d == POLICY_GIVE_UP_ROUNDS) {
			policy_explain(ps, &limits, d, why, sizeof(why));
			return fail(&m, why);
		}
		if (timeout_ns && mono_ns() - m.start_ns > timeout_ns)
			return fail(&m, "timed out before converging (--timeout)");
	}

	/* Stop and copy. */
	pause_ns = mono_ns();
	downtime_start(&dt, pause_ns);
	if (strcmp(vst.state, "paused")) {
		ret = vmm_simple(&m.vmm, "pause");
		if (ret)
			return fail(&m, "the VMM did not pause the guest");
		m.we_paused = 1;
	}
	downtime_mark(&dt, DT_PAUSE, mono_ns());
	/*
	 * Paused: the throttle has done its work, and it is lifted once the
	 * destination runs (out of the downtime), or by fail() before the
	 * guest runs on here. What the final round shows was under it.
	 */
	throttle = m.throttle_pct;
	if (precopy_final_round(&pre, &st, why, sizeof(why)))
		return fail(&m, why);
	downtime_mark(&dt, DT_FINAL_ROUND, mono_ns());
	show_final_round(&m, &st, mono_ns() - pause_ns, pre.between_ns, ps, throttle);
	session_close(&m.sess);

	if (verify) {
		/* The memory as it is now, paused: the destination must match it. */
		ret = vmm_request(&m.vmm, digest_version == 2 ? "digest 2" : "digest", NULL, 0,
				  &payload, NULL);
		if (ret)
			return fail(&m, "the VMM could not digest guest memory (--verify)");
		snprintf(why, sizeof(why), "%s%s", digest_version == 2 ? "2 " : "", payload);
		ret = wire_send_text(m.sock, WIRE_DIGEST, why);
		free(payload);
		if (ret)
			return fail(&m, "the connection broke off sending the digest");
		downtime_mark(&dt, DT_VERIFY, mono_ns());
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
	downtime_mark(&dt, DT_SAVE, mono_ns());
	/*
	 * The final round's pages left the queue while the state was saved;
	 * what is still queued is the final round's too, so it counts there
	 * (the state would wait behind it anyway).
	 */
	if (drain_send_queue(m.sock, o.progress_ms)) {
		free(payload);
		return fail(&m, "the link carried nothing of the final round for the progress timeout");
	}
	downtime_mark(&dt, DT_FINAL_ROUND, mono_ns());
	ret = wire_send(m.sock, WIRE_STATE, payload, blob_len);
	pre.bytes += blob_len;
	free(payload);
	if (ret || wire_recv(m.sock, &type, &payload, NULL))
		return fail(&m, "the connection broke off during the state transfer");
	downtime_mark_reply(&dt, type == WIRE_RESTORED ? payload : NULL, mono_ns());
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
		lift_throttle(&m);		     /* should the guest be resumed here */
		fprintf(stderr,
			"kvmmig-ctl: migration of %s: the destination did not confirm it runs the "
			"guest; the source stays PAUSED: check the destination, and only if the "
			"guest does not run there, `kvmmig-ctl resume %s` here\n",
			m.name, m.name);
		free(payload);
		return 2;
	}
	downtime_mark_reply(&dt, payload, mono_ns());
	free(payload);
	lift_throttle(&m);
	vmm_simple(&m.vmm, "quit");
	close(m.sock);
	if (m.ssh.pid)
		ssh_dest_finish(&m.ssh, 15);

	t = mono_ns() - m.start_ns;
	if (m.json) {
		json_line(json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:I}", "event", "done",
				    "total_ns", (json_int_t)t, "downtime_ns",
				    (json_int_t)downtime_total(&dt), "downtime_phases_ns",
				    downtime_json(&dt), "pause_at_ns", (json_int_t)pause_ns, "bytes",
				    (json_int_t)pre.bytes, "rounds", (json_int_t)(ps->rounds + 1),
				    "throttle_max_pct", (json_int_t)m.throttle_max));
	} else {
		printf("migrated %s in %.2f s: downtime %.1f ms", m.name, t / 1e9,
		       downtime_total(&dt) / 1e6);
		downtime_print(stdout, &dt);
		printf(", %.1f MB in %u rounds", pre.bytes / 1e6, ps->rounds + 1);
		if (m.throttle_max)
			printf(", vCPUs throttled up to %u%%", m.throttle_max);
		printf("%s\n", verify ? ", memory verified" : "");
	}
	vmm_close(&m.vmm);
	return 0;
}
