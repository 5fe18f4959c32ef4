/* lib.h: the little runtime of payload guests: port I/O, TSC, line output, command-line parsing. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/payload_abi.h"

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* A line being built for the debug console; one per vCPU. */
struct line {
	char buf[240];
	uint32_t len;
} __attribute__((aligned(256))); /* never crosses a page: one exit per line */

void line_str(struct line *l, const char *s);
void line_u64(struct line *l, uint64_t v);
void line_hex(struct line *l, uint64_t v);
/* Appends a newline and writes the line to the debug console with one rep outsb. */
void line_send(struct line *l);

/* Value of "key=NUMBER" in the command line, or @def when absent or malformed. */
uint64_t cmdline_u64(const struct payload_boot_info *boot, const char *key, uint64_t def);

/* Ends the VM with @status through the exit port; does not return. */
__attribute__((noreturn)) void guest_exit(uint32_t status);
/* Spins (CPL 3 cannot halt) until a pause or the end of the VM. */
__attribute__((noreturn)) void guest_halt(void);

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif /* GUEST_LIB_H */
