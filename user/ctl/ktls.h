/*
 * ktls.h: hands a connected TCP socket to kernel TLS (the "tls" ULP, TLS
 * 1.3 records, AES-256-GCM) with keys from our own handshake (secure.c).
 * From then on every byte on the socket, ours and the module's zero-copy
 * page sends alike, is encrypted and authenticated by the kernel.
 */
#ifndef KVMMIG_CTL_KTLS_H
#define KVMMIG_CTL_KTLS_H

#include <stddef.h>
#include <stdint.h>

#define KTLS_KEY_LEN 32
#define KTLS_IV_LEN 12 /* TLS 1.3's per-direction IV: 4 bytes salt, 8 bytes iv */

struct ktls_dir {
	uint8_t key[KTLS_KEY_LEN];
	uint8_t iv[KTLS_IV_LEN];
};

/* 0, or -1 with a one-line reason in @why. Both directions start at record 0. */
int ktls_install(int fd, const struct ktls_dir *tx, const struct ktls_dir *rx, char *why,
		 size_t len);

#endif /* KVMMIG_CTL_KTLS_H */
