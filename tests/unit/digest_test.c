/*
 * digest_test.c: the guest-memory digest skips memfd holes without changing
 * its value: it equals the same mixing over every byte read, in a memfd
 * with data and holes in both slots, and it still changes with any byte.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/digest.h"

static int failures;

static void check(const char *name, int ok, const char *why)
{
	if (ok)
		printf("PASS: digest: %s\n", name);
	else
		printf("FAIL: digest: %s: %s\n", name, why);
	failures += !ok;
}

/* The reference: the same mixing over every word, read. */
static uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w * 0x9e3779b97f4a7c15ull;
	h = (h << 29 | h >> 35) * 0xbf58476d1ce4e5b9ull;
	return h;
}

static uint64_t digest_by_reading(const struct vmm_vm *vm)
{
	uint64_t h = 0x6b766d6d6967ull;

	for (int i = 0; i < vm->nslots; i++) {
		const struct vmm_memslot *s = &vm->slots[i];

		h = mix(h, s->gpa);
		h = mix(h, s->size);
		for (uint64_t off = 0; off + 8 <= s->size; off += 8) {
			uint64_t w;

			memcpy(&w, s->hva + off, sizeof(w));
			h = mix(h, w);
		}
	}
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

static long allocated_pages(int fd)
{
	off_t at = 0, end = lseek(fd, 0, SEEK_END);
	long n = 0;

	while (at < end) {
		off_t d = lseek(fd, at, SEEK_DATA), h;

		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		n += (h - d) / 4096;
		at = h;
	}
	return n;
}

int main(void)
{
	const uint64_t page = 4096, size = 64 * page;
	static struct vmm_vm vm;
	char why[128];
	uint8_t *mem;
	uint64_t fast, slow, before, orig;
	long pages;

	vm.mem_fd = memfd_create("digest-test", 0);
	if (vm.mem_fd < 0 || ftruncate(vm.mem_fd, 2 * size) < 0) {
		check("a memfd for guest memory", 0, "memfd_create/ftruncate failed");
		return 1;
	}
	mem = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED, vm.mem_fd, 0);
	if (mem == MAP_FAILED) {
		check("the memfd maps", 0, "mmap failed");
		return 1;
	}
	vm.nslots = 2;
	vm.slots[0] = (struct vmm_memslot){.gpa = 0, .size = size, .file_offset = 0, .hva = mem};
	vm.slots[1] = (struct vmm_memslot){
	    .slot = 1, .gpa = 1ull << 32, .size = size, .file_offset = size, .hva = mem + size};
	/* Data at the very start, in the middle, a zero-filled written page,
	 * data at the last page of slot 0 and the first of slot 1. */
	memset(mem, 0xa5, page);
	memset(mem + 10 * page + 100, 0x5a, 3 * page);
	memset(mem + 30 * page, 0, page);
	mem[size - 1] = 1;
	mem[size] = 2;
	mem[2 * size - 8] = 3;

	orig = fast = vmm_memory_digest(&vm);
	pages = allocated_pages(vm.mem_fd);
	snprintf(why, sizeof(why), "%ld of 128 pages allocated after the digest", pages);
	check("the digest reads no hole (pages allocated stay those written)", pages == 9, why);
	slow = digest_by_reading(&vm);
	snprintf(why, sizeof(why), "%016llx, reading every byte gives %016llx",
		 (unsigned long long)fast, (unsigned long long)slow);
	check("holes count as the zeros they read as", fast == slow, why);

	before = fast;
	mem[40 * page + 7] = 1; /* a byte in what was a hole */
	fast = vmm_memory_digest(&vm);
	check("a byte written into a hole changes the digest", fast != before, "unchanged");
	check("and it still equals the digest by reading", fast == digest_by_reading(&vm), "differs");
	mem[40 * page + 7] = 0; /* the page stays allocated, zero again */
	fast = vmm_memory_digest(&vm);
	check("an allocated zero page digests as the hole it was", fast == orig, "differs");
	return failures ? 1 : 0;
}
