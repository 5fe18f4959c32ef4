/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kvmmig: the kernel ABI of kvmmig.ko.
 *
 * Userspace builds against this copy, never against the system's headers.
 * Three interfaces live here:
 *
 *  1. /dev/kvmmig (mode 0600): a VMM opens it and ATTACHes its KVM VM fd
 *     under a name. The registration lives exactly as long as that open
 *     file: closing it (or the VMM dying) detaches the VM.
 *
 *  2. The generic netlink family "kvmmig" (KVMMIG_GENL_NAME): every
 *     operation needs CAP_NET_ADMIN in the caller's network namespace.
 *     Events go to the multicast group "events".
 *
 *  3. The page stream wire format (added with the data path).
 *
 * All integers in netlink attributes are in host byte order, as netlink
 * requires; the page stream is little-endian.
 */
#ifndef _UAPI_LINUX_KVMMIG_H
#define _UAPI_LINUX_KVMMIG_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Longest VM name, including the terminating NUL. */
#define KVMMIG_NAME_MAX 32

/*
 * VM names are [A-Za-z0-9_.-]{1,31}: safe in paths, shells and logs.
 * The module rejects anything else with -EINVAL.
 */

/* ---------------------------------------------------------------------
 * /dev/kvmmig ioctls
 */

#define KVMMIG_DEVICE_NAME "kvmmig"
#define KVMMIG_IOCTL_TYPE 0xB9

/**
 * struct kvmmig_attach - argument of KVMMIG_ATTACH
 * @vm_fd: a file descriptor of the caller's, returned by KVM_CREATE_VM.
 * @flags: must be 0.
 * @name:  NUL-terminated name, unique among attached VMs.
 *
 * Errors: EBADF (@vm_fd not open), EINVAL (not a KVM VM, bad name, nonzero
 * flags, or this file already has a VM attached), EEXIST (name taken),
 * EPERM (the VM belongs to another process's address space).
 */
struct kvmmig_attach {
	__s32 vm_fd;
	__u32 flags;
	char name[KVMMIG_NAME_MAX];
};

#define KVMMIG_ATTACH _IOW(KVMMIG_IOCTL_TYPE, 0x01, struct kvmmig_attach)

/* ---------------------------------------------------------------------
 * Generic netlink family
 */

#define KVMMIG_GENL_NAME "kvmmig"
#define KVMMIG_GENL_VERSION 1
#define KVMMIG_MCGRP_EVENTS "events"

/**
 * enum kvmmig_cmd - generic netlink commands
 * @KVMMIG_CMD_GET_VERSION: reply carries %KVMMIG_A_VERSION and
 *	%KVMMIG_A_PROTOCOL.
 * @KVMMIG_CMD_GET_VM: dump: one message per attached VM, each with a
 *	%KVMMIG_A_VM nest. With %KVMMIG_A_VM_NAME in the request (do, not
 *	dump): that VM only, or ENOENT.
 * @KVMMIG_CMD_VM_EVENT: multicast on "events" when a VM attaches or
 *	detaches; carries a %KVMMIG_A_VM nest and %KVMMIG_A_EVENT.
 */
enum kvmmig_cmd {
	KVMMIG_CMD_UNSPEC,
	KVMMIG_CMD_GET_VERSION,
	KVMMIG_CMD_GET_VM,
	KVMMIG_CMD_VM_EVENT,

	__KVMMIG_CMD_MAX
};
#define KVMMIG_CMD_MAX (__KVMMIG_CMD_MAX - 1)

/**
 * enum kvmmig_attr - top-level attributes
 * @KVMMIG_A_VERSION: string, the module's version ("0.1.0").
 * @KVMMIG_A_PROTOCOL: u32, the page stream protocol version it speaks.
 * @KVMMIG_A_VM: nest of &enum kvmmig_vm_attr.
 * @KVMMIG_A_VM_NAME: string, selects a VM in requests.
 * @KVMMIG_A_EVENT: u32, &enum kvmmig_event.
 */
enum kvmmig_attr {
	KVMMIG_A_UNSPEC,
	KVMMIG_A_VERSION,
	KVMMIG_A_PROTOCOL,
	KVMMIG_A_VM,
	KVMMIG_A_VM_NAME,
	KVMMIG_A_EVENT,

	__KVMMIG_A_MAX
};
#define KVMMIG_A_MAX (__KVMMIG_A_MAX - 1)

/**
 * enum kvmmig_vm_attr - attributes of one attached VM (in %KVMMIG_A_VM)
 * @KVMMIG_VM_A_NAME: string.
 * @KVMMIG_VM_A_PID: u32, thread group id of the process that attached it.
 * @KVMMIG_VM_A_MEM_BYTES: u64, total size of its memslots.
 * @KVMMIG_VM_A_MEMSLOTS: u32, number of memslots.
 * @KVMMIG_VM_A_STATE: u32, &enum kvmmig_vm_state.
 * @KVMMIG_VM_A_PAD: padding for 64-bit attributes.
 */
enum kvmmig_vm_attr {
	KVMMIG_VM_A_UNSPEC,
	KVMMIG_VM_A_NAME,
	KVMMIG_VM_A_PID,
	KVMMIG_VM_A_MEM_BYTES,
	KVMMIG_VM_A_MEMSLOTS,
	KVMMIG_VM_A_STATE,
	KVMMIG_VM_A_PAD,

	__KVMMIG_VM_A_MAX
};
#define KVMMIG_VM_A_MAX (__KVMMIG_VM_A_MAX - 1)

/**
 * enum kvmmig_vm_state - what the module is doing with a VM
 * @KVMMIG_VM_IDLE: attached, no migration.
 */
enum kvmmig_vm_state {
	KVMMIG_VM_IDLE,
};

/**
 * enum kvmmig_event - reason of a %KVMMIG_CMD_VM_EVENT
 * @KVMMIG_EVENT_ATTACHED: a VM was attached.
 * @KVMMIG_EVENT_DETACHED: a VM was detached (its /dev/kvmmig file closed).
 */
enum kvmmig_event {
	KVMMIG_EVENT_ATTACHED = 1,
	KVMMIG_EVENT_DETACHED,
};

#endif /* _UAPI_LINUX_KVMMIG_H */
