/* netio.h: whole reads and writes, TCP connect and listen. */
#ifndef KVMMIG_CTL_NETIO_H
#define KVMMIG_CTL_NETIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The port kvmmig-ctl migrate connects to and incoming listens on. */
#define KVMMIG_DEFAULT_PORT "7437"

/* 0, or -errno (-ECONNRESET when the peer closed early). */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/* Writes all of @iov (its entries are advanced past what is written) in as few calls as it can. */
int write_fullv(int fd, struct iovec *iov, int iovcnt);
/* Bytes in TCP socket @sock's send queue, not yet carried by the link (0 if the kernel cannot say). */
uint64_t send_queue_bytes(int sock);
/*
 * Waits until @sock's send queue is under 64 KiB (a round is over when the
 * link has carried it) or the socket is shut down; -ETIMEDOUT if it did
 * not shrink for @progress_ms (0: the module's default).
 */
int drain_send_queue(int sock, uint32_t progress_ms);

/*
 * "HOST", "HOST:PORT", "[V6ADDR]:PORT"; the default port when none is
 * given. Return a connected / listening TCP socket, or -1 after printing a
 * one-line reason.
 */
int tcp_connect(const char *hostport);
int tcp_listen(const char *addrport);

#endif /* KVMMIG_CTL_NETIO_H */
