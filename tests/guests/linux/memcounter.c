/* memcounter.c: the Linux test guest's workload: writes memory, prints counter and checksum. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 *   memcounter [MIB [PAGES_PER_STEP [INTERVAL_MS [STEPS]]]]
 *
 * Step k (k = 1, 2, ...) writes k into the first and last words of
 * PAGES_PER_STEP pages, round robin over MIB MiB, and keeps the sum of all
 * first words up to date arithmetically. Every INTERVAL_MS it re-reads the
 * whole buffer and prints
 *	memcounter: counter <k> checksum <sum> ok
 * or "... MISMATCH want <expected>" when memory lost a write, so that the
 * counter continuing and the checksum staying "ok" across a save/restore
 * show the guest went on with its memory intact. STEPS > 0 stops there.
 */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 16;
	size_t per_step = argc > 2 ? strtoul(argv[2], NULL, 0) : 16;
	uint64_t interval = argc > 3 ? strtoul(argv[3], NULL, 0) : 200;
	uint64_t steps = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;
	size_t npages = mib * 256, words = 4096 / sizeof(uint64_t);
	uint64_t *mem, expected = 0, k = 0, next;
	size_t pos = 0;

	mem = calloc(npages, 4096);
	if (!mem || !npages) {
		fprintf(stderr, "memcounter: unable to allocate %zu MiB\n", mib);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("memcounter: start %zu MiB, %zu pages a step\n", mib, per_step);
	next = now_ms() + interval;
	for (;;) {
		uint64_t sum = 0;

		k++;
		for (size_t j = 0; j < per_step; j++, pos = (pos + 1) % npages) {
			uint64_t *page = mem + pos * words;

			expected += k - page[0];
			page[0] = k;
			page[words - 1] = k;
		}
		if (now_ms() < next && (!steps || k < steps))
			continue;
		for (size_t p = 0; p < npages; p++) {
			sum += mem[p * words];
			if (mem[p * words + words - 1] != mem[p * words])
				sum ^= 1ull << 63; /* a torn page */
		}
		if (sum == expected)
			printf("memcounter: counter %" PRIu64 " checksum %" PRIu64 " ok\n", k, sum);
		else
			printf("memcounter: counter %" PRIu64 " checksum %" PRIu64
			       " MISMATCH want %" PRIu64 "\n",
			       k, sum, expected);
		next = now_ms() + interval;
		if (steps && k >= steps)
			return sum == expected ? 0 : 1;
	}
}
