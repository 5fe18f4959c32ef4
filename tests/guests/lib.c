/* lib.c: the little runtime of payload guests: port I/O, TSC, line output, command-line parsing. */
#include "lib.h"

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

void line_u64(struct line *l, uint64_t v)
{
	char digits[21];
	int n = 0;

	do {
		digits[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = digits[--n];
}

void line_hex(struct line *l, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	bool started = false;

	line_str(l, "0x");
	for (int shift = 60; shift >= 0; shift -= 4) {
		unsigned int d = (v >> shift) & 0xf;

		if (d || started || shift == 0) {
			started = true;
			if (l->len < sizeof(l->buf) - 1)
				l->buf[l->len++] = hex[d];
		}
	}
}

void line_send(struct line *l)
{
	const char *p = l->buf;
	uint64_t n;

	l->buf[l->len++] = '\n';
	n = l->len;
	__asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(PAYLOAD_PORT_CONSOLE) : "memory");
	l->len = 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

uint64_t cmdline_u64(const struct payload_boot_info *boot, const char *key, uint64_t def)
{
	const char *s = (const char *)(uintptr_t)boot->cmdline_gpa;
	const char *end = s + boot->cmdline_len;

	while (s < end) {
		const char *k = key, *p = s;

		while (p < end && *k && *p == *k) {
			p++;
			k++;
		}
		if (!*k && p < end && *p == '=') {
			uint64_t v = 0;
			bool any = false;

			for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
				v = v * 10 + (*p - '0');
				any = true;
			}
			return any && (p == end || is_space(*p)) ? v : def;
		}
		while (s < end && !is_space(*s))
			s++;
		while (s < end && is_space(*s))
			s++;
	}
	return def;
}

void guest_exit(uint32_t status)
{
	outl(PAYLOAD_PORT_EXIT, status);
	guest_halt();
}

void guest_halt(void)
{
	/* At CPL 3 hlt faults: spin until the VMM pauses or ends the VM. */
	for (;;)
		cpu_relax();
}
