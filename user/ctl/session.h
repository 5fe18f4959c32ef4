/*
 * session.h: the module's migration sessions, driven through a session fd
 * (include/uapi/linux/kvmmig.h, "migration sessions"). The authority is the
 * VM's /dev/kvmmig file, which the tool gets from the VMM's control socket
 * (vmm_kvmmig_fd()); nothing here uses netlink.
 */
#ifndef KVMMIG_CTL_SESSION_H
#define KVMMIG_CTL_SESSION_H

#include <stdint.h>

#include <linux/kvmmig.h>

struct round_stats {
	uint32_t round;
	uint64_t pages_dirty, pages_sent, pages_zero, bytes, harvest_ns, send_ns;
};

struct mig_session {
	int fd; /* the session fd, -1 when none */
	/*
	 * Why the last call failed, in the module's words (the result's
	 * @why); "" when it gave none (a request the ioctl itself refused).
	 */
	char why[KVMMIG_WHY_MAX];
};

/*
 * Opens a session on @vm_fd (the VM's /dev/kvmmig file) over the connected
 * socket @sock, %KVMMIG_SESSION_SOURCE or %KVMMIG_SESSION_DEST in @flags,
 * @progress_timeout_ms 0 for the module's default; closes @vm_fd whatever
 * happens (the tool keeps no copy of the VMM's authority), then waits for
 * the session's setup. Returns 0 or -errno; s->why says why. A session fd
 * that was opened stays in s->fd even when its setup failed (the socket
 * may hold the peer's ABORT reason, to be read before session_close()).
 */
int session_open(struct mig_session *s, int vm_fd, int sock, uint32_t flags,
		 uint32_t progress_timeout_ms);

/* A source round (&enum kvmmig_round_flags); @st gets its numbers. 0 or -errno. */
int session_round(struct mig_session *s, uint32_t flags, struct round_stats *st);

/* A destination's whole stream; @st gets its totals. 0 or -errno. */
int session_receive(struct mig_session *s, struct round_stats *st);

/* Ends the session (a request still running is aborted). Idempotent. */
void session_close(struct mig_session *s);

/* KVMMIG_CANCEL on @vm_fd: aborts whatever session the VM has. 0 or -errno. */
int session_cancel(int vm_fd);

/*
 * --progress-timeout SEC: whole seconds, at least 1, into *@ms. Prints a
 * one-line reason and returns -1 when @arg is not one.
 */
int parse_progress_timeout(const char *arg, uint32_t *ms);

#endif /* KVMMIG_CTL_SESSION_H */
