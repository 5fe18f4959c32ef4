/* qmp.c: the QMP client (see qmp.h). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/peertext.h"
#include "ctl/clock.h"
#include "ctl/qmp.h"

enum qmp_kind { QMP_GREETING, QMP_REPLY, QMP_EVENT };

static int failed(struct qmp *q, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
	return err;
}

static long long now_ms(void)
{
	return (long long)mono_ms();
}

/* Reads more bytes into q->buf, waiting until @deadline (ms, monotonic). */
static int fill(struct qmp *q, long long deadline, const char *waiting_for)
{
	struct pollfd p = {.fd = q->fd, .events = POLLIN};
	long long left;
	ssize_t n;
	int ready;

	do {
		left = deadline - now_ms();
		ready = left > 0 ? poll(&p, 1, left) : 0;
	} while (ready < 0 && errno == EINTR);
	if (ready < 0)
		return failed(q, -errno, "waiting for QMP: %s", strerror(errno));
	if (!ready)
		return failed(q, -ETIMEDOUT, "QEMU did not answer %s within %u ms", waiting_for,
			      q->timeout_ms);
	if (q->cap - q->len < 65536) {
		size_t cap = q->cap ? q->cap * 2 : 65536;
		char *buf;

		if (cap > QMP_MAX_LINE + 65536)
			cap = QMP_MAX_LINE + 65536;
		buf = realloc(q->buf, cap);
		if (!buf)
			return failed(q, -ENOMEM, "out of memory reading QMP");
		q->buf = buf;
		q->cap = cap;
	}
	do
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return failed(q, -errno, "reading QMP: %s", strerror(errno));
	if (n == 0)
		return failed(q, -ECONNRESET, "QEMU closed the QMP connection (waiting for %s)",
			      waiting_for);
	q->len += n;
	return 0;
}

/*
 * The next message, parsed and classified: a JSON object of exactly one
 * of the shapes QMP has. Returns 0 with *@msg (a new reference).
 */
static int next_message(struct qmp *q, long long deadline, const char *waiting_for, json_t **msg,
			enum qmp_kind *kind)
{
	json_error_t jerr;
	char *nl;
	size_t line;
	json_t *m;
	int ret;

	while (!q->len || !(nl = memchr(q->buf, '\n', q->len))) {
		if (q->len > QMP_MAX_LINE)
			return failed(q, -EPROTO, "QEMU sent a QMP line longer than %u bytes",
				      QMP_MAX_LINE);
		ret = fill(q, deadline, waiting_for);
		if (ret)
			return ret;
	}
	line = nl - q->buf;
	if (line > QMP_MAX_LINE)
		return failed(q, -EPROTO, "QEMU sent a QMP line longer than %u bytes",
			      QMP_MAX_LINE);
	m = json_loadb(q->buf, line, JSON_REJECT_DUPLICATES, &jerr);
	q->len -= line + 1;
	memmove(q->buf, nl + 1, q->len);
	if (!m) {
		char text[160];

		return failed(q, -EPROTO, "QEMU sent a QMP line that is not JSON: %s",
			      peer_text(text, sizeof(text), jerr.text));
	}
	if (!json_is_object(m)) {
		json_decref(m);
		return failed(q, -EPROTO, "QEMU sent a QMP message that is not an object");
	}
	if (json_object_get(m, "QMP") && json_object_size(m) == 1)
		*kind = QMP_GREETING;
	else if (json_is_string(json_object_get(m, "event")))
		*kind = QMP_EVENT;
	else if (json_object_get(m, "return") || json_object_get(m, "error"))
		*kind = QMP_REPLY;
	else {
		json_decref(m);
		return failed(q, -EPROTO, "QEMU sent a QMP message of no known kind");
	}
	*msg = m;
	return 0;
}

static void keep_event(struct qmp *q, json_t *ev)
{
	if (q->nevents == QMP_MAX_EVENTS) {
		/* Nobody waits for the oldest: keep the newest. */
		json_decref(q->events[0]);
		memmove(q->events, q->events + 1, sizeof(q->events[0]) * (QMP_MAX_EVENTS - 1));
		q->nevents--;
		q->events_dropped++;
	}
	q->events[q->nevents++] = ev;
}

static int send_all(struct qmp *q, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(q->fd, text, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return failed(q, -errno, "writing to QMP: %s", strerror(errno));
		text += n;
		len -= n;
	}
	return 0;
}

/* {"class": "...", "desc": "..."} as one printable line. */
static int remote_error(struct qmp *q, const char *command, json_t *err)
{
	const char *class, *desc;
	char c[64], d[400];

	if (json_unpack(err, "{s:s, s:s}", "class", &class, "desc", &desc))
		return failed(q, -EPROTO, "QEMU answered %s with a malformed error", command);
	return failed(q, -EREMOTEIO, "QEMU refused %s: %s: %s", command,
		      peer_text(c, sizeof(c), class), peer_text(d, sizeof(d), desc));
}

/* The first byte of @text with @fd attached (SCM_RIGHTS), then the rest. */
static int send_with_fd(struct qmp *q, const char *text, size_t len, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)text, .iov_len = 1};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = control,
	    .msg_controllen = sizeof(control),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(q->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return failed(q, n < 0 ? -errno : -EIO, "passing a file to QEMU: %s",
			      n < 0 ? strerror(errno) : "short write");
	return send_all(q, text + 1, len - 1);
}

static int execute(struct qmp *q, const char *command, json_t *args, int passfd, json_t **ret);

int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret)
{
	return execute(q, command, args, -1, ret);
}

int qmp_getfd(struct qmp *q, int fd, const char *name)
{
	return execute(q, "getfd", json_pack("{s:s}", "fdname", name), fd, NULL);
}

static int execute(struct qmp *q, const char *command, json_t *args, int passfd, json_t **ret)
{
	long long deadline = now_ms() + q->timeout_ms;
	unsigned long id = ++q->next_id;
	json_t *req, *msg, *rid;
	enum qmp_kind kind;
	char *text;
	int err;

	if (ret)
		*ret = NULL;
	if (q->fd < 0)
		return failed(q, -ENOTCONN, "the QMP connection is closed");
	req = args ? json_pack("{s:s, s:o, s:I}", "execute", command, "arguments", args, "id",
			       (json_int_t)id)
		   : json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)id);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return failed(q, -ENOMEM, "cannot encode QMP command %s", command);
	err = passfd >= 0 ? send_with_fd(q, text, strlen(text), passfd)
			  : send_all(q, text, strlen(text));
	if (!err)
		err = send_all(q, "\n", 1);
	free(text);
	if (err)
		return err;
	for (;;) {
		err = next_message(q, deadline, command, &msg, &kind);
		if (err)
			return err;
		if (kind == QMP_EVENT) {
			keep_event(q, msg);
			continue;
		}
		if (kind != QMP_REPLY) {
			json_decref(msg);
			return failed(q, -EPROTO, "QEMU sent a second greeting");
		}
		rid = json_object_get(msg, "id");
		if (!json_is_integer(rid) || json_integer_value(rid) != (json_int_t)id) {
			json_decref(msg);
			return failed(q, -EPROTO, "QEMU answered another command than %s", command);
		}
		break;
	}
	if (json_object_get(msg, "error")) {
		err = remote_error(q, command, json_object_get(msg, "error"));
	} else if (ret) {
		*ret = json_incref(json_object_get(msg, "return"));
	}
	json_decref(msg);
	return err;
}

int qmp_wait_event(struct qmp *q, const char *name, unsigned int timeout_ms, json_t **data)
{
	long long deadline = now_ms() + timeout_ms;
	enum qmp_kind kind;
	json_t *ev = NULL;
	unsigned int i;
	int err;

	if (data)
		*data = NULL;
	for (i = 0; i < q->nevents; i++) {
		if (!strcmp(json_string_value(json_object_get(q->events[i], "event")), name)) {
			ev = q->events[i];
			for (unsigned int j = 0; j < i; j++)
				json_decref(q->events[j]);
			q->nevents -= i + 1;
			memmove(q->events, q->events + i + 1, sizeof(q->events[0]) * q->nevents);
			break;
		}
	}
	while (!ev) {
		if (q->fd < 0)
			return failed(q, -ENOTCONN, "the QMP connection is closed");
		err = next_message(q, deadline, name, &ev, &kind);
		if (err == -ETIMEDOUT)
			return failed(q, err, "no %s event from QEMU within %u ms", name,
				      timeout_ms);
		if (err)
			return err;
		if (kind != QMP_EVENT) {
			json_decref(ev);
			return failed(q, -EPROTO, "QEMU sent a reply nobody asked for");
		}
		if (strcmp(json_string_value(json_object_get(ev, "event")), name)) {
			json_decref(ev);
			ev = NULL;
		}
	}
	if (data) {
		json_t *d = json_object_get(ev, "data");

		*data = d ? json_incref(d) : json_object();
	}
	json_decref(ev);
	return 0;
}

int qmp_open_fd(struct qmp *q, int fd, unsigned int timeout_ms)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	json_t *greeting;
	enum qmp_kind kind;
	int err;

	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->timeout_ms = timeout_ms ? timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) && len == sizeof(cred))
		q->pid = cred.pid;
	err = next_message(q, now_ms() + q->timeout_ms, "with its greeting", &greeting, &kind);
	if (!err && kind != QMP_GREETING) {
		json_decref(greeting);
		err = failed(q, -EPROTO, "QEMU did not start with a QMP greeting");
	}
	if (!err) {
		json_error_t jerr;

		if (json_unpack_ex(greeting, &jerr, 0, "{s:{s:{s:{s:i, s:i, s:i}}, s:[]}}", "QMP",
				   "version", "qemu", "major", &q->major, "minor", &q->minor,
				   "micro", &q->micro, "capabilities"))
			err = failed(q, -EPROTO, "QEMU's QMP greeting has no version");
		json_decref(greeting);
	}
	if (!err)
		err = qmp_execute(q, "qmp_capabilities", NULL, NULL);
	if (err) {
		char why[sizeof(q->error)];

		memcpy(why, q->error, sizeof(why));
		qmp_close(q);
		memcpy(q->error, why, sizeof(why));
	}
	return err;
}

int qmp_open(struct qmp *q, const char *path, unsigned int timeout_ms)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, err;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return failed(q, -ENAMETOOLONG, "QMP socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return failed(q, err,
			      "cannot reach QEMU's QMP socket %s: %s (start QEMU with -qmp "
			      "unix:%s,server=on,wait=off)",
			      path, strerror(-err), path);
	}
	return qmp_open_fd(q, fd, timeout_ms);
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
	while (q->nevents)
		json_decref(q->events[--q->nevents]);
}
