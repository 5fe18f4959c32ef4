/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stream.h: the page-stream record parser's API. stream.c is pure: it only
 * validates headers against a memslot table and says what to do, so the
 * same file builds into the module and into the userspace fuzz target
 * (tests/fuzz/stream_fuzz.c), which defines KVMMIG_STREAM_USERSPACE.
 */
#ifndef KVMMIG_STREAM_H
#define KVMMIG_STREAM_H

#ifdef KVMMIG_STREAM_USERSPACE
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)
#else
#include <linux/errno.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#endif

#include "../include/uapi/linux/kvmmig.h"

/* One destination memslot, as the parser needs it. */
struct kvmmig_stream_slot {
	u64 base_gfn;
	u64 npages;
	u64 uaddr;	/* where the VMM mapped it (an opaque base to the parser) */
};

enum kvmmig_stream_phase {
	KVMMIG_STREAM_WANT_HELLO,	/* nothing read yet */
	KVMMIG_STREAM_WANT_HELLO_BODY,	/* HELLO header read, payload next */
	KVMMIG_STREAM_IN_ROUND,		/* HELLO or ROUND_END done */
	KVMMIG_STREAM_ROUND_CLOSED,	/* ROUND_END read: END may follow */
	KVMMIG_STREAM_ENDED,		/* END read: read nothing more */
	KVMMIG_STREAM_FAILED,		/* a violation was found */
};

struct kvmmig_stream {
	const struct kvmmig_stream_slot *slots;
	u32 nslots;
	u32 page_shift;
	enum kvmmig_stream_phase phase;
	u32 next_round;
};

/* What the caller must do after a header passed. */
struct kvmmig_stream_op {
	u16 type;		/* enum kvmmig_wire_type */
	u32 len;		/* payload bytes to read next (HELLO, PAGES) */
	u64 uaddr;		/* PAGES, ZERO: where in the VMM's memory */
	u32 npages;		/* PAGES, ZERO */
	u32 round;		/* ROUND_END */
};

void kvmmig_stream_init(struct kvmmig_stream *st,
			const struct kvmmig_stream_slot *slots, u32 nslots,
			u32 page_shift);

/*
 * Checks one record header (struct kvmmig_wire_rec, read whole). Returns 0
 * and fills @op, or a negative errno with a static message in *@why, after
 * which the stream is failed and every later call fails too.
 */
int kvmmig_stream_header(struct kvmmig_stream *st,
			 const struct kvmmig_wire_rec *rec,
			 struct kvmmig_stream_op *op, const char **why);

/* Checks HELLO's payload (@len bytes, as the header announced). */
int kvmmig_stream_hello(struct kvmmig_stream *st, const void *buf, u32 len,
			const char **why);

#endif /* KVMMIG_STREAM_H */
