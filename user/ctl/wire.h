/*
 * wire.h: the tool-to-tool messages on the migration socket, around the
 * module's page stream:
 *
 *   source                         destination
 *   AUTH_HELLO             ---->           (secure.h: the key exchange,
 *                          <----   AUTH_REPLY | REFUSE    in the clear)
 *   AUTH_PROOF             ---->
 *                          <----   AUTH_OK | REFUSE
 *   [from here on kernel TLS, unless both sides run --insecure]
 *   HELLO (shape)          ---->
 *                          <----   ACCEPT (state-version N) | REFUSE (reason)
 *   [module page stream: HELLO record ... rounds ... END record,
 *    or, when the source cannot start it, the tool's ABORT record]
 *   [DIGEST (memory)       ---->]  with --verify: checked before STATE
 *   STATE (VMM state blob) ---->
 *                          <----   RESTORED (restore_ns, verify_ns) | ABORT (reason)
 *   GO                     ---->
 *                          <----   RUNNING (resume_ns)
 *
 * A QEMU guest (migrate --qemu, qemumigrate.c) has HELLO "qemu 1", a second
 * connection (same key, kernel TLS) carrying QEMU's own device stream, and
 * in place of DIGEST and STATE the verify-and-repair pass of its RAM file:
 *
 *   [module page stream in RAM-file mode ... END]
 *   RAM_KEY                ---->
 *                          <----   RAM_DIGESTS | ABORT
 *   RAM_PAGES*, RAM_DONE   ---->
 *                          <----   RAM_OK | ABORT
 *   [QEMU's device stream on the second connection]
 *                          <----   LOADED | ABORT   (both said "loaded 1")
 *   GO                     ---->
 *                          <----   RUNNING | ABORT
 *
 * LOADED closes the switchover's window: the source's QEMU completes on
 * the last device byte it sent, received or not, and until LOADED arrives
 * the source tool may resume it, since the destination runs only on GO.
 * Without LOADED (a peer that predates it) a link lost after that byte left
 * the guest stopped on both sides.
 *
 * Either side may send ABORT (reason) instead of its next message. Each
 * message: magic "KMTL" (4 bytes), type (le32), length (le32), payload.
 * HELLO's payload is text, "key value" lines; REFUSE and ABORT carry a
 * one-line reason; STATE the blob of user/vmm/state.h; RESTORED and
 * RUNNING the destination's downtime phases ("key value" lines, downtime.h;
 * empty from a destination that predates them). Each message leaves in one
 * send: header and payload in one segment, one TLS record.
 */
#ifndef KVMMIG_CTL_WIRE_H
#define KVMMIG_CTL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_PROTOCOL 2

enum wire_type {
	WIRE_HELLO = 1,
	WIRE_ACCEPT,
	WIRE_REFUSE,
	WIRE_STATE,
	WIRE_RESTORED,
	WIRE_GO,
	WIRE_RUNNING,
	WIRE_ABORT,
	WIRE_DIGEST, /* 16 hex digits: the source's guest memory at pause */
	WIRE_AUTH_HELLO,
	WIRE_AUTH_REPLY,
	WIRE_AUTH_PROOF,
	WIRE_AUTH_OK,
	/* QEMU guests (qemumigrate.c): the verify-and-repair pass at switchover. */
	WIRE_RAM_KEY,	  /* source: the per-migration digest key (ramverify.h) */
	WIRE_RAM_DIGESTS, /* destination: one le64 digest per page of its RAM file */
	WIRE_RAM_PAGES,	  /* source: pages that differ, each le64 offset + the page */
	WIRE_RAM_DONE,	  /* source: "pages N", all repairs sent */
	WIRE_RAM_OK,	  /* destination: repairs written, RAM complete */
	WIRE_LOADED,	  /* destination: its QEMU loaded the device state (waits for GO) */
	WIRE_LAST = WIRE_LOADED,
};

/* Largest payload accepted: the state blob bound of the VMM protocol. */
#define WIRE_MAX_PAYLOAD (64u << 20)

int wire_send(int fd, enum wire_type type, const void *payload, size_t len);

/*
 * Where the destination's module expects the page stream, the source tool
 * gives up with the stream's own ABORT record (uapi kvmmig.h) and its
 * reason, then closes its side; the destination's module stops after the
 * header (ECONNABORTED) and its tool reads the reason with
 * wire_recv_stream_abort() (up to @size - 1 bytes, NUL-terminated, as the
 * peer wrote them: print them through peer_text()).
 */
int wire_send_stream_abort(int fd, const char *reason);
int wire_recv_stream_abort(int fd, char *reason, size_t size);
int wire_send_text(int fd, enum wire_type type, const char *text);

/*
 * Receives one message; the payload is malloc'ed and NUL-terminated.
 * -EPROTO on a bad magic, unknown type or oversized length.
 */
int wire_recv(int fd, enum wire_type *type, char **payload, size_t *len);

/* The same with a smaller bound, for messages from a peer not yet authenticated. */
int wire_recv_max(int fd, enum wire_type *type, char **payload, size_t *len, size_t max);

const char *wire_type_name(enum wire_type t);

#endif /* KVMMIG_CTL_WIRE_H */
