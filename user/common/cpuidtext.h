/* cpuidtext.h: CPUID as text ("cpuid F I EAX EBX ECX EDX" lines), parsed strictly. */
#ifndef KVMMIG_COMMON_CPUIDTEXT_H
#define KVMMIG_COMMON_CPUIDTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/*
 * One line each, single spaces, as a VMM's status prints them:
 *	cpuid 0x<function> <index> 0x<eax> 0x<ebx> 0x<ecx> 0x<edx>
 *	cpu-model <name> <version>	the model the guest was started with
 *	tsc-khz <kHz>			its TSC frequency (0: unknown)
 * The function in 0-0xff, 0x40000000-0x400000ff, 0x80000000-0x800000ff or
 * 0xc0000000-0xc00000ff, the index at most 255, each (function, index) once,
 * registers at most 8 hex digits. With CPUID_TEXT_COMMENTS, empty lines
 * and lines starting with '#' are skipped (dump files); otherwise the only
 * empty line allowed is after the last newline.
 */
#define CPUID_TEXT_COMMENTS  0x1
#define CPUID_TEXT_MODEL_MAX 32

struct cpuid_text {
	struct kvm_cpuid2 *cpuid; /* the caller's, room for @cap entries */
	uint32_t cap;
	char model[CPUID_TEXT_MODEL_MAX]; /* "" when no cpu-model line */
	unsigned int model_version;
	bool has_tsc_khz;
	uint32_t tsc_khz;
};

/*
 * Parses @text (modified in place) into @out. 0, or -EINVAL with one line in
 * @err: the line number and what is wrong with it.
 */
int cpuid_text_parse(char *text, unsigned int flags, struct cpuid_text *out, char *err,
		     size_t err_size);

#endif /* KVMMIG_COMMON_CPUIDTEXT_H */
