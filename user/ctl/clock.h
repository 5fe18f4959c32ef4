/* clock.h: the tool's one clock, CLOCK_MONOTONIC, for deadlines and durations. */
#ifndef KVMMIG_CTL_CLOCK_H
#define KVMMIG_CTL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ms(void)
{
	return mono_ns() / 1000000;
}

#endif /* KVMMIG_CTL_CLOCK_H */
