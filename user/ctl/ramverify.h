/*
 * ramverify.h: the verify-and-repair pass over a QEMU guest's RAM file at
 * switchover (Documentation/kvmmig.rst, "QEMU guests: the write tracker").
 *
 * KVM's dirty log misses what QEMU itself and vhost write into guest RAM.
 * With every writer stopped (QEMU held at pre-switchover), both sides
 * digest every page of the RAM file under a key the source draws for this
 * migration, and the source resends each page whose digest differs. The
 * pass does not trust any tracker: it compares the memory itself.
 */
#ifndef KVMMIG_CTL_RAMVERIFY_H
#define KVMMIG_CTL_RAMVERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RAM_KEY_BYTES 16

struct ram_file {
	int fd;		/* the RAM file, through /proc/PID/map_files */
	uint64_t size;	/* bytes, a multiple of the page size */
	uint64_t start; /* where QEMU maps offset 0 */
};

/*
 * Finds QEMU's (@pid) shared tmpfs mapping of @size bytes at file offset 0
 * (a memfd or a /dev/shm file: the backend x-ignore-shared skips) and
 * opens that file, read-only or for writing. 0, or -errno with @why.
 */
int ram_file_open(pid_t pid, uint64_t size, int writable, struct ram_file *rf, char *why,
		  size_t len);
void ram_file_close(struct ram_file *rf);

/*
 * One SipHash-2-4 digest per page under @key, malloc'ed in *@out. 0 or -errno.
 * The pass runs with the guest stopped (downtime) and its cost is reading
 * every data page: the file is cut into one range per online CPU, at most
 * RAM_DIGEST_MAX_THREADS and none under RAM_DIGEST_MIN_BYTES, each digested
 * by a thread of its own. ram_digests_threads() takes the count.
 */
#define RAM_DIGEST_MAX_THREADS 8
#define RAM_DIGEST_MIN_BYTES   (64ull << 20)
int ram_digests(const struct ram_file *rf, const uint8_t key[RAM_KEY_BYTES], uint64_t **out);
int ram_digests_threads(const struct ram_file *rf, const uint8_t key[RAM_KEY_BYTES],
			unsigned int threads, uint64_t **out);

/*
 * Source: the destination's digests (@theirs, as received: le64 each)
 * against @mine; each page that differs goes as RAM_PAGES, then RAM_DONE.
 * *@repaired counts them. 0 or -errno.
 */
int ram_repair_send(int sock, const struct ram_file *rf, const uint64_t *mine, const void *theirs,
		    uint64_t *repaired);

/*
 * Destination: writes the RAM_PAGES that arrive into @rf up to RAM_DONE.
 * 0, or -errno with @why (a page outside the file, a malformed message).
 */
int ram_repair_receive(int sock, const struct ram_file *rf, uint64_t *repaired, char *why,
		       size_t len);

#endif /* KVMMIG_CTL_RAMVERIFY_H */
