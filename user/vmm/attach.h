/* attach.h: registering a VM with kvmmig.ko through /dev/kvmmig, for the VMM's lifetime. */
#ifndef KVMMIG_VMM_ATTACH_H
#define KVMMIG_VMM_ATTACH_H

#include "vmm/vmm.h"

/*
 * Attaches @vm under its name when /dev/kvmmig exists and keeps that file
 * open in vm->kvmmig_fd: the registration ends when the VMM exits (or calls
 * vmm_detach()). An incoming VM (created with config.incoming, vCPUs never
 * run) is attached with KVMMIG_ATTACH_INCOMING: only such a VM accepts a
 * destination session. That file is the authority over the VM's
 * migrations; the control socket hands it out ("kvmmig-fd"). Without the module (no /dev/kvmmig) it returns 0 and the
 * VM runs unattached; every other failure (EEXIST: name taken, EPERM, ...)
 * is returned as -errno after a message saying what failed.
 */
int vmm_attach(struct vmm_vm *vm);
void vmm_detach(struct vmm_vm *vm);

/* Names safe in paths, shells and logs: [A-Za-z0-9_.-]{1,31}, as kvmmig.ko requires. */
bool vmm_name_is_valid(const char *name);

#endif /* KVMMIG_VMM_ATTACH_H */
