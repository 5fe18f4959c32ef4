/*
 * secure.h: the secure channel. Before any guest byte moves, the two tools
 * prove to each other that they hold the same migration key, agree fresh
 * traffic keys, and hand the socket to kernel TLS (ktls.h), so that the
 * module's zero-copy page sends are encrypted in the kernel.
 *
 * The exchange (messages of wire.h, in the clear; 32-byte fields):
 *
 *   AUTH_HELLO  source -> dest   version, mode, nonce_s, X25519 share_s
 *   AUTH_REPLY  dest -> source   version, mode, nonce_d, X25519 share_d, mac_d
 *   AUTH_PROOF  source -> dest   mac_s
 *   AUTH_OK     dest -> source   (or REFUSE with a reason)
 *
 *   th     = SHA-256(AUTH_HELLO payload || AUTH_REPLY payload without mac_d)
 *   prk    = HMAC-SHA-256(key = migration key, X25519(share_s, share_d))
 *   k(L)   = HMAC-SHA-256(prk, "kvmmig 2 " L || th || 0x01)   (HKDF-Expand, 32 bytes)
 *   mac_d  = HMAC-SHA-256(k("dest finished"), th)
 *   mac_s  = HMAC-SHA-256(k("source finished"), th)
 *   source->dest TLS key/iv: k("s2d key"), k("s2d iv")[0..12]; dest->source: "d2s ..."
 *
 * Only a holder of the migration key can compute a MAC, a man in the middle
 * of the X25519 exchange cannot, and the ephemeral shares give every
 * migration fresh keys (forward secrecy). The destination proves itself
 * first, so a source never sends a guest byte to an impostor; the source
 * proves itself before the destination installs anything.
 *
 * Mode "insecure" (--insecure on both sides) skips the proofs and TLS; a
 * side with a key refuses a peer without one.
 */
#ifndef KVMMIG_CTL_SECURE_H
#define KVMMIG_CTL_SECURE_H

#include <stddef.h>

#include "ctl/keyfile.h"

/*
 * Runs the exchange on a connected socket and installs TLS. @key NULL means
 * --insecure. Return 0, or -1 with a one-line reason in @why; the socket
 * must then be closed.
 */
int secure_source(int fd, const struct migration_key *key, char *why, size_t len);
int secure_dest(int fd, const struct migration_key *key, char *why, size_t len);

/*
 * The key of a command's --key PATH / --insecure options: 0 with *@key set
 * (NULL for --insecure, after printing the warning), or -1 after printing
 * why there is none.
 */
int secure_key_option(const char *path, int insecure, struct migration_key *buf,
		      const struct migration_key **key);

/* The warning both sides print for --insecure. */
#define SECURE_INSECURE_WARNING                                                            \
	"kvmmig-ctl: warning: --insecure: guest memory crosses the network in the clear and "  \
	"the destination accepts any source that connects\n"

#endif /* KVMMIG_CTL_SECURE_H */
