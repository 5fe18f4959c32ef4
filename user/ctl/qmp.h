/*
 * qmp.h: a small, strict client of QEMU's machine protocol (QMP) on a Unix
 * socket. QEMU sends one JSON object per line: a greeting, then replies
 * ({"return": ...} or {"error": {"class", "desc"}}, carrying our "id") and
 * asynchronous events ({"event": NAME, "data": ..., "timestamp": ...}) at
 * any time. Everything QEMU sends is checked: a line longer than
 * QMP_MAX_LINE, text that is not one JSON object (RFC 8259, UTF-8, no
 * duplicate keys), a reply to another id, or a greeting of the wrong shape
 * ends the connection with a one-line reason; hostile input never crashes
 * it (tests/fuzz/qmp_fuzz.c). Events that arrive while waiting for a reply
 * are kept (up to QMP_MAX_EVENTS) for qmp_wait_event().
 */
#ifndef KVMMIG_CTL_QMP_H
#define KVMMIG_CTL_QMP_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* QEMU's largest answers (query-qmp-schema) are ~200 KB: far below this. */
#define QMP_MAX_LINE	       (4u << 20)
#define QMP_MAX_EVENTS	       64
#define QMP_DEFAULT_TIMEOUT_MS 10000

struct qmp {
	int fd;
	pid_t pid;		 /* QEMU's (SO_PEERCRED), 0 when unknown */
	int major, minor, micro; /* QEMU's version, from the greeting */
	unsigned int timeout_ms; /* deadline of each command */
	unsigned long next_id;
	char *buf; /* received, not yet parsed */
	size_t len, cap;
	json_t *events[QMP_MAX_EVENTS]; /* oldest first */
	unsigned int nevents;
	unsigned long events_dropped;
	char error[512]; /* why the last call failed: one line */
};

/*
 * Connects to the QMP socket at @path, reads the greeting and leaves
 * capabilities negotiation (qmp_capabilities), each within @timeout_ms (0:
 * QMP_DEFAULT_TIMEOUT_MS). Returns 0, or -errno with q->error set (and
 * nothing to close).
 */
int qmp_open(struct qmp *q, const char *path, unsigned int timeout_ms);

/* The same on a connected socket @fd, which @q owns from then on (closed on failure). */
int qmp_open_fd(struct qmp *q, int fd, unsigned int timeout_ms);

void qmp_close(struct qmp *q);

/*
 * Runs @command with @args (a JSON object, or NULL; its reference is taken)
 * and waits up to q->timeout_ms for its reply. On success returns 0 and,
 * if @ret is not NULL, a new reference to the "return" value in *@ret. A
 * QEMU error returns -EREMOTEIO with q->error "QEMU refused COMMAND:
 * CLASS: DESC"; no answer in time -ETIMEDOUT; anything malformed -EPROTO.
 * After any error but -EREMOTEIO the connection is out of step: close it.
 */
int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret);

/* QMP getfd: hands QEMU a copy of @fd (SCM_RIGHTS) under @name. As qmp_execute(). */
int qmp_getfd(struct qmp *q, int fd, const char *name);

/*
 * Waits up to @timeout_ms for event @name (one kept earlier counts, and is
 * taken from the queue; older events before it are dropped). Returns 0 with
 * a new reference to its "data" (or an empty object) in *@data if @data is
 * not NULL, or -ETIMEDOUT / -errno with q->error set.
 */
int qmp_wait_event(struct qmp *q, const char *name, unsigned int timeout_ms, json_t **data);

#endif /* KVMMIG_CTL_QMP_H */
