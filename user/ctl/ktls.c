/* ktls.c: kernel TLS on a migration socket (see ktls.h). */
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl/ktls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

static int set_dir(int fd, int optname, const struct ktls_dir *d)
{
	struct tls12_crypto_info_aes_gcm_256 ci = {
	    .info = {.version = TLS_1_3_VERSION, .cipher_type = TLS_CIPHER_AES_GCM_256},
	};
	int ret;

	memcpy(ci.key, d->key, sizeof(ci.key));
	memcpy(ci.salt, d->iv, sizeof(ci.salt));
	memcpy(ci.iv, d->iv + sizeof(ci.salt), sizeof(ci.iv));
	/* rec_seq stays 0: both sides count records from the handshake on. */
	ret = setsockopt(fd, SOL_TLS, optname, &ci, sizeof(ci));
	memset(&ci, 0, sizeof(ci));
	return ret;
}

int ktls_install(int fd, const struct ktls_dir *tx, const struct ktls_dir *rx, char *why,
		 size_t len)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		snprintf(why, len,
			 "this kernel cannot run TLS on the socket (%s): it needs CONFIG_TLS "
			 "(modprobe tls)",
			 strerror(errno));
		return -1;
	}
	if (set_dir(fd, TLS_TX, tx) || set_dir(fd, TLS_RX, rx)) {
		snprintf(why, len,
			 "the kernel refused the TLS keys (%s): it needs TLS 1.3 with AES-256-GCM",
			 strerror(errno));
		return -1;
	}
	return 0;
}
