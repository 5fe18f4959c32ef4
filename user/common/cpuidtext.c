/* cpuidtext.c: CPUID as text ("cpuid F I EAX EBX ECX EDX" lines), parsed strictly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cpuidtext.h"

static int text_error(char *err, size_t len, unsigned int line, const char *what, const char *text)
{
	char shown[41];
	size_t i;

	/* The offending text, printable and short: it ends up in a one-line error. */
	for (i = 0; text && text[i] && i < sizeof(shown) - 1; i++)
		shown[i] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	shown[i] = '\0';
	snprintf(err, len, "line %u: %s: '%s%s'", line, what, shown,
		 text && strlen(text) > i ? "..." : "");
	return -EINVAL;
}

/* "0x" and 1 to 8 hex digits. */
static bool parse_hex32(const char *s, uint32_t *v)
{
	size_t n;

	if (!s || strncmp(s, "0x", 2))
		return false;
	s += 2;
	n = strspn(s, "0123456789abcdefABCDEF");
	if (!n || n > 8 || s[n])
		return false;
	*v = (uint32_t)strtoul(s, NULL, 16);
	return true;
}

/* 1 to 10 decimal digits, at most @max. */
static bool parse_dec(const char *s, uint64_t max, uint64_t *v)
{
	size_t n;

	if (!s)
		return false;
	n = strspn(s, "0123456789");
	if (!n || n > 10 || s[n])
		return false;
	*v = strtoull(s, NULL, 10);
	return *v <= max;
}

static bool function_in_range(uint32_t f)
{
	uint32_t base = f & 0xffffff00u;

	return base == 0 || base == 0x40000000u || base == 0x80000000u || base == 0xc0000000u;
}

/* Splits @line at single spaces into at most @max words; the count, or -1 if more. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;

	for (char *p = line; p; n++) {
		if (n == max)
			return -1;
		words[n] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = '\0';
	}
	return n;
}

static int parse_cpuid_line(char **w, int n, unsigned int lineno, const char *line,
			    struct cpuid_text *out, char *err, size_t len)
{
	struct kvm_cpuid_entry2 e = {0};
	uint64_t index;

	if (n != 7 || !parse_hex32(w[1], &e.function) || !parse_dec(w[2], UINT32_MAX, &index) ||
	    !parse_hex32(w[3], &e.eax) || !parse_hex32(w[4], &e.ebx) ||
	    !parse_hex32(w[5], &e.ecx) || !parse_hex32(w[6], &e.edx))
		return text_error(err, len, lineno,
				  "not 'cpuid 0xFUNCTION INDEX 0xEAX 0xEBX 0xECX 0xEDX'", line);
	if (!function_in_range(e.function) || index > 255)
		return text_error(err, len, lineno, "CPUID leaf out of range", line);
	e.index = (uint32_t)index;
	for (uint32_t i = 0; i < out->cpuid->nent; i++)
		if (out->cpuid->entries[i].function == e.function &&
		    out->cpuid->entries[i].index == e.index)
			return text_error(err, len, lineno, "the same CPUID leaf twice", line);
	if (out->cpuid->nent == out->cap) {
		snprintf(err, len, "line %u: more than %u CPUID leaves", lineno, out->cap);
		return -EINVAL;
	}
	out->cpuid->entries[out->cpuid->nent++] = e;
	return 0;
}

static int parse_model_line(char **w, int n, unsigned int lineno, const char *line,
			    struct cpuid_text *out, char *err, size_t len)
{
	uint64_t version;
	size_t nlen = n > 1 ? strlen(w[1]) : 0;

	if (out->model[0])
		return text_error(err, len, lineno, "a second cpu-model line", line);
	if (n != 3 || !nlen || nlen >= CPUID_TEXT_MODEL_MAX ||
	    strspn(w[1], "abcdefghijklmnopqrstuvwxyz0123456789-_.") != nlen ||
	    !parse_dec(w[2], 65535, &version) || !version)
		return text_error(err, len, lineno, "not 'cpu-model NAME VERSION'", line);
	memcpy(out->model, w[1], nlen + 1);
	out->model_version = (unsigned int)version;
	return 0;
}

static int parse_tsc_line(char **w, int n, unsigned int lineno, const char *line,
			  struct cpuid_text *out, char *err, size_t len)
{
	uint64_t khz;

	if (out->has_tsc_khz)
		return text_error(err, len, lineno, "a second tsc-khz line", line);
	/* 100 GHz is far above any TSC. */
	if (n != 2 || !parse_dec(w[1], 100000000, &khz))
		return text_error(err, len, lineno, "not 'tsc-khz KHZ'", line);
	out->has_tsc_khz = true;
	out->tsc_khz = (uint32_t)khz;
	return 0;
}

int cpuid_text_parse(char *text, unsigned int flags, struct cpuid_text *out, char *err,
		     size_t err_size)
{
	unsigned int lineno = 0;
	char *line = text;

	out->cpuid->nent = 0;
	out->model[0] = '\0';
	out->model_version = 0;
	out->has_tsc_khz = false;
	out->tsc_khz = 0;
	while (line && *line) {
		char *nl = strchr(line, '\n'), *next = nl ? nl + 1 : NULL, *w[8], copy[80];
		int n, ret;

		if (nl)
			*nl = '\0';
		lineno++;
		if ((flags & CPUID_TEXT_COMMENTS) && (!*line || *line == '#')) {
			line = next;
			continue;
		}
		snprintf(copy, sizeof(copy), "%s", line);
		n = split_words(line, w, 8);
		if (n > 0 && !strcmp(w[0], "cpuid"))
			ret = parse_cpuid_line(w, n, lineno, copy, out, err, err_size);
		else if (n > 0 && !strcmp(w[0], "cpu-model"))
			ret = parse_model_line(w, n, lineno, copy, out, err, err_size);
		else if (n > 0 && !strcmp(w[0], "tsc-khz"))
			ret = parse_tsc_line(w, n, lineno, copy, out, err, err_size);
		else
			ret = text_error(err, err_size, lineno,
					 "not a cpuid, cpu-model or tsc-khz line", copy);
		if (ret)
			return ret;
		line = next;
	}
	return 0;
}
