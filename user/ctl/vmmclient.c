/* vmmclient.c: requests to a VMM's control socket, answers parsed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/netio.h"
#include "ctl/vmmclient.h"
#include "ctlproto/ctlproto.h"

static int open_socket(struct vmm_conn *c)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -err;
	}
	return 0;
}

int vmm_connect(struct vmm_conn *c, const char *name)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (kvmmig_ctl_socket_path(c->path, sizeof(c->path), name)) {
		fprintf(stderr, "kvmmig-ctl: VM name too long: %s\n", name);
		return -ENAMETOOLONG;
	}
	ret = open_socket(c);
	if (ret) {
		fprintf(stderr,
			"kvmmig-ctl: unable to reach the VMM of '%s' at %s: %s (is kvmmig-vm "
			"--name %s running?)\n",
			name, c->path, strerror(-ret), name);
		return ret;
	}
	vmm_close(c);
	return 0;
}

bool vmm_gone(struct vmm_conn *c)
{
	int ret;

	if (c->fd >= 0)
		return false; /* a held connection: it answered */
	ret = open_socket(c);
	if (!ret)
		vmm_close(c);
	/* No socket file: the VMM removed it on exit; refused: it died without. */
	return ret == -ENOENT || ret == -ECONNREFUSED;
}

void vmm_close(struct vmm_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * Reads the answer line into @buf (its '\n' made a NUL), a buffer at a
 * time rather than a byte at a time: what came after the line, the start
 * of the payload, is left in @buf at *@rest, *@extra bytes of it.
 */
static int read_answer(int fd, char *buf, size_t len, const char **rest, size_t *extra)
{
	size_t n = 0;

	for (;;) {
		char *nl = memchr(buf, '\n', n);
		ssize_t r;

		if (nl) {
			*nl = '\0';
			*rest = nl + 1;
			*extra = n - (size_t)(nl + 1 - buf);
			return 0;
		}
		if (n + 1 >= len)
			return -EPROTO;
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		n += r;
	}
}

/* One request and its answer on the open connection c->fd. */
static int request_on_socket(struct vmm_conn *c, const char *line, const void *out, size_t out_len,
			     char **in, size_t *in_len)
{
	char answer[KVMMIG_CTL_LINE_MAX];
	struct iovec iov[3] = {{.iov_base = (void *)line, .iov_len = strlen(line)},
			       {.iov_base = "\n", .iov_len = 1},
			       {.iov_base = (void *)out, .iov_len = out_len}};
	unsigned long long len;
	size_t extra = 0, head;
	const char *rest = NULL;
	char *payload, *end;
	int ret;

	/* The request in one send: the VMM wakes once. */
	ret = write_fullv(c->fd, iov, out_len ? 3 : 2);
	if (!ret)
		ret = read_answer(c->fd, answer, sizeof(answer), &rest, &extra);
	if (ret)
		return ret;
	if (!strncmp(answer, "error ", 6)) {
		snprintf(c->error, sizeof(c->error), "%.*s", (int)sizeof(c->error) - 1, answer + 6);
		return -EREMOTEIO;
	}
	if (strncmp(answer, "ok ", 3))
		return -EPROTO;
	errno = 0;
	len = strtoull(answer + 3, &end, 10);
	if (errno || *end || len > KVMMIG_CTL_MAX_PAYLOAD)
		return -EPROTO;
	payload = malloc(len + 1);
	if (!payload)
		return -ENOMEM;
	/* The payload's start came with the answer line (anything past it is not ours). */
	head = extra < len ? extra : len;
	memcpy(payload, rest, head);
	ret = read_full(c->fd, payload + head, len - head);
	if (ret) {
		free(payload);
		return ret;
	}
	payload[len] = '\0';
	if (in) {
		*in = payload;
		if (in_len)
			*in_len = len;
	} else {
		free(payload);
	}
	return 0;
}

int vmm_request(struct vmm_conn *c, const char *line, const void *out, size_t out_len, char **in,
		size_t *in_len)
{
	int ret;

	c->error[0] = '\0';
	if (in)
		*in = NULL;
	ret = open_socket(c);
	if (ret)
		return ret;
	ret = request_on_socket(c, line, out, out_len, in, in_len);
	vmm_close(c);
	return ret;
}

int vmm_request_held(struct vmm_conn *c, const char *line)
{
	int ret;

	c->error[0] = '\0';
	if (c->fd < 0) {
		ret = open_socket(c);
		if (ret)
			return ret;
	}
	ret = request_on_socket(c, line, NULL, 0, NULL, NULL);
	if (ret && ret != -EREMOTEIO)
		vmm_close(c);
	return ret;
}

/*
 * Reads the answer line of "kvmmig-fd" with recvmsg(): the descriptor
 * travels with its first byte. Keeps the first descriptor received, closes
 * any other.
 */
static int read_line_fd(int sock, char *buf, size_t len, int *fd)
{
	size_t n = 0;

	*fd = -1;
	while (n + 1 < len) {
		union {
			char buf[CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = buf + n, .iov_len = 1};
		struct msghdr msg = {
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = u.buf,
		    .msg_controllen = sizeof(u.buf),
		};
		struct cmsghdr *cm;
		ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ECONNRESET;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t nfds;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int got;

				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*fd < 0)
					*fd = got;
				else
					close(got);
			}
		}
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -EPROTO;
}

int vmm_kvmmig_fd(struct vmm_conn *c, int *fd)
{
	char answer[KVMMIG_CTL_LINE_MAX];
	int ret, got = -1;

	c->error[0] = '\0';
	*fd = -1;
	ret = open_socket(c);
	if (ret)
		return ret;
	ret = write_full(c->fd, "kvmmig-fd\n", 10);
	if (!ret)
		ret = read_line_fd(c->fd, answer, sizeof(answer), &got);
	vmm_close(c);
	if (!ret && !strncmp(answer, "error ", 6)) {
		snprintf(c->error, sizeof(c->error), "%.*s", (int)sizeof(c->error) - 1, answer + 6);
		ret = -EREMOTEIO;
	} else if (!ret && (strcmp(answer, "ok 0") || got < 0)) {
		ret = -EPROTO;
	}
	if (ret) {
		if (got >= 0)
			close(got);
		return ret;
	}
	*fd = got;
	return 0;
}

int vmm_simple(struct vmm_conn *c, const char *cmd)
{
	return vmm_request(c, cmd, NULL, 0, NULL, NULL);
}

int vmm_status(struct vmm_conn *c, struct vmm_status *st)
{
	char *text, *line, *save;
	int ret;

	memset(st, 0, sizeof(*st));
	st->state_version = 1; /* a VMM that does not say writes and reads version 1 only */
	st->digest_version = 1;
	ret = vmm_request(c, "status", NULL, 0, &text, NULL);
	if (ret)
		return ret;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct vmm_memslot s;

		/* "state " exactly: other lines may start with "state". */
		if (!strncmp(line, "state ", 6) && sscanf(line + 6, "%31s", st->state) == 1)
			continue;
		if (sscanf(line, "cpus %u", &st->cpus) == 1)
			continue;
		if (sscanf(line, "mem %" SCNu64, &st->mem) == 1)
			continue;
		if (!strcmp(line, "kvmmig attached"))
			st->attached = 1;
		if (!strcmp(line, "dirty-log on"))
			st->dirty_log = 1;
		if (sscanf(line, "dirty-ring %u", &st->dirty_ring) == 1)
			continue;
		if (sscanf(line, "blob-versions %*u %u", &st->state_version) == 1)
			continue;
		if (sscanf(line, "digest-versions %*u %u", &st->digest_version) == 1)
			continue;
		if (!strncmp(line, "cpu-model ", 10)) {
			snprintf(st->cpu_model, sizeof(st->cpu_model), "%s", line + 10);
			continue;
		}
		if (sscanf(line, "tsc-khz %u", &st->tsc_khz) == 1)
			continue;
		if (sscanf(line, "throttle %u", &st->throttle) == 1)
			continue;
		if (!strncmp(line, "cpuid ", 6)) {
			size_t used = strlen(st->cpuid);

			snprintf(st->cpuid + used, sizeof(st->cpuid) - used, "%s\n", line);
		}
		if (sscanf(line, "memslot %u gpa %" SCNx64 " size %" SCNx64, &s.slot, &s.gpa,
			   &s.size) == 3 &&
		    st->nslots < VMM_MAX_SLOTS)
			st->slots[st->nslots++] = s;
	}
	free(text);
	return 0;
}
