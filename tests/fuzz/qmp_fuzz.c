/*
 * qmp_fuzz.c: libFuzzer target for kvmmig-ctl's QMP client and its
 * peer_text(). Builds the tool's own user/ctl/qmp.c and plays QEMU: the
 * input is everything "QEMU" sends, on a socketpair whose writing side is
 * then shut, and the client opens the connection, runs a few commands and
 * waits for an event, as qemu-check and a migration do. Whatever the input,
 * the client must not crash, leak or read out of bounds, every reply it
 * accepts has a value, and every error it reports is one line of printable
 * ASCII. peer_text() of the input must be printable ASCII and stay the same
 * when cleaned again.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude/uapi -Iuser \
 *         tests/fuzz/qmp_fuzz.c -ljansson -o build/tests/qmp_fuzz
 */
#define _GNU_SOURCE /* struct ucred, as the tool builds with -D_GNU_SOURCE */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../user/ctl/peertext.c"
#include "../../user/ctl/qmp.c"

static void assert_printable(const char *s)
{
	for (; *s; s++)
		assert(*s >= 0x20 && *s < 0x7f);
}

static void check_peer_text(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), out[256], again[256];

	memcpy(in, data, size);
	in[size] = '\0';
	peer_text(out, sizeof(out), in);
	assert_printable(out);
	peer_text(again, sizeof(again), out);
	assert(!strcmp(out, again));
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const commands[] = {"query-kvm", "query-migrate", "qom-list"};
	struct qmp q;
	int sv[2], ret;
	json_t *v;

	check_peer_text(data, size);
	if (size > 150000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 0;
	/* "QEMU" said everything at once; our commands land in its buffer. */
	if (size && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	ret = qmp_open_fd(&q, sv[0], 1000);
	if (ret) {
		assert(ret < 0 && q.fd < 0);
		assert_printable(q.error);
		close(sv[1]);
		return 0;
	}
	for (unsigned int i = 0; i < 3; i++) {
		ret = qmp_execute(&q, commands[i],
				  i == 2 ? json_pack("{s:s}", "path", "/objects") : NULL, &v);
		if (ret) {
			assert(ret < 0 && !v);
			assert_printable(q.error);
		} else {
			assert(v);
			json_decref(v);
		}
	}
	ret = qmp_wait_event(&q, "STOP", 1000, &v);
	if (ret)
		assert_printable(q.error);
	else
		json_decref(v);
	assert(q.nevents <= QMP_MAX_EVENTS);
	qmp_close(&q);
	close(sv[1]);
	return 0;
}
