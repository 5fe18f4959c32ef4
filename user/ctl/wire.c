/* wire.c: framing of the tool-to-tool messages (see wire.h). */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/kvmmig.h>

#include "ctl/netio.h"
#include "ctl/wire.h"

struct wire_hdr {
	char magic[4];
	uint32_t type;
	uint32_t len;
} __attribute__((packed));

int wire_send(int fd, enum wire_type type, const void *payload, size_t len)
{
	struct wire_hdr h = {.magic = "KMTL", .type = htole32(type), .len = htole32(len)};
	/*
	 * One send for header and payload: one segment, one TLS record. Two
	 * would leave the payload to Nagle until the peer's delayed ACK of
	 * the header (tens of ms, each message of the handoff, in downtime).
	 */
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
			       {.iov_base = (void *)payload, .iov_len = len}};

	if (len > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	return write_fullv(fd, iov, len ? 2 : 1);
}

int wire_send_text(int fd, enum wire_type type, const char *text)
{
	return wire_send(fd, type, text, strlen(text));
}

int wire_send_stream_abort(int fd, const char *reason)
{
	size_t len = strnlen(reason, KVMMIG_WIRE_MAX_REASON);
	struct kvmmig_wire_rec rec = {
		.type = htole16(KVMMIG_REC_ABORT),
		.len = htole32(len ? len : 1),
	};
	int ret;

	ret = write_full(fd, &rec, sizeof(rec));
	if (!ret)
		ret = write_full(fd, len ? reason : "?", len ? len : 1);
	if (!ret)
		shutdown(fd, SHUT_WR);
	return ret;
}

int wire_recv_stream_abort(int fd, char *reason, size_t size)
{
	struct timeval timeout = {.tv_sec = 5};
	size_t got = 0;
	ssize_t n;

	if (size > KVMMIG_WIRE_MAX_REASON + 1)
		size = KVMMIG_WIRE_MAX_REASON + 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	/* The source closes right after its reason: read to the end. */
	while (got + 1 < size && (n = read(fd, reason + got, size - 1 - got)) > 0)
		got += n;
	reason[got] = '\0';
	return got ? 0 : -ENODATA;
}

int wire_recv(int fd, enum wire_type *type, char **payload, size_t *len)
{
	return wire_recv_max(fd, type, payload, len, WIRE_MAX_PAYLOAD);
}

int wire_recv_max(int fd, enum wire_type *type, char **payload, size_t *len, size_t max)
{
	struct wire_hdr h;
	uint32_t t, n;
	char *p;
	int ret;

	*payload = NULL;
	ret = read_full(fd, &h, sizeof(h));
	if (ret)
		return ret;
	t = le32toh(h.type);
	n = le32toh(h.len);
	if (memcmp(h.magic, "KMTL", 4) || t < WIRE_HELLO || t > WIRE_LAST || n > max)
		return -EPROTO;
	p = malloc(n + 1);
	if (!p)
		return -ENOMEM;
	ret = read_full(fd, p, n);
	if (ret) {
		free(p);
		return ret;
	}
	p[n] = '\0';
	*type = t;
	*payload = p;
	if (len)
		*len = n;
	return 0;
}

const char *wire_type_name(enum wire_type t)
{
	static const char *const names[] = {
	    [WIRE_HELLO] = "HELLO",	[WIRE_ACCEPT] = "ACCEPT",     [WIRE_REFUSE] = "REFUSE",
	    [WIRE_STATE] = "STATE",	[WIRE_RESTORED] = "RESTORED", [WIRE_GO] = "GO",
	    [WIRE_RUNNING] = "RUNNING", [WIRE_ABORT] = "ABORT",	      [WIRE_DIGEST] = "DIGEST",
	    [WIRE_AUTH_HELLO] = "AUTH_HELLO", [WIRE_AUTH_REPLY] = "AUTH_REPLY",
	    [WIRE_AUTH_PROOF] = "AUTH_PROOF", [WIRE_AUTH_OK] = "AUTH_OK",
	    [WIRE_RAM_KEY] = "RAM_KEY", [WIRE_RAM_DIGESTS] = "RAM_DIGESTS",
	    [WIRE_RAM_PAGES] = "RAM_PAGES", [WIRE_RAM_DONE] = "RAM_DONE",
	    [WIRE_RAM_OK] = "RAM_OK", [WIRE_LOADED] = "LOADED",
	};

	return t >= WIRE_HELLO && t <= WIRE_LAST ? names[t] : "unknown";
}
