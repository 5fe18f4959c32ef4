/* netio.c: whole reads and writes, TCP connect and listen. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
		if (fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
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
