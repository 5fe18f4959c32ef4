/*
 * ramverify_test.c: the QEMU verify-and-repair pass (user/ctl/ramverify.c)
 * on two RAM files in /dev/shm: the digests see holes as zero pages, a
 * repair over a socketpair makes the destination equal the source, a key
 * change changes the digests, and a hostile repair message (a page outside
 * the file) is refused without writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ramverify.h"
#include "ctl/wire.h"

#define PAGE  4096
#define PAGES 1024 /* 4 MiB */

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: ramverify: %s\n", ok ? "PASS" : "FAIL", what);
	failures += !ok;
}

static int shm_file(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/kvmmig-ramverify-%d-%s", (int)getpid(), name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path);
	if (fd < 0 || ftruncate(fd, PAGES * PAGE))
		exit(2);
	return fd;
}

static void put_page(int fd, uint64_t page, int fill)
{
	char buf[PAGE];

	memset(buf, fill, sizeof(buf));
	if (pwrite(fd, buf, PAGE, page * PAGE) != PAGE)
		exit(2);
}

static int same_files(int a, int b)
{
	char x[PAGE], y[PAGE];

	for (uint64_t i = 0; i < PAGES; i++)
		if (pread(a, x, PAGE, i * PAGE) != PAGE || pread(b, y, PAGE, i * PAGE) != PAGE ||
		    memcmp(x, y, PAGE))
			return 0;
	return 1;
}

int main(void)
{
	struct ram_file src = {.fd = shm_file("src"), .size = PAGES * PAGE};
	struct ram_file dst = {.fd = shm_file("dst"), .size = PAGES * PAGE};
	uint8_t key[RAM_KEY_BYTES] = {1, 2, 3}, key2[RAM_KEY_BYTES] = {9};
	uint64_t *ds, *dd, *dk, repaired = 0, got = 0, i, differ = 0;
	char why[200];
	int sv[2], status;
	pid_t pid;

	/* The source: data pages here and there; the destination: some equal, some stale. */
	for (i = 0; i < PAGES; i += 7)
		put_page(src.fd, i, (int)(i % 251) + 1);
	for (i = 0; i < PAGES; i += 7)
		put_page(dst.fd, i, i % 3 ? (int)(i % 251) + 1 : 0xee);
	put_page(dst.fd, 3, 0);	   /* data of zeros where the source has a hole: equal */
	put_page(dst.fd, 5, 0x77); /* data where the source has a hole: stale */
	check(!ram_digests(&src, key, &ds) && !ram_digests(&dst, key, &dd), "digests both files");
	for (i = 0; i < PAGES; i++)
		differ += ds[i] != dd[i];
	/* Pages 0, 21, 42...: i % 7 == 0 and i % 3 == 0; plus page 5. */
	if (differ != (PAGES + 20) / 21 + 1)
		printf("info: ramverify: %llu pages differ\n", (unsigned long long)differ);
	check(differ == (PAGES + 20) / 21 + 1,
	      "exactly the stale pages differ (holes count as zeros)");
	check(ds[3] == dd[3] && ds[1] == dd[1], "a hole and a page of zeros digest alike");
	check(!ram_digests(&src, key2, &dk) && dk[7] != ds[7], "another key, other digests");
	{
		/* Ranges cut through runs of data and holes alike. */
		unsigned int threads[] = {1, 2, 3, 7, 64, 2000};
		int same = 1;

		for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
			uint64_t *dt;

			if (ram_digests_threads(&dst, key, threads[i], &dt)) {
				same = 0;
				break;
			}
			same &= !memcmp(dt, dd, PAGES * sizeof(*dt));
			free(dt);
		}
		check(same, "1, 2, 3, 7, 64 or 2000 threads: the same digests, page for page");
	}

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 2;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(ram_repair_receive(sv[1], &dst, &got, why, sizeof(why)) ? 1 : 0);
	}
	close(sv[1]);
	{
		uint64_t *le = malloc(PAGES * 8);

		for (i = 0; i < PAGES; i++)
			le[i] = htole64(dd[i]);
		check(!ram_repair_send(sv[0], &src, ds, le, &repaired), "repair pages sent");
		free(le);
	}
	waitpid(pid, &status, 0);
	close(sv[0]);
	check(WIFEXITED(status) && !WEXITSTATUS(status), "the destination takes the repair");
	check(repaired == differ, "every differing page is resent, no other");
	check(same_files(src.fd, dst.fd), "the destination equals the source afterwards");

	/* A hostile source: a page past the end of the file. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 2;
	{
		char msg[8 + PAGE];
		uint64_t off = htole64((uint64_t)PAGES * PAGE);

		memcpy(msg, &off, 8);
		memset(msg + 8, 0x66, PAGE);
		wire_send(sv[0], WIRE_RAM_PAGES, msg, sizeof(msg));
		check(ram_repair_receive(sv[1], &dst, &got, why, sizeof(why)) == -ERANGE &&
			  strstr(why, "outside"),
		      "a repaired page outside the RAM file is refused");
		close(sv[0]);
		close(sv[1]);
	}
	{
		/* Side by side, not asserted: a 64 MiB file of data, one thread and one per CPU. */
		struct ram_file big = {.fd = shm_file("big"), .size = 64ull << 20};
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		double ms[2];
		uint64_t *d;

		if (ftruncate(big.fd, big.size))
			return 2;
		for (i = 0; i < big.size / PAGE; i++)
			put_page(big.fd, i, (int)(i % 251) + 1);
		for (int k = 0; k < 2; k++) {
			struct timespec a, b;

			clock_gettime(CLOCK_MONOTONIC, &a);
			ram_digests_threads(&big, key, k ? (unsigned int)cpus : 1, &d);
			clock_gettime(CLOCK_MONOTONIC, &b);
			ms[k] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
			free(d);
		}
		printf("info: ramverify: 64 MiB of data pages digested in %.1f ms by 1 thread, "
		       "%.1f ms by %ld (this build is under ASan)\n",
		       ms[0], ms[1], cpus);
		close(big.fd);
	}
	free(ds);
	free(dd);
	free(dk);
	return failures ? 1 : 0;
}
