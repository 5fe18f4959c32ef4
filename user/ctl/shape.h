/* shape.h: the handshake's description of a guest, and the destination's check of it. */
#ifndef KVMMIG_CTL_SHAPE_H
#define KVMMIG_CTL_SHAPE_H

#include <stddef.h>

#include "ctl/vmmclient.h"

/* Writes HELLO's text for the VM described by @st (its CPUID lines included). */
int shape_describe(const struct vmm_status *st, char *buf, size_t len);

/*
 * The lines of a source's HELLO that describe its guest's CPU ("cpuid",
 * "cpu-model", "tsc-khz"), for the destination VMM's check-cpuid. -1 if
 * they do not fit @len.
 */
int shape_cpu_text(const char *hello, char *buf, size_t len);

/*
 * Checks a source's HELLO text against the destination VM @st. Returns 0,
 * or -1 with a one-line reason (and what to do) in @why.
 */
int shape_check(const char *hello, const struct vmm_status *st, char *why, size_t len);

#endif /* KVMMIG_CTL_SHAPE_H */
