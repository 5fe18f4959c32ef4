/* digest.c: a fast 64-bit digest of guest memory (word-wise multiply-rotate mixing). */
#include <string.h>

#include "vmm/digest.h"

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w * 0x9e3779b97f4a7c15ull;
	h = (h << 29 | h >> 35) * 0xbf58476d1ce4e5b9ull;
	return h;
}

uint64_t vmm_memory_digest(struct vmm_vm *vm)
{
	uint64_t h = 0x6b766d6d6967ull; /* "kvmmig" */
	int i;

	for (i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];
		const uint8_t *p = s->hva, *end = s->hva + s->size;

		h = mix(h, s->gpa);
		h = mix(h, s->size);
		for (; p + 8 <= end; p += 8) {
			uint64_t w;

			memcpy(&w, p, sizeof(w));
			h = mix(h, w);
		}
	}
	/* Finalize so that nearby inputs land far apart. */
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}
