/*
 * diskcheck.c: the QEMU test guest's device workload: reads a virtio-blk
 * disk of known contents into memory with O_DIRECT (QEMU's device
 * emulation writes those pages, never a vCPU) and keeps re-checking the
 * memory against what the disk holds there.
 *
 *   diskcheck DEV MIB
 *
 * Block b (4 KiB) of the disk holds in word w the value pattern(b, w). A
 * MIB MiB buffer is cut into 256 KiB chunks; the loop reads a new disk
 * offset into one chunk after another (round robin) and records the offset
 * (a vCPU write). Every 100 ms it re-reads the whole buffer and prints
 *	diskcheck: step <n> chunks <c> ok
 * or "diskcheck: MISMATCH chunk <c> block <b> word <w>" when a chunk does not
 * hold the blocks recorded for it: a migration that lost a device write to
 * guest memory (the chunk still holds an older read) shows it at once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u
#define CHUNK (256u * 1024)

static uint64_t pattern(uint64_t block, uint64_t word)
{
	return (block << 20 | word) ^ 0x5ca1ab1e00000000ull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 0) : 16, nchunks, c, i;
	uint64_t *buf, *where, disk_blocks, step = 0, next, bad = 0;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: diskcheck DEV MIB\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror("diskcheck: open");
		return 1;
	}
	disk_blocks = lseek(fd, 0, SEEK_END) / BLOCK;
	nchunks = mib * 1024 * 1024 / CHUNK;
	where = calloc(nchunks, sizeof(*where));
	if (disk_blocks < 2 * CHUNK / BLOCK || !nchunks || !where ||
	    posix_memalign((void **)&buf, BLOCK, nchunks * CHUNK)) {
		fprintf(stderr, "diskcheck: disk too small or no memory\n");
		return 1;
	}
	printf("diskcheck: start, %zu chunks, disk of %" PRIu64 " blocks\n", nchunks, disk_blocks);
	/* Every chunk starts holding disk data, so each check has something to check. */
	for (c = 0; c < nchunks; c++) {
		where[c] = (c * (CHUNK / BLOCK)) % (disk_blocks - CHUNK / BLOCK);
		if (pread(fd, (char *)buf + c * CHUNK, CHUNK, where[c] * BLOCK) != CHUNK) {
			perror("diskcheck: pread");
			return 1;
		}
	}
	next = now_ms() + 100;
	for (c = 0;; c = (c + 1) % nchunks) {
		uint64_t b = (where[c] + 4099 * (step + 1)) % (disk_blocks - CHUNK / BLOCK);

		if (pread(fd, (char *)buf + c * CHUNK, CHUNK, b * BLOCK) != CHUNK) {
			perror("diskcheck: pread");
			return 1;
		}
		where[c] = b;
		step++;
		if (now_ms() < next)
			continue;
		for (i = 0; i < nchunks * CHUNK / 8; i++) {
			uint64_t ch = i / (CHUNK / 8),
				 blk = where[ch] + (i % (CHUNK / 8)) / (BLOCK / 8);

			if (buf[i] != pattern(blk, i % (BLOCK / 8))) {
				printf("diskcheck: MISMATCH chunk %" PRIu64 " block %" PRIu64
				       " word %" PRIu64 " (step %" PRIu64 ")\n",
				       ch, blk, i % (BLOCK / 8), step);
				bad++;
				break;
			}
		}
		if (i == nchunks * CHUNK / 8)
			printf("diskcheck: step %" PRIu64 " chunks %zu ok\n", step, nchunks);
		if (bad > 20)
			return 2;
		next = now_ms() + 100;
	}
}
