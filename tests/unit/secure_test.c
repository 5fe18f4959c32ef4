/*
 * secure_test.c: the secure channel's handshake (user/ctl/secure.c) between
 * two threads on a socketpair. ktls_install() is replaced by a recorder, so
 * the test sees the traffic keys each side would give the kernel: both
 * sides must agree on them, each direction must differ, every migration
 * must get fresh ones, and a mismatch must fail with its reason.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/keyfile.h"
#include "ctl/ktls.h"
#include "ctl/secure.h"

static int failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("PASS: secure: %s\n", name);
	else
		printf("FAIL: secure: %s: %s\n", name, why);
	failures += !ok;
}

/* What each side handed to "the kernel". */
struct installed {
	int fd, called;
	struct ktls_dir tx, rx;
};
static struct installed inst[2];

int ktls_install(int fd, const struct ktls_dir *tx, const struct ktls_dir *rx, char *why,
		 size_t len)
{
	struct installed *i = inst[0].fd == fd ? &inst[0] : &inst[1];

	(void)why;
	(void)len;
	i->called = 1;
	i->tx = *tx;
	i->rx = *rx;
	return 0;
}

struct side {
	int fd, ret;
	const struct migration_key *key;
	char why[512];
};

static void *dest_thread(void *arg)
{
	struct side *d = arg;

	d->ret = secure_dest(d->fd, d->key, d->why, sizeof(d->why));
	/* A failed destination drops the connection, as incoming does. */
	if (d->ret)
		shutdown(d->fd, SHUT_RDWR);
	return NULL;
}

/* One handshake: source key @sk, destination key @dk (NULL: --insecure). */
static void handshake(const struct migration_key *sk, const struct migration_key *dk,
		      struct side *s, struct side *d)
{
	int sv[2];
	pthread_t t;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	memset(inst, 0, sizeof(inst));
	inst[0].fd = sv[0];
	inst[1].fd = sv[1];
	*s = (struct side){.fd = sv[0], .key = sk};
	*d = (struct side){.fd = sv[1], .key = dk};
	pthread_create(&t, NULL, dest_thread, d);
	s->ret = secure_source(s->fd, s->key, s->why, sizeof(s->why));
	if (s->ret)
		shutdown(s->fd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	struct migration_key a, b;
	struct side s, d;
	struct ktls_dir first_tx;
	char text[2 * KVMMIG_KEY_LEN + 2], msg[1100];

	key_random(&a);
	key_random(&b);

	handshake(&a, &a, &s, &d);
	snprintf(msg, sizeof(msg), "source '%s', destination '%s'", s.why, d.why);
	check("the same key: both sides finish the handshake", !s.ret && !d.ret, msg);
	check("both install kernel TLS", inst[0].called && inst[1].called, "ktls_install not called");
	check("the source's send keys are the destination's receive keys",
	      !memcmp(&inst[0].tx, &inst[1].rx, sizeof(inst[0].tx)), "they differ");
	check("the destination's send keys are the source's receive keys",
	      !memcmp(&inst[1].tx, &inst[0].rx, sizeof(inst[1].tx)), "they differ");
	check("each direction has its own key", memcmp(&inst[0].tx, &inst[0].rx, sizeof(inst[0].tx)),
	      "tx == rx");
	check("no traffic key is the migration key itself",
	      memcmp(inst[0].tx.key, a.bytes, KTLS_KEY_LEN) && memcmp(inst[0].rx.key, a.bytes, KTLS_KEY_LEN),
	      "a traffic key equals the migration key");
	first_tx = inst[0].tx;
	handshake(&a, &a, &s, &d);
	check("every migration gets fresh traffic keys",
	      !s.ret && memcmp(&first_tx, &inst[0].tx, sizeof(first_tx)), "the same keys twice");

	handshake(&a, &b, &s, &d);
	check("different keys: the source refuses the destination, naming why",
	      s.ret && strstr(s.why, "does not hold this migration key"), s.why);
	check("different keys: the destination fails too, and nothing is installed",
	      d.ret && !inst[0].called && !inst[1].called, d.why);

	handshake(NULL, &a, &s, &d);
	check("an --insecure source is refused by a keyed destination",
	      s.ret && strstr(s.why, "the destination refused: the source did not authenticate"),
	      s.why);
	check("and the destination says why", d.ret && strstr(d.why, "did not authenticate"), d.why);

	handshake(&a, NULL, &s, &d);
	check("a keyed source refuses an --insecure destination",
	      s.ret && strstr(s.why, "refusing to send guest memory in the clear"), s.why);
	check("and the destination fails", d.ret != 0, "it went on");

	handshake(NULL, NULL, &s, &d);
	check("both --insecure: the handshake passes without TLS",
	      !s.ret && !d.ret && !inst[0].called && !inst[1].called, s.why);

	key_format(&a, text);
	check("a formatted key parses back", !key_parse(text, &b) && !memcmp(&a, &b, sizeof(a)),
	      text);
	text[5] = 'x';
	check("a key with a non-hex digit is rejected", key_parse(text, &b) != 0, text);
	check("a short key is rejected", key_parse("abcd\n", &b) != 0, "accepted");
	return failures != 0;
}
