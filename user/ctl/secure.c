/* secure.c: the key exchange and kernel TLS of the migration socket (see secure.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ctl/ktls.h"
#include "ctl/peertext.h"
#include "ctl/secure.h"
#include "ctl/wire.h"

#define SECURE_VERSION 1
#define SECURE_MODE_INSECURE 0
#define SECURE_MODE_KEY 1
#define FIELD 32

/* How long each side waits for the other's next handshake message. */
#define HANDSHAKE_TIMEOUT_S 30

struct auth_hello {
	uint8_t version, mode, pad[2];
	uint8_t nonce[FIELD], share[FIELD];
};

struct auth_reply {
	struct auth_hello h;
	uint8_t mac[FIELD];
};

struct handshake {
	const struct migration_key *key;
	EVP_PKEY *ours;
	struct auth_hello hello;
	struct auth_reply reply;
	uint8_t prk[FIELD], th[FIELD];
};

static void set_timeout(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int hmac(const uint8_t *key, size_t klen, const void *data, size_t dlen, uint8_t *out)
{
	unsigned int olen = FIELD;

	return HMAC(EVP_sha256(), key, klen, data, dlen, out, &olen) && olen == FIELD ? 0 : -1;
}

/* HKDF-Expand of one block: k(label) of secure.h. */
static int expand(const struct handshake *hs, const char *label, uint8_t *out)
{
	uint8_t info[64 + FIELD + 1];
	size_t n = snprintf((char *)info, 64, "kvmmig 2 %s", label);

	memcpy(info + n, hs->th, FIELD);
	info[n + FIELD] = 1;
	return hmac(hs->prk, FIELD, info, n + FIELD + 1, out);
}

/* Our ephemeral share, fresh nonce and version into @h. */
static int make_hello(struct handshake *hs, struct auth_hello *h)
{
	size_t n = FIELD;

	memset(h, 0, sizeof(*h));
	h->version = SECURE_VERSION;
	h->mode = hs->key ? SECURE_MODE_KEY : SECURE_MODE_INSECURE;
	if (RAND_bytes(h->nonce, FIELD) != 1)
		return -1;
	if (!hs->key)
		return 0;
	hs->ours = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	return hs->ours && EVP_PKEY_get_raw_public_key(hs->ours, h->share, &n) == 1 && n == FIELD
		       ? 0
		       : -1;
}

/* th and prk from both messages, once the peer's share is known. */
static int derive(struct handshake *hs, const uint8_t *peer_share)
{
	uint8_t buf[sizeof(struct auth_hello) * 2], dh[FIELD];
	EVP_PKEY *peer;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = FIELD;
	int ok;

	memcpy(buf, &hs->hello, sizeof(hs->hello));
	memcpy(buf + sizeof(hs->hello), &hs->reply.h, sizeof(hs->reply.h));
	SHA256(buf, sizeof(buf), hs->th);

	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_share, FIELD);
	ok = peer && (ctx = EVP_PKEY_CTX_new(hs->ours, NULL)) && EVP_PKEY_derive_init(ctx) == 1 &&
	     /* OpenSSL fails an all-zero result (a low-order share) here. */
	     EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, dh, &n) == 1 &&
	     n == FIELD;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	if (ok)
		ok = !hmac(hs->key->bytes, KVMMIG_KEY_LEN, dh, FIELD, hs->prk);
	OPENSSL_cleanse(dh, sizeof(dh));
	return ok ? 0 : -1;
}

static int mac_of(const struct handshake *hs, const char *label, uint8_t *mac)
{
	uint8_t k[FIELD];
	int ret = expand(hs, label, k) || hmac(k, FIELD, hs->th, FIELD, mac);

	OPENSSL_cleanse(k, sizeof(k));
	return ret ? -1 : 0;
}

static int traffic_keys(const struct handshake *hs, const char *dir, struct ktls_dir *d)
{
	uint8_t iv[FIELD];
	char label[16];
	int ret;

	snprintf(label, sizeof(label), "%s key", dir);
	ret = expand(hs, label, d->key);
	snprintf(label, sizeof(label), "%s iv", dir);
	ret = ret || expand(hs, label, iv);
	memcpy(d->iv, iv, KTLS_IV_LEN);
	OPENSSL_cleanse(iv, sizeof(iv));
	return ret ? -1 : 0;
}

static int install(const struct handshake *hs, int fd, int source, char *why, size_t len)
{
	struct ktls_dir s2d, d2s;
	int ret = -1;

	if (traffic_keys(hs, "s2d", &s2d) || traffic_keys(hs, "d2s", &d2s))
		snprintf(why, len, "deriving the traffic keys failed");
	else
		ret = source ? ktls_install(fd, &s2d, &d2s, why, len)
			     : ktls_install(fd, &d2s, &s2d, why, len);
	OPENSSL_cleanse(&s2d, sizeof(s2d));
	OPENSSL_cleanse(&d2s, sizeof(d2s));
	return ret;
}

static void handshake_end(struct handshake *hs)
{
	EVP_PKEY_free(hs->ours);
	OPENSSL_cleanse(hs, sizeof(*hs));
}

/* Receives one handshake message of @type and exactly @size bytes into @out. */
static int recv_exact_msg(int fd, const char *peer, enum wire_type want, void *out, size_t size,
			  char *why, size_t len)
{
	enum wire_type type;
	char *payload;
	size_t n;
	int ret = wire_recv_max(fd, &type, &payload, &n, 1024);

	if (ret) {
		snprintf(why, len, "the handshake broke off (%s)",
			 ret == -EAGAIN ? "no answer within 30 s"
			 : ret == -EPROTO ? "not a kvmmig peer, or an older kvmmig-ctl"
					  : strerror(-ret));
		return -1;
	}
	if (type == WIRE_REFUSE || type == WIRE_ABORT) {
		char text[400];

		snprintf(why, len, "the %s refused: %s", peer,
			 peer_text(text, sizeof(text), payload));
		free(payload);
		return -1;
	}
	if (type != want || n != size) {
		snprintf(why, len,
			 "expected %s, got %s of %zu bytes: the %s is not a kvmmig-ctl of this "
			 "version",
			 wire_type_name(want), wire_type_name(type), n, peer);
		free(payload);
		return -1;
	}
	if (size)
		memcpy(out, payload, size);
	OPENSSL_cleanse(payload, n);
	free(payload);
	return 0;
}

int secure_source(int fd, const struct migration_key *key, char *why, size_t len)
{
	struct handshake hs = {.key = key};
	uint8_t mac[FIELD];
	int ret = -1;

	set_timeout(fd, HANDSHAKE_TIMEOUT_S);
	if (make_hello(&hs, &hs.hello)) {
		snprintf(why, len, "making the key exchange failed (OpenSSL)");
		goto out;
	}
	if (wire_send(fd, WIRE_AUTH_HELLO, &hs.hello, sizeof(hs.hello))) {
		snprintf(why, len, "the connection broke off at the start of the handshake");
		goto out;
	}
	if (recv_exact_msg(fd, "destination", WIRE_AUTH_REPLY, &hs.reply, sizeof(hs.reply), why, len))
		goto out;
	if (hs.reply.h.version != SECURE_VERSION) {
		snprintf(why, len, "the destination's handshake is version %u, ours %u: install "
				   "the same kvmmig on both hosts",
			 hs.reply.h.version, SECURE_VERSION);
		goto out;
	}
	if (!key) {
		if (hs.reply.h.mode != SECURE_MODE_INSECURE) {
			snprintf(why, len, "the destination wants authentication and this side runs "
					   "--insecure: give both sides the same --key");
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (hs.reply.h.mode != SECURE_MODE_KEY) {
		snprintf(why, len, "the destination runs --insecure; refusing to send guest memory "
				   "in the clear (pass --insecure on both sides to allow it)");
		wire_send_text(fd, WIRE_ABORT, "the source refuses to migrate in the clear");
		goto out;
	}
	if (derive(&hs, hs.reply.h.share) || mac_of(&hs, "dest finished", mac)) {
		snprintf(why, len, "the key exchange failed (a malformed share from the destination)");
		goto out;
	}
	if (CRYPTO_memcmp(mac, hs.reply.mac, FIELD)) {
		snprintf(why, len, "the destination does not hold this migration key: give both "
				   "hosts the same key file");
		wire_send_text(fd, WIRE_ABORT, "the source does not share this destination's key");
		goto out;
	}
	if (mac_of(&hs, "source finished", mac) ||
	    wire_send(fd, WIRE_AUTH_PROOF, mac, FIELD)) {
		snprintf(why, len, "the connection broke off during the handshake");
		goto out;
	}
	if (recv_exact_msg(fd, "destination", WIRE_AUTH_OK, NULL, 0, why, len))
		goto out;
	ret = install(&hs, fd, 1, why, len);
out:
	set_timeout(fd, 0);
	handshake_end(&hs);
	return ret;
}

/* Refuses the source with @reason, which also becomes our own @why. */
static int refuse(int fd, const char *reason, char *why, size_t len)
{
	snprintf(why, len, "%s", reason);
	wire_send_text(fd, WIRE_REFUSE, reason);
	return -1;
}

int secure_dest(int fd, const struct migration_key *key, char *why, size_t len)
{
	struct handshake hs = {.key = key};
	uint8_t mac[FIELD];
	int ret = -1;

	set_timeout(fd, HANDSHAKE_TIMEOUT_S);
	if (recv_exact_msg(fd, "source", WIRE_AUTH_HELLO, &hs.hello, sizeof(hs.hello), why, len))
		goto out;
	if (hs.hello.version != SECURE_VERSION) {
		char reason[160];

		snprintf(reason, sizeof(reason),
			 "the source's handshake is version %u, the destination's %u: install the "
			 "same kvmmig on both hosts",
			 hs.hello.version, SECURE_VERSION);
		refuse(fd, reason, why, len);
		goto out;
	}
	if (key && hs.hello.mode != SECURE_MODE_KEY) {
		refuse(fd, "the source did not authenticate (--insecure) and this destination "
			   "accepts only sources holding its key: give both sides the same --key",
		       why, len);
		goto out;
	}
	if (make_hello(&hs, &hs.reply.h)) {
		refuse(fd, "the destination could not make its key exchange (OpenSSL)", why, len);
		goto out;
	}
	if (!key) {
		/* An insecure destination tells a keyed source so; the source decides. */
		ret = wire_send(fd, WIRE_AUTH_REPLY, &hs.reply, sizeof(hs.reply)) ? -1 : 0;
		if (ret)
			snprintf(why, len, "the connection broke off during the handshake");
		else if (hs.hello.mode != SECURE_MODE_INSECURE) {
			snprintf(why, len, "the source has a key and refuses to migrate in the clear");
			ret = -1;
		}
		goto out;
	}
	if (derive(&hs, hs.hello.share) || mac_of(&hs, "dest finished", hs.reply.mac)) {
		refuse(fd, "the key exchange failed (a malformed share from the source)", why,
		       len);
		goto out;
	}
	if (wire_send(fd, WIRE_AUTH_REPLY, &hs.reply, sizeof(hs.reply))) {
		snprintf(why, len, "the connection broke off during the handshake");
		goto out;
	}
	if (recv_exact_msg(fd, "source", WIRE_AUTH_PROOF, mac, FIELD, why, len))
		goto out;
	{
		uint8_t want[FIELD];
		int bad = mac_of(&hs, "source finished", want) || CRYPTO_memcmp(mac, want, FIELD);

		OPENSSL_cleanse(want, sizeof(want));
		if (bad) {
			refuse(fd, "the source does not hold this destination's migration key: give "
				   "both hosts the same key file",
			       why, len);
			goto out;
		}
	}
	if (wire_send(fd, WIRE_AUTH_OK, NULL, 0)) {
		snprintf(why, len, "the connection broke off during the handshake");
		goto out;
	}
	ret = install(&hs, fd, 0, why, len);
out:
	set_timeout(fd, 0);
	handshake_end(&hs);
	return ret;
}

int secure_key_option(const char *path, int insecure, struct migration_key *buf,
		      const struct migration_key **key)
{
	char why[512];

	*key = NULL;
	if (insecure) {
		fputs(SECURE_INSECURE_WARNING, stderr);
		return 0;
	}
	if (key_load(path, buf, why, sizeof(why))) {
		fprintf(stderr, "kvmmig-ctl: %s (or --insecure, to migrate in the clear)\n", why);
		return -1;
	}
	*key = buf;
	return 0;
}
