/*
 * digest.c: a fast 64-bit digest of guest memory (word-wise multiply-rotate
 * mixing). Holes of the guest's memfd (pages never written) are mixed in as
 * the zeros they read as, without reading them: a read would allocate them.
 * A hugetlb memfd answers SEEK_DATA with "all of it"; there a huge page is
 * written if this process maps it (mincore): the guest's writes fault it
 * into the VMM's page tables, as kvmmig.ko's writes into a destination do.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/digest.h"

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w * 0x9e3779b97f4a7c15ull;
	h = (h << 29 | h >> 35) * 0xbf58476d1ce4e5b9ull;
	return h;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, uint64_t len)
{
	const uint8_t *end = p + len;

	for (; p + 8 <= end; p += 8) {
		uint64_t w;

		memcpy(&w, p, sizeof(w));
		h = mix(h, w);
	}
	return h;
}

bool vmm_mem_is_zero(const uint8_t *p, size_t len)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < len / sizeof(*q); i++)
		if (q[i])
			return false;
	return true;
}

static uint64_t mix_zeros(uint64_t h, uint64_t len)
{
	for (; len >= 8; len -= 8)
		h = mix(h, 0);
	return h;
}

/*
 * The first file offset in [from, end) the memfd holds data at, else @end.
 * Where holes cannot be told (lseek fails otherwise), everything is data.
 */
static uint64_t next_data(int fd, uint64_t from, uint64_t end)
{
	off_t at = lseek(fd, from, SEEK_DATA);

	if (at < 0)
		return errno == ENXIO ? end : from;
	return (uint64_t)at > end ? end : (uint64_t)at;
}

/* The first hole in (from, end], else @end. */
static uint64_t next_hole(int fd, uint64_t from, uint64_t end)
{
	off_t at = lseek(fd, from, SEEK_HOLE);

	return at < 0 || (uint64_t)at > end ? end : (uint64_t)at;
}

/*
 * The next range of slot @s, from file offset @at, that may hold data:
 * [*data, *hole). Holes of a memfd by SEEK_DATA; of a hugetlb memfd, which
 * calls all of itself data, by the huge pages this process maps.
 */
static void next_range(const struct vmm_vm *vm, const struct vmm_memslot *s, uint64_t at,
		       uint64_t *data, uint64_t *hole)
{
	uint64_t end = s->file_offset + s->size;

	if (vm->hugepage_bytes) {
		const uint8_t *hva = s->hva - s->file_offset;
		unsigned char mapped;

		for (*data = at; *data < end; *data += vm->hugepage_bytes) {
			mapped = 1;
			mincore((void *)(hva + *data), 1, &mapped);
			if (mapped & 1)
				break;
		}
		*hole = *data < end ? *data + vm->hugepage_bytes : end;
		return;
	}
	*data = next_data(vm->mem_fd, at, end);
	*hole = next_hole(vm->mem_fd, *data, end);
	/* lseek disagreeing with itself: read the rest. */
	if (*hole <= *data)
		*hole = end;
}

static uint64_t finalize(uint64_t h)
{
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

uint64_t vmm_memory_digest(struct vmm_vm *vm)
{
	uint64_t h = 0x6b766d6d6967ull; /* "kvmmig" */

	for (int i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];
		uint64_t base = s->file_offset, end = base + s->size, at = base, data, hole;

		h = mix(h, s->gpa);
		h = mix(h, s->size);
		while (at < end) {
			next_range(vm, s, at, &data, &hole);
			h = mix_zeros(h, data - at);
			h = mix_bytes(h, s->hva + (data - base), hole - data);
			at = hole;
		}
	}
	/* Finalize so that nearby inputs land far apart. */
	return finalize(h);
}

uint64_t vmm_memory_digest2(struct vmm_vm *vm)
{
	uint64_t sum = 0;

	for (int i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];
		uint64_t base = s->file_offset, end = base + s->size, at = base, data, hole;

		sum += finalize(mix(mix(0x6b766d6d69673232ull, s->gpa), s->size));
		while (at < end) {
			next_range(vm, s, at, &data, &hole);
			for (uint64_t off = data; off < hole; off += 4096) {
				const uint8_t *page = s->hva + (off - base);

				if (!vmm_mem_is_zero(page, 4096))
					sum += finalize(mix_bytes(mix(0x32, s->gpa + (off - base)),
								  page, 4096));
			}
			at = hole;
		}
	}
	return finalize(sum);
}
