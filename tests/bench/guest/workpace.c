/*
 * workpace.c: the convergence benchmark's measure of a vCPU's pace (Linux
 * test guest, bench initramfs). Does fixed units of pure CPU work, touching
 * no memory but its stack, and prints "wp <seq> <units done>" every
 * REPORT_MS. Run pinned to a vCPU that does not dirty memory: the host
 * timestamps its lines, and the units per second during a migration against
 * before it are how much the migration's throttle slowed that vCPU.
 *
 *   workpace REPORT_MS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t report_ns = (argc > 1 ? strtoull(argv[1], NULL, 0) : 50) * 1000000ull;
	uint64_t seq = 0, units = 0, next, now;
	volatile uint64_t x = 1; /* volatile: the work is done, not folded away */

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("workpace: start\n");
	next = now_ns() + report_ns;
	for (;;) {
		for (int i = 0; i < 10000; i++) /* one unit: 10,000 multiply-adds */
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		units++;
		now = now_ns();
		if (now >= next) {
			printf("wp %llu %llu\n", (unsigned long long)++seq, (unsigned long long)units);
			next = now + report_ns;
		}
	}
}
