/*
 * stream_fuzz.c: libFuzzer target for the page-stream parser. Builds the
 * module's own kmod/stream.c in userspace and plays the destination: every
 * header goes through the parser, and every page it accepts is written
 * into a fake guest memory sized exactly like its memslots, under ASan, so
 * a check the parser lacks shows up as an out-of-bounds write.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address -Iinclude/uapi \
 *         tests/fuzz/stream_fuzz.c -o build/tests/stream_fuzz
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define KVMMIG_STREAM_USERSPACE 1
#include "../../kmod/stream.c"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1u << PAGE_SHIFT)

/* Two memslots with a hole between them, as a VM below and above 4 GiB. */
static const struct {
	u64 base_gfn, npages;
} layout[] = { { 0, 16 }, { 0x100000, 8 } };
#define NSLOTS (sizeof(layout) / sizeof(layout[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvmmig_stream_slot slots[NSLOTS];
	uint8_t *mem[NSLOTS];
	struct kvmmig_stream st;
	size_t off = 0;
	unsigned i;

	for (i = 0; i < NSLOTS; i++) {
		mem[i] = malloc(layout[i].npages * PAGE_SIZE);
		slots[i].base_gfn = layout[i].base_gfn;
		slots[i].npages = layout[i].npages;
		/* uaddr is opaque to the parser: hand it the real buffer. */
		slots[i].uaddr = (u64)(uintptr_t)mem[i];
	}
	kvmmig_stream_init(&st, slots, NSLOTS, PAGE_SHIFT);

	for (;;) {
		struct kvmmig_wire_rec rec;
		struct kvmmig_stream_op op;
		const char *why = NULL;

		if (size - off < sizeof(rec))
			break;	/* truncated: the kernel reports ECONNRESET */
		memcpy(&rec, data + off, sizeof(rec));
		off += sizeof(rec);
		if (kvmmig_stream_header(&st, &rec, &op, &why)) {
			assert(why);
			/* A failed stream stays failed. */
			assert(kvmmig_stream_header(&st, &rec, &op, &why) < 0);
			break;
		}
		if (op.type == KVMMIG_REC_HELLO) {
			assert(op.len == sizeof(struct kvmmig_wire_hello));
			if (size - off < op.len)
				break;
			if (kvmmig_stream_hello(&st, data + off, op.len, &why))
				break;
			off += op.len;
		} else if (op.type == KVMMIG_REC_PAGES) {
			size_t n = op.len;

			assert(op.len == (u64)op.npages << PAGE_SHIFT);
			if (size - off < n)
				n = size - off;	/* a short read lands a prefix */
			memcpy((void *)(uintptr_t)op.uaddr, data + off, n);
			off += n;
		} else if (op.type == KVMMIG_REC_ZERO) {
			assert(op.len == 0);
			memset((void *)(uintptr_t)op.uaddr, 0,
			       (size_t)op.npages << PAGE_SHIFT);
		} else if (op.type == KVMMIG_REC_END) {
			/* Nothing may be accepted after END. */
			if (size - off >= sizeof(rec)) {
				memcpy(&rec, data + off, sizeof(rec));
				assert(kvmmig_stream_header(&st, &rec, &op, &why) < 0);
			}
			break;
		}
	}
	for (i = 0; i < NSLOTS; i++)
		free(mem[i]);
	return 0;
}
