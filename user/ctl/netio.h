/* netio.h: whole reads and writes, TCP connect and listen. */
#ifndef KVMMIG_CTL_NETIO_H
#define KVMMIG_CTL_NETIO_H

#include <stddef.h>

/* The port kvmmig-ctl migrate connects to and incoming listens on. */
#define KVMMIG_DEFAULT_PORT "7437"

/* 0, or -errno (-ECONNRESET when the peer closed early). */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);

/*
 * "HOST", "HOST:PORT", "[V6ADDR]:PORT"; the default port when none is
 * given. Return a connected / listening TCP socket, or -1 after printing a
 * one-line reason.
 */
int tcp_connect(const char *hostport);
int tcp_listen(const char *addrport);

#endif /* KVMMIG_CTL_NETIO_H */
