/* SPDX-License-Identifier: GPL-2.0 */
/* registry.h: the VMs attached to kvmmig, by name, and their lifetime. */
#ifndef KVMMIG_REGISTRY_H
#define KVMMIG_REGISTRY_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include "../include/uapi/linux/kvmmig.h"

struct file;
struct kvm;
struct mm_struct;
struct kvmmig_session;

/*
 * One attached VM. The registry holds one reference from attach until the
 * /dev/kvmmig file that attached it is released; anyone else using it takes
 * a reference of their own with kvmmig_vm_get().
 */
struct kvmmig_vm {
	struct list_head node;		/* in the registry, under its mutex */
	struct kref ref;
	char name[KVMMIG_NAME_MAX];
	struct kvm *kvm;		/* alive as long as vm_file is held */
	struct file *vm_file;		/* get_file(): its ioctl op drives the VM */
	struct mm_struct *mm;		/* the VMM's mm, mmgrab() reference */
	pid_t tgid;			/* of the process that attached it */

	/* Serialises starting and ending sessions. */
	struct mutex lock;
	/* Set and cleared under both locks; readers need only the spinlock. */
	spinlock_t session_lock;
	struct kvmmig_session *session;	/* NULL when idle */
	bool incoming;			/* KVMMIG_ATTACH_INCOMING, until received */
	bool ring_reported;		/* KVMMIG_ATTACH_DIRTY_RING */

	/* What netlink reports; readable from any context. */
	spinlock_t stat_lock;
	u32 state;			/* enum kvmmig_vm_state */
	bool has_totals;		/* a session ever ran */
	struct kvmmig_round_stats totals;	/* of the current or last session */
};

/* A snapshot of a VM's memory geometry, read under KVM's SRCU. */
struct kvmmig_vm_geometry {
	u64 mem_bytes;
	u32 memslots;
};

int kvmmig_registry_attach(int vm_fd, const char *name, u32 flags,
			   struct kvmmig_vm **out);
void kvmmig_registry_detach(struct kvmmig_vm *vm);

struct kvmmig_vm *kvmmig_vm_lookup(const char *name);
void kvmmig_vm_get(struct kvmmig_vm *vm);
void kvmmig_vm_put(struct kvmmig_vm *vm);
void kvmmig_vm_geometry(struct kvmmig_vm *vm, struct kvmmig_vm_geometry *geo);

/* Sets the state and tells "events" listeners; process context. */
void kvmmig_vm_set_state(struct kvmmig_vm *vm, u32 state);

bool kvmmig_vm_maps(struct kvmmig_vm *vm, u64 gpa, u64 npages, u64 uaddr);
/* Checks each range lies in one memslot of the VM (MARK_DIRTY, MARK_DIRTY_RUNS). */
bool kvmmig_vm_runs_in_memslots(struct kvmmig_vm *vm, const struct kvmmig_mark_dirty *runs,
				u32 n);

/*
 * Calls fn for the VMs from position *pos on, in attach order, under the
 * registry mutex, until fn returns nonzero; *pos is left at the first VM
 * not completed. For netlink dumps, which resume where the last skb filled.
 */
int kvmmig_registry_walk(unsigned long *pos,
			 int (*fn)(struct kvmmig_vm *vm, void *arg), void *arg);

bool kvmmig_name_valid(const char *name);

int kvmmig_registry_init(void);
void kvmmig_registry_uninit(void);

#endif /* KVMMIG_REGISTRY_H */
