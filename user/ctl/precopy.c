/* precopy.c: the rounds and the connection of precopy.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/clock.h"
#include "ctl/netio.h"
#include "ctl/precopy.h"
#include "ctl/secure.h"
#include "ctl/vmmclient.h"

static const char *module_why(const struct mig_session *s, int ret)
{
	return s->why[0] ? s->why : strerror(-ret);
}

/*
 * A dirty-ring VM: its VMM reaps every vCPU's ring and reports the pages to
 * the module (KVMMIG_ATTACH_DIRTY_RING), so that the round harvests them.
 */
static int reap_ring(struct precopy *p, char *why, size_t len)
{
	char *text;
	int ret;

	if (!p->ring_vmm)
		return 0;
	p->ring_reap_ns = mono_ns();
	ret = vmm_request(p->ring_vmm, "dirty-ring-reap", NULL, 0, &text, NULL);
	p->ring_reap_ns = mono_ns() - p->ring_reap_ns;
	if (ret) {
		snprintf(why, len, "the VMM could not reap its dirty ring: %s",
			 p->ring_vmm->error[0] ? p->ring_vmm->error : strerror(-ret));
		return -1;
	}
	if (sscanf(text, "pages %" SCNu64, &p->ring_pages) != 1)
		p->ring_pages = 0;
	/* "vcpuI N": vCPU I's pages so far; the difference is this reap's. */
	for (char *line = strchr(text, '\n'); line; line = strchr(line, '\n')) {
		unsigned int i;
		uint64_t total;

		line++;
		if (sscanf(line, "vcpu%u %" SCNu64, &i, &total) != 2 || i >= PRECOPY_MAX_VCPUS)
			continue;
		p->ring_vcpu_pages[i] = total - p->ring_vcpu_total[i];
		p->ring_vcpu_total[i] = total;
		if (i >= p->ring_vcpus)
			p->ring_vcpus = i + 1;
	}
	free(text);
	return 0;
}

int precopy_round(struct precopy *p, struct round_stats *st, struct policy_round *r,
		  enum policy_decision *d, char *why, size_t len)
{
	uint64_t t = mono_ns();
	int ret;

	if (reap_ring(p, why, len))
		return -1;
	ret = session_round(p->sess, p->ps.rounds ? 0 : KVMMIG_ROUND_FULL, st);
	if (ret) {
		snprintf(why, len, "round %u failed: %s", p->ps.rounds, module_why(p->sess, ret));
		return -1;
	}
	/* A dirty-ring VM's harvest is its VMM's reap, then the module's: both are the round's. */
	st->harvest_ns += p->ring_reap_ns;
	/* A round is over when the link has carried it, not when the socket took it. */
	if (drain_send_queue(p->sock, p->progress_ms)) {
		snprintf(why, len, "the link carried nothing for the progress timeout");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	r->pages_dirty = st->pages_dirty;
	r->bytes = st->bytes;
	r->wall_ns = mono_ns() - t;
	r->queued = send_queue_bytes(p->sock);
	/* The harvest comes first in a round: its pages were dirtied since the last one. */
	r->interval_ns = p->round_ns ? t - p->round_ns : 0;
	p->between_ns = r->interval_ns;
	p->round_ns = t;
	p->bytes += st->bytes;
	*d = policy_after_round(&p->ps, p->limits, r, p->page_size);
	return 0;
}

int precopy_final_round(struct precopy *p, struct round_stats *st, char *why, size_t len)
{
	uint64_t t = mono_ns();
	int ret;

	for (int tries = 0;; tries++) {
		if (reap_ring(p, why, len))
			return -1;
		ret = session_round(p->sess, KVMMIG_ROUND_FINAL, st);
		p->bytes += st->bytes;
		if (ret != -EAGAIN || tries == 2)
			break;
	}
	p->between_ns = t - p->round_ns;
	p->round_ns = t;
	if (ret) {
		snprintf(why, len, "the final round failed: %s", module_why(p->sess, ret));
		return -1;
	}
	/* Paused vCPUs dirty nothing: an entry now is a writer still running. */
	if (reap_ring(p, why, len))
		return -1;
	if (p->ring_pages) {
		snprintf(why, len,
			 "%" PRIu64 " pages were written after the final round (a vCPU still "
			 "running): the migration must not complete",
			 p->ring_pages);
		return -1;
	}
	return 0;
}

int dial_destination(const char *dest, uint64_t bandwidth, const struct migration_key *key,
		     char *why, size_t len)
{
	int sock = tcp_connect(dest);

	if (sock < 0) {
		snprintf(why, len, "no connection to the destination");
		return -1;
	}
	if (bandwidth &&
	    setsockopt(sock, SOL_SOCKET, SO_MAX_PACING_RATE, &bandwidth, sizeof(bandwidth))) {
		snprintf(why, len, "the kernel refused the bandwidth cap (SO_MAX_PACING_RATE)");
		close(sock);
		return -1;
	}
	if (secure_source(sock, key, why, len)) {
		close(sock);
		return -1;
	}
	return sock;
}
