/*
 * qemuconfig.h: can kvmmig move this QEMU guest's memory? Checked over QMP
 * (qmp.h) and /proc (qemuproc.h) before any page moves, for an unmodified
 * QEMU: kvmmig.ko carries guest RAM, QEMU's own stream the rest, so QEMU
 * must skip that RAM (capability x-ignore-shared) and nothing may write it
 * behind KVM's dirty log.
 *
 * - Guest RAM: every memory backend must be one x-ignore-shared skips.
 *   QEMU 7.2 skips every shared RAM block (migration/ram.c,
 *   ramblock_is_ignored: qemu_ram_is_shared), so memory-backend-memfd
 *   (shared by default) or memory-backend-file,share=on. From 8.1 it also
 *   needs qemu_ram_is_named_file(), which only memory-backend-file sets
 *   (RAM_NAMED_FILE, backends/hostmem-file.c): a memfd is then copied by
 *   QEMU itself. kvmmig reads the RAM through its file, so a file must be on
 *   tmpfs (/dev/shm); huge pages are refused.
 * - No System Management Mode: its SMRAM is in KVM's address space 1, whose
 *   memslots kvmmig.ko refuses.
 * - No KVM dirty ring: the bitmap is what kvmmig.ko harvests.
 * - postcopy-ram off: pages would move after the switchover.
 * - No vhost-user device or netdev, and no other process mapping guest
 *   RAM: their writes reach neither KVM's dirty log nor QEMU's.
 * - KVM in use, no migration already running, x-ignore-shared known.
 */
#ifndef KVMMIG_CTL_QEMUCONFIG_H
#define KVMMIG_CTL_QEMUCONFIG_H

#include "ctl/qmp.h"

#define QEMU_MAX_REFUSALS 16

struct qemu_config {
	unsigned int nbackends;	      /* guest RAM backends seen */
	unsigned long long ram_bytes; /* their total size */
	unsigned int nrefusals;
	char refusals[QEMU_MAX_REFUSALS][512]; /* each: what is wrong, and what to change */
};

/*
 * Runs every check on the QEMU behind @q. Returns 0 when it found no
 * reason to refuse, the number of refusals (in @cfg) otherwise, or -errno
 * when QEMU could not be asked (q->error says why).
 */
int qemu_config_check(struct qmp *q, struct qemu_config *cfg);

#endif /* KVMMIG_CTL_QEMUCONFIG_H */
