/* digest.h: a digest of a VM's guest memory, to prove two copies equal (kvmmig-ctl migrate
 * --verify). */
#ifndef KVMMIG_VMM_DIGEST_H
#define KVMMIG_VMM_DIGEST_H

#include <stdint.h>

#include "vmm/vmm.h"

/*
 * 64 bits over every memslot's gpa, size and bytes, in slot order. Meant to
 * catch transfer bugs, not an adversary: the migration socket is trusted
 * only after the handshake anyway. Call with the vCPUs stopped.
 */
uint64_t vmm_memory_digest(struct vmm_vm *vm);

#endif /* KVMMIG_VMM_DIGEST_H */
