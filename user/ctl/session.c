/*
 * session.c: the module's migration sessions, driven through a session fd:
 * each request is an ioctl that only starts the work, and its end is one
 * struct kvmmig_result read from the session fd.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ctl/session.h"

static void take_stats(struct round_stats *st, const struct kvmmig_round_stats *k)
{
	if (!st)
		return;
	st->round = k->round;
	st->pages_dirty = k->pages_dirty;
	st->pages_sent = k->pages_sent;
	st->pages_zero = k->pages_zero;
	st->bytes = k->bytes;
	st->harvest_ns = k->harvest_ns;
	st->send_ns = k->send_ns;
}

/*
 * Waits for the running request's result (poll, then read: a signal
 * neither loses nor repeats it) and returns its error; s->why gets its
 * reason.
 */
static int wait_result(struct mig_session *s, uint32_t request, struct round_stats *st)
{
	struct kvmmig_result res;
	ssize_t n;

	if (st)
		memset(st, 0, sizeof(*st));
	for (;;) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = read(s->fd, &res, sizeof(res));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		break;
	}
	if (n != sizeof(res) || res.request != request) {
		snprintf(s->why, sizeof(s->why),
			 "the module answered request %u with a result of %zd bytes for request %u",
			 request, n, n == sizeof(res) ? res.request : 0);
		return -EPROTO;
	}
	res.why[sizeof(res.why) - 1] = '\0';
	snprintf(s->why, sizeof(s->why), "%s", res.why);
	take_stats(st, &res.stats);
	if (res.error > 0 || res.error < -4095) {
		snprintf(s->why, sizeof(s->why), "the module's result has no errno (%d)",
			 res.error);
		return -EPROTO;
	}
	return res.error;
}

int session_open(struct mig_session *s, int vm_fd, int sock, uint32_t flags,
		 uint32_t progress_timeout_ms)
{
	struct kvmmig_session_open arg = {
	    .sock_fd = sock,
	    .flags = flags,
	    .progress_timeout_ms = progress_timeout_ms,
	};
	int fd, err;

	s->why[0] = '\0';
	s->fd = -1;
	fd = ioctl(vm_fd, KVMMIG_SESSION_OPEN, &arg);
	err = errno;
	close(vm_fd);
	if (fd < 0)
		return -err;
	s->fd = fd;
	return wait_result(s, KVMMIG_REQ_SETUP, NULL);
}

int session_round(struct mig_session *s, uint32_t flags, struct round_stats *st)
{
	s->why[0] = '\0';
	if (s->fd < 0)
		return -EBADF;
	if (ioctl(s->fd, KVMMIG_ROUND, &flags) < 0)
		return -errno;
	return wait_result(s, KVMMIG_REQ_ROUND, st);
}

int session_receive(struct mig_session *s, struct round_stats *st)
{
	s->why[0] = '\0';
	if (s->fd < 0)
		return -EBADF;
	if (ioctl(s->fd, KVMMIG_RECEIVE) < 0)
		return -errno;
	return wait_result(s, KVMMIG_REQ_RECEIVE, st);
}

void session_close(struct mig_session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int session_cancel(int vm_fd)
{
	return ioctl(vm_fd, KVMMIG_CANCEL) < 0 ? -errno : 0;
}

int parse_progress_timeout(const char *arg, uint32_t *ms)
{
	unsigned long sec;
	char *end;

	errno = 0;
	sec = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || sec < 1 || sec > UINT32_MAX / 1000) {
		fprintf(stderr,
			"kvmmig-ctl: --progress-timeout takes whole seconds, 1 to %u (default "
			"%u): '%s'\n",
			UINT32_MAX / 1000, KVMMIG_PROGRESS_TIMEOUT_MS / 1000, arg);
		return -1;
	}
	*ms = sec * 1000;
	return 0;
}
