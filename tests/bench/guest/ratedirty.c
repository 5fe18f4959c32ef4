/*
 * ratedirty.c: the benchmark's guest workload (Linux test guest, built into
 * the bench initramfs). Fills MIB MiB with non-zero data, then dirties RATE
 * pages per second (one word per page, round robin, in 10 ms ticks against
 * CLOCK_MONOTONIC) and prints "rd <seq> <pages written>" every REPORT_MS.
 * The host timestamps those console lines: the longest silence around a
 * migration is the downtime as the guest's users see it. A line "rate N"
 * on the console (stdin) changes the rate.
 *
 *   ratedirty MIB RATE REPORT_MS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	uint64_t rate = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000;
	uint64_t report_ns = (argc > 3 ? strtoull(argv[3], NULL, 0) : 50) * 1000000ull;
	size_t npages = mib * 256, pos = 0;
	uint64_t *mem, seq = 0, written = 0, t0, tick = 10000000ull, next_report, owed = 0, k;
	struct timespec ts;
	char in[64];
	size_t inlen = 0;

	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	mem = malloc(npages * 4096);
	if (!mem) {
		printf("ratedirty: cannot allocate %zu MiB\n", mib);
		return 1;
	}
	for (size_t i = 0; i < npages * 512; i++) /* every page non-zero, distinct */
		mem[i] = i * 0x9e3779b97f4a7c15ull + 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ratedirty: start %zu MiB, %llu pages/s\n", mib, (unsigned long long)rate);
	t0 = now_ns();
	next_report = t0 + report_ns;
	for (k = 1;; k++) {
		uint64_t due = t0 + k * tick, now;

		owed += rate; /* pages owed per tick: rate / 100, carried in hundredths */
		while (owed >= 100) {
			mem[pos * 512 + (k & 511)] = k;
			pos = (pos + 1) % npages;
			written++;
			owed -= 100;
		}
		if (!(k % 10)) { /* console input, every 100 ms */
			ssize_t got = read(0, in + inlen, sizeof(in) - 1 - inlen);
			char *nl;

			if (got > 0) {
				inlen += got;
				in[inlen] = 0;
				while ((nl = strchr(in, '\n'))) {
					*nl = 0;
					if (!strncmp(in, "rate ", 5)) {
						rate = strtoull(in + 5, NULL, 0);
						printf("ratedirty: rate %llu\n", (unsigned long long)rate);
					}
					inlen -= nl + 1 - in;
					memmove(in, nl + 1, inlen + 1);
				}
				if (inlen >= sizeof(in) - 1)
					inlen = 0;
			}
		}
		now = now_ns();
		if (now >= next_report) {
			printf("rd %llu %llu\n", (unsigned long long)++seq, (unsigned long long)written);
			next_report = now + report_ns;
		}
		if (now < due) {
			ts.tv_sec = due / 1000000000ull;
			ts.tv_nsec = due % 1000000000ull;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		} else if (now > due + 100 * tick) {
			t0 = now - k * tick; /* fell far behind (a pause): do not catch up in a burst */
		}
	}
}
