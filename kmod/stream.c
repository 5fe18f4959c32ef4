// SPDX-License-Identifier: GPL-2.0
/*
 * stream.c: THE page-stream record parser. Every header a destination
 * receives goes through here before a byte touches guest memory
 * (Documentation/kvmmig.rst, "Invariants", 5). Pure code: no allocation,
 * no locks, no kernel-only calls, so tests/fuzz/stream_fuzz.c builds this
 * very file in userspace.
 */
#include "stream.h"

void kvmmig_stream_init(struct kvmmig_stream *st,
			const struct kvmmig_stream_slot *slots, u32 nslots,
			u32 page_shift)
{
	st->slots = slots;
	st->nslots = nslots;
	st->page_shift = page_shift;
	st->phase = KVMMIG_STREAM_WANT_HELLO;
	st->next_round = 0;
}

static int fail(struct kvmmig_stream *st, int err, const char *msg,
		const char **why)
{
	st->phase = KVMMIG_STREAM_FAILED;
	*why = msg;
	return err;
}

/*
 * Finds the memslot holding the whole run [gfn, gfn + npages). Written so
 * that no sum can overflow: a hostile gpa near 2^64 must not wrap around
 * into a slot.
 */
static const struct kvmmig_stream_slot *
find_run(const struct kvmmig_stream *st, u64 gfn, u32 npages)
{
	u32 i;

	for (i = 0; i < st->nslots; i++) {
		const struct kvmmig_stream_slot *s = &st->slots[i];

		if (gfn < s->base_gfn || gfn - s->base_gfn >= s->npages)
			continue;
		if (npages > s->npages - (gfn - s->base_gfn))
			return NULL;	/* starts here, runs past the end */
		return s;
	}
	return NULL;
}

int kvmmig_stream_header(struct kvmmig_stream *st,
			 const struct kvmmig_wire_rec *rec,
			 struct kvmmig_stream_op *op, const char **why)
{
	u16 type = le16_to_cpu(rec->type);
	u32 len = le32_to_cpu(rec->len);
	u64 gpa = le64_to_cpu(rec->gpa);
	u32 npages = le32_to_cpu(rec->npages);
	u32 round = le32_to_cpu(rec->round);
	u64 page_mask = ((u64)1 << st->page_shift) - 1;
	const struct kvmmig_stream_slot *slot;
	u64 gfn;

	switch (st->phase) {
	case KVMMIG_STREAM_FAILED:
		*why = "stream already failed";
		return -EPROTO;
	case KVMMIG_STREAM_ENDED:
		return fail(st, -EPROTO, "record after END", why);
	case KVMMIG_STREAM_WANT_HELLO_BODY:
		return fail(st, -EPROTO, "header where HELLO payload was due", why);
	default:
		break;
	}

	if (le16_to_cpu(rec->flags))
		return fail(st, -EPROTO, "record with unknown flags", why);

	op->type = type;
	op->len = 0;
	op->uaddr = 0;
	op->npages = 0;
	op->round = 0;

	switch (type) {
	case KVMMIG_REC_HELLO:
		if (st->phase != KVMMIG_STREAM_WANT_HELLO)
			return fail(st, -EPROTO, "second HELLO record", why);
		if (len != sizeof(struct kvmmig_wire_hello))
			return fail(st, -EPROTO, "HELLO record of the wrong length", why);
		if (gpa || npages || round)
			return fail(st, -EPROTO, "HELLO with nonzero reserved fields", why);
		op->len = len;
		st->phase = KVMMIG_STREAM_WANT_HELLO_BODY;
		return 0;

	case KVMMIG_REC_PAGES:
	case KVMMIG_REC_ZERO:
		if (st->phase == KVMMIG_STREAM_WANT_HELLO)
			return fail(st, -EPROTO, "pages before HELLO", why);
		if (st->phase == KVMMIG_STREAM_ROUND_CLOSED)
			st->phase = KVMMIG_STREAM_IN_ROUND;
		if (round)
			return fail(st, -EPROTO, "page record with nonzero round", why);
		if (!npages)
			return fail(st, -EPROTO, "page record of zero pages", why);
		if (npages > (type == KVMMIG_REC_PAGES ? KVMMIG_WIRE_MAX_PAGES :
						   KVMMIG_WIRE_MAX_ZERO))
			return fail(st, -EMSGSIZE, "page run longer than allowed", why);
		if (type == KVMMIG_REC_PAGES) {
			if (len != (u64)npages << st->page_shift)
				return fail(st, -EPROTO, "PAGES length is not npages pages", why);
		} else if (len) {
			return fail(st, -EPROTO, "ZERO record with a payload", why);
		}
		if (gpa & page_mask)
			return fail(st, -EPROTO, "page address not page-aligned", why);
		gfn = gpa >> st->page_shift;
		slot = find_run(st, gfn, npages);
		if (!slot)
			return fail(st, -ERANGE, "pages outside the VM's memory", why);
		op->len = len;
		op->npages = npages;
		op->uaddr = slot->uaddr +
			    ((gfn - slot->base_gfn) << st->page_shift);
		return 0;

	case KVMMIG_REC_ROUND_END:
		if (st->phase == KVMMIG_STREAM_WANT_HELLO)
			return fail(st, -EPROTO, "ROUND_END before HELLO", why);
		if (len || gpa || npages)
			return fail(st, -EPROTO, "ROUND_END with nonzero fields", why);
		if (round != st->next_round)
			return fail(st, -EPROTO, "ROUND_END out of sequence", why);
		st->next_round++;
		op->round = round;
		st->phase = KVMMIG_STREAM_ROUND_CLOSED;
		return 0;

	case KVMMIG_REC_ABORT:
		if (!len || len > KVMMIG_WIRE_MAX_REASON)
			return fail(st, -EPROTO, "ABORT record of the wrong length", why);
		if (gpa || npages || round)
			return fail(st, -EPROTO, "ABORT with nonzero fields", why);
		/* Nothing of the stream follows: the reason is the tools' business. */
		op->len = len;
		st->phase = KVMMIG_STREAM_ENDED;
		return 0;

	case KVMMIG_REC_END:
		if (st->phase != KVMMIG_STREAM_ROUND_CLOSED)
			return fail(st, -EPROTO, "END not right after a ROUND_END", why);
		if (len || gpa || npages || round)
			return fail(st, -EPROTO, "END with nonzero fields", why);
		st->phase = KVMMIG_STREAM_ENDED;
		return 0;

	default:
		return fail(st, -EPROTO, "record of unknown type", why);
	}
}

int kvmmig_stream_hello(struct kvmmig_stream *st, const void *buf, u32 len,
			const char **why)
{
	const struct kvmmig_wire_hello *h = buf;

	if (st->phase != KVMMIG_STREAM_WANT_HELLO_BODY ||
	    len != sizeof(*h))
		return fail(st, -EPROTO, "HELLO payload out of place", why);
	if (le64_to_cpu(h->magic) != KVMMIG_WIRE_MAGIC)
		return fail(st, -EPROTO, "not a kvmmig page stream (bad magic)", why);
	if (le32_to_cpu(h->version) != KVMMIG_WIRE_VERSION)
		return fail(st, -EPROTO, "unsupported page stream version", why);
	if (le32_to_cpu(h->page_size) != (u32)1 << st->page_shift)
		return fail(st, -EPROTO, "page size differs from this host's", why);
	st->phase = KVMMIG_STREAM_IN_ROUND;
	return 0;
}
