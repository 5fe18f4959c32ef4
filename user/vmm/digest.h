/* digest.h: a digest of a VM's guest memory, to prove two copies equal (kvmmig-ctl migrate
 * --verify). */
#ifndef KVMMIG_VMM_DIGEST_H
#define KVMMIG_VMM_DIGEST_H

#include <stdint.h>

#include "vmm/vmm.h"

/*
 * 64 bits over every memslot's gpa, size and bytes. Meant to catch
 * transfer bugs, not an adversary: the migration socket is trusted only
 * after the handshake anyway. Call with the vCPUs stopped. The newest
 * version this VMM computes (status: digest-versions).
 */
#define VMM_DIGEST_VERSION 2

/*
 * Version 1: every byte in slot order, holes mixed in as the zeros they
 * read as: its cost follows the guest's size (a 64 GiB guest that wrote
 * 16 MiB: seconds). Version 2: a sum over the pages that hold anything of
 * a hash of (GPA, contents), so pages of zeros add nothing, holes are not
 * visited, and its cost follows what the guest wrote. Either depends only
 * on contents, never on how the memory is backed.
 */
uint64_t vmm_memory_digest(struct vmm_vm *vm);
uint64_t vmm_memory_digest2(struct vmm_vm *vm);

/* Whether @len bytes at @p (8-byte aligned, @len a multiple of 8) are all zero. */
bool vmm_mem_is_zero(const uint8_t *p, size_t len);

#endif /* KVMMIG_VMM_DIGEST_H */
