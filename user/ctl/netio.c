/* netio.c: whole reads and writes, TCP connect and listen. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <poll.h>
#include <sys/ioctl.h>

#include <linux/kvmmig.h>
#include <linux/sockios.h>

#include "ctl/clock.h"
#include "ctl/netio.h"

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

/* Splits "host:port" / "[v6]:port" / "host" into its parts. */
static int split_hostport(const char *in, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon;

	if (in[0] == '[') {
		const char *close = strchr(in, ']');

		if (!close)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(close - in - 1), in + 1);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = strrchr(in, ':');
		snprintf(host, hlen, "%.*s", colon ? (int)(colon - in) : (int)strlen(in), in);
	}
	snprintf(port, plen, "%s", colon && colon[1] ? colon + 1 : KVMMIG_DEFAULT_PORT);
	return 0;
}

static int resolve(const char *hostport, int passive, struct addrinfo **ai, char *host, char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
	int ret;

	if (split_hostport(hostport, host, 256, port, 32)) {
		fprintf(stderr, "kvmmig-ctl: not an address: '%s' (expected HOST[:PORT])\n",
			hostport);
		return -1;
	}
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, ai);
	if (ret) {
		fprintf(stderr, "kvmmig-ctl: unable to resolve '%s': %s\n", hostport,
			gai_strerror(ret));
		return -1;
	}
	return 0;
}

int write_fullv(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = iovcnt};
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = writev(fd, iov, iovcnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/* Past what was written: whole vectors, then into the next one. */
		while (iovcnt && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

/* Bytes in the socket's send queue, not yet carried by the link (0 if the kernel cannot say). */
uint64_t send_queue_bytes(int sock)
{
	int queued = 0;

	return ioctl(sock, SIOCOUTQ, &queued) < 0 || queued < 0 ? 0 : (uint64_t)queued;
}

/*
 * A round is over when the link has carried it, not when the socket took
 * it: a paced link (--bandwidth) or a slow one behind a send buffer of
 * megabytes would otherwise queue seconds of pages that the final round,
 * with the guest paused, then waits behind. Waits until the send queue is
 * under DRAINED_BYTES (or the socket is shut down); -ETIMEDOUT if it did
 * not shrink for @progress_ms.
 */
#define DRAINED_BYTES (64u << 10)

int drain_send_queue(int sock, uint32_t progress_ms)
{
	uint64_t queued = send_queue_bytes(sock), least = queued, since = mono_ns();
	uint64_t limit_ns =
	    (uint64_t)(progress_ms ? progress_ms : KVMMIG_PROGRESS_TIMEOUT_MS) * 1000000ull;

	while (queued > DRAINED_BYTES) {
		struct pollfd hup = {.fd = sock};

		/* A cancel shuts the socket down: the next round says so. */
		if (poll(&hup, 1, 2) > 0)
			return 0;
		queued = send_queue_bytes(sock);
		if (queued < least) {
			least = queued;
			since = mono_ns();
		} else if (mono_ns() - since > limit_ns) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

int tcp_connect(const char *hostport)
{
	char host[256], port[32];
	struct addrinfo *ai, *a;
	int fd = -1, one = 1, err = 0;

	if (resolve(hostport, 0, &ai, host, port))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		err = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		fprintf(stderr,
			"kvmmig-ctl: unable to connect to %s:%s: %s (is `kvmmig-ctl incoming` "
			"waiting there?)\n",
			host, port, strerror(err));
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int tcp_listen(const char *addrport)
{
	char host[256], port[32];
	struct addrinfo *ai, *a;
	int fd = -1, one = 1, err = 0;

	if (resolve(addrport, 1, &ai, host, port))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		/* TCP_NODELAY, as tcp_connect: accepted sockets inherit it from here. */
		if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
		    !setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) &&
		    !bind(fd, a->ai_addr, a->ai_addrlen) && !listen(fd, 1))
			break;
		err = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "kvmmig-ctl: unable to listen on %s:%s: %s\n", host[0] ? host : "*",
			port, strerror(err));
	return fd;
}
