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
 *  3. The page stream wire format: what one kvmmig.ko sends to another
 *     over a connected stream socket (see "Page stream" below).
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

/**
 * struct kvmmig_mark_dirty - argument of KVMMIG_MARK_DIRTY
 * @gpa:   first guest-physical byte written, page-aligned.
 * @size:  bytes written, a nonzero multiple of the page size.
 * @flags: must be 0.
 *
 * KVM's dirty log only sees guest writes through the MMU. A VMM that writes
 * guest memory itself (device emulation, DMA, loading firmware) reports the
 * range here, on the /dev/kvmmig file that attached the VM, AFTER the write
 * is complete: while a source migration runs, the module records it in its
 * own bitmap and sends those pages in the next round (a write reported
 * before it happens may be sent stale). Outside a source migration the call
 * only validates its argument. The range must lie inside one memslot.
 *
 * Errors: EINVAL (no VM attached on this file, misaligned, empty, outside
 * every memslot or across two, nonzero flags).
 */
struct kvmmig_mark_dirty {
	__u64 gpa;
	__u64 size;
	__u64 flags;
};

#define KVMMIG_MARK_DIRTY _IOW(KVMMIG_IOCTL_TYPE, 0x02, struct kvmmig_mark_dirty)

/* ---------------------------------------------------------------------
 * Generic netlink family
 */

#define KVMMIG_GENL_NAME "kvmmig"
#define KVMMIG_GENL_VERSION 1
#define KVMMIG_MCGRP_EVENTS "events"

/**
 * DOC: migration sessions
 *
 * A migration session binds one attached VM to one connected stream socket
 * (TCP, or any SOCK_STREAM socket). The tool connects and handshakes in
 * userspace, then passes the socket's fd in %KVMMIG_A_SOCK_FD; the module
 * resolves it in the caller's context and keeps its own reference. While
 * the session runs, the tool must neither read nor write that socket. The
 * module reads and writes exactly the page stream: after the source's END
 * record and after the destination has read END, the socket is positioned
 * right after the stream, so the tool can go on using it (state transfer).
 *
 * A session is owned by the netlink socket that started it: when that
 * socket is closed (the tool exits or is killed), the session is aborted
 * and everything it holds is released. Closing the VM's /dev/kvmmig file
 * (the VMM exits) aborts it too. Aborting shuts the stream socket down.
 *
 * Source: SOURCE_START, then SOURCE_ROUND with %KVMMIG_ROUND_FULL (round
 * 0: every page), any number of SOURCE_ROUNDs (only pages dirtied since
 * the last harvest), one SOURCE_ROUND with %KVMMIG_ROUND_FINAL (call it
 * with the vCPUs paused: it sends the last dirty pages, then END), then
 * SOURCE_STOP (also valid at any earlier point, to abort).
 *
 * Destination: DEST_START, then DEST_RECEIVE, which returns when END was
 * read (success) or the stream failed validation or the connection (an
 * error with an extended-ack message). Either way the session ends.
 *
 * KVM's manual dirty-log protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)
 * is VM-wide: SOURCE_START enables it (with KVM_DIRTY_LOG_INITIALLY_SET
 * when KVM offers it) and SOURCE_STOP restores the VM's previous setting.
 * Dirty logging is switched on for every memslot that did not have it and
 * off again at the end. A VMM that uses the dirty log itself (e.g. for a
 * framebuffer) sees, during a migration, KVM_GET_DIRTY_LOG no longer
 * clearing bits, and afterwards misses the bits the module harvested.
 * Dirty-ring VMs (KVM_CAP_DIRTY_LOG_RING) are refused (EOPNOTSUPP), as are
 * guest_memfd memslots. A memslot change during a migration ends it with
 * ESTALE.
 */

/**
 * enum kvmmig_cmd - generic netlink commands
 * @KVMMIG_CMD_GET_VERSION: reply carries %KVMMIG_A_VERSION and
 *	%KVMMIG_A_PROTOCOL.
 * @KVMMIG_CMD_GET_VM: dump: one message per attached VM, each with a
 *	%KVMMIG_A_VM nest. With %KVMMIG_A_VM_NAME in the request (do, not
 *	dump): that VM only, or ENOENT.
 * @KVMMIG_CMD_VM_EVENT: multicast on "events" when a VM attaches, detaches
 *	or changes state; carries a %KVMMIG_A_VM nest and %KVMMIG_A_EVENT.
 * @KVMMIG_CMD_SOURCE_START: %KVMMIG_A_VM_NAME, %KVMMIG_A_SOCK_FD. Starts
 *	a source session: manual protect and dirty logging on, the worker
 *	thread, the stream's HELLO record sent. Errors: ENOENT (no such VM),
 *	EBUSY (a session runs), EBADF/ENOTSOCK/EINVAL (socket), EOPNOTSUPP
 *	(dirty ring, guest_memfd), E2BIG (too many memslots), ESRCH (the
 *	VMM is exiting), or the failing KVM ioctl's errno.
 * @KVMMIG_CMD_SOURCE_ROUND: %KVMMIG_A_VM_NAME, optional
 *	%KVMMIG_A_ROUND_FLAGS. Harvests and sends one round; the reply
 *	carries %KVMMIG_A_STATS for that round (also multicast as
 *	%KVMMIG_CMD_ROUND_EVENT). The first round must be %KVMMIG_ROUND_FULL.
 *	A failed round fails the session (only SOURCE_STOP remains).
 *	Blocks until the round is sent; a fatal signal aborts the session.
 * @KVMMIG_CMD_SOURCE_STOP: %KVMMIG_A_VM_NAME. Ends the source session:
 *	dirty logging and manual protect restored, worker and socket
 *	released. Always succeeds if a source session exists.
 * @KVMMIG_CMD_DEST_START: %KVMMIG_A_VM_NAME, %KVMMIG_A_SOCK_FD. Binds the
 *	socket to the attached (destination) VM. Errors as SOURCE_START.
 * @KVMMIG_CMD_DEST_RECEIVE: %KVMMIG_A_VM_NAME. Receives the stream into
 *	the VM's memory until END; reply carries %KVMMIG_A_STATS (totals).
 *	On a malformed stream: EPROTO (bad framing, order, version, magic,
 *	type, flags), ERANGE (a page outside the VM's memslots), EMSGSIZE
 *	(oversized record); on a dropped connection: ECONNRESET/EPIPE; each
 *	with an extended-ack message. The session ends either way.
 * @KVMMIG_CMD_DEST_STOP: %KVMMIG_A_VM_NAME. Aborts a destination session.
 * @KVMMIG_CMD_ROUND_EVENT: multicast after each source round and each
 *	ROUND_END a destination receives: %KVMMIG_A_VM_NAME, %KVMMIG_A_STATS.
 */
enum kvmmig_cmd {
	KVMMIG_CMD_UNSPEC,
	KVMMIG_CMD_GET_VERSION,
	KVMMIG_CMD_GET_VM,
	KVMMIG_CMD_VM_EVENT,
	KVMMIG_CMD_SOURCE_START,
	KVMMIG_CMD_SOURCE_ROUND,
	KVMMIG_CMD_SOURCE_STOP,
	KVMMIG_CMD_DEST_START,
	KVMMIG_CMD_DEST_RECEIVE,
	KVMMIG_CMD_DEST_STOP,
	KVMMIG_CMD_ROUND_EVENT,

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
 * @KVMMIG_A_SOCK_FD: u32, a connected SOCK_STREAM socket of the caller's.
 * @KVMMIG_A_ROUND_FLAGS: u32, &enum kvmmig_round_flags; unknown bits are
 *	refused (EINVAL).
 * @KVMMIG_A_STATS: nest of &enum kvmmig_stats_attr.
 */
enum kvmmig_attr {
	KVMMIG_A_UNSPEC,
	KVMMIG_A_VERSION,
	KVMMIG_A_PROTOCOL,
	KVMMIG_A_VM,
	KVMMIG_A_VM_NAME,
	KVMMIG_A_EVENT,
	KVMMIG_A_SOCK_FD,
	KVMMIG_A_ROUND_FLAGS,
	KVMMIG_A_STATS,

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
 * @KVMMIG_VM_A_STATS: nest of &enum kvmmig_stats_attr: the totals of the
 *	current (or last) session; absent before the first session.
 */
enum kvmmig_vm_attr {
	KVMMIG_VM_A_UNSPEC,
	KVMMIG_VM_A_NAME,
	KVMMIG_VM_A_PID,
	KVMMIG_VM_A_MEM_BYTES,
	KVMMIG_VM_A_MEMSLOTS,
	KVMMIG_VM_A_STATE,
	KVMMIG_VM_A_PAD,
	KVMMIG_VM_A_STATS,

	__KVMMIG_VM_A_MAX
};
#define KVMMIG_VM_A_MAX (__KVMMIG_VM_A_MAX - 1)

/**
 * enum kvmmig_vm_state - what the module is doing with a VM
 * @KVMMIG_VM_IDLE: attached, no migration.
 * @KVMMIG_VM_SOURCE: a source session runs (rounds may be requested).
 * @KVMMIG_VM_SOURCE_DONE: the final round and END were sent; only
 *	SOURCE_STOP remains.
 * @KVMMIG_VM_DEST: a destination session is bound to a socket.
 * @KVMMIG_VM_DEST_RECEIVING: DEST_RECEIVE is reading the stream.
 * @KVMMIG_VM_FAILED: the session failed or was aborted; SOURCE_STOP (or
 *	DEST_STOP, or the owning tool's exit) releases it.
 */
enum kvmmig_vm_state {
	KVMMIG_VM_IDLE,
	KVMMIG_VM_SOURCE,
	KVMMIG_VM_SOURCE_DONE,
	KVMMIG_VM_DEST,
	KVMMIG_VM_DEST_RECEIVING,
	KVMMIG_VM_FAILED,
};

/**
 * enum kvmmig_event - reason of a %KVMMIG_CMD_VM_EVENT
 * @KVMMIG_EVENT_ATTACHED: a VM was attached.
 * @KVMMIG_EVENT_DETACHED: a VM was detached (its /dev/kvmmig file closed).
 * @KVMMIG_EVENT_STATE: the VM's %KVMMIG_VM_A_STATE changed.
 */
enum kvmmig_event {
	KVMMIG_EVENT_ATTACHED = 1,
	KVMMIG_EVENT_DETACHED,
	KVMMIG_EVENT_STATE,
};

/**
 * enum kvmmig_round_flags - %KVMMIG_A_ROUND_FLAGS bits
 * @KVMMIG_ROUND_FULL: send every page of every memslot, not only dirty
 *	ones (required for the first round). The dirty log is still
 *	harvested first, so later rounds resend what changes after it.
 * @KVMMIG_ROUND_FINAL: the last round: after it, send END. The VMM must
 *	have paused every vCPU (and reported its own writes) before.
 */
enum kvmmig_round_flags {
	KVMMIG_ROUND_FULL = 1 << 0,
	KVMMIG_ROUND_FINAL = 1 << 1,
};
#define KVMMIG_ROUND_FLAGS_ALL (KVMMIG_ROUND_FULL | KVMMIG_ROUND_FINAL)

/**
 * enum kvmmig_stats_attr - one round's or one session's numbers
 *	(in %KVMMIG_A_STATS and %KVMMIG_VM_A_STATS). All u64 but ROUND.
 * @KVMMIG_STATS_A_ROUND: u32, the round number (0 = first); on a
 *	destination, the rounds received so far; in totals, rounds done.
 * @KVMMIG_STATS_A_PAGES_DIRTY: pages found dirty by the harvest (KVM's
 *	dirty log and KVMMIG_MARK_DIRTY reports); source only.
 * @KVMMIG_STATS_A_PAGES_SENT: pages sent (source) or received
 *	(destination) with their contents.
 * @KVMMIG_STATS_A_PAGES_ZERO: all-zero pages, which travel as a header.
 * @KVMMIG_STATS_A_BYTES: stream bytes written (source) or read (dest).
 * @KVMMIG_STATS_A_HARVEST_NS: time collecting and clearing the dirty log.
 * @KVMMIG_STATS_A_SEND_NS: time reading and sending pages (source), or
 *	receiving the stream (destination).
 * @KVMMIG_STATS_A_PAD: padding for 64-bit attributes.
 */
enum kvmmig_stats_attr {
	KVMMIG_STATS_A_UNSPEC,
	KVMMIG_STATS_A_ROUND,
	KVMMIG_STATS_A_PAGES_DIRTY,
	KVMMIG_STATS_A_PAGES_SENT,
	KVMMIG_STATS_A_PAGES_ZERO,
	KVMMIG_STATS_A_BYTES,
	KVMMIG_STATS_A_HARVEST_NS,
	KVMMIG_STATS_A_SEND_NS,
	KVMMIG_STATS_A_PAD,

	__KVMMIG_STATS_A_MAX
};
#define KVMMIG_STATS_A_MAX (__KVMMIG_STATS_A_MAX - 1)

/* ---------------------------------------------------------------------
 * Page stream wire format (protocol version 1)
 *
 * A byte stream of records, all little-endian. Every record starts with a
 * struct kvmmig_wire_rec header; @len bytes of payload follow it. The
 * stream is:
 *
 *	HELLO (ZERO | PAGES | ROUND_END)* END
 *
 * or, in place of any record up to END, ABORT: the sender gave up, and its
 * reason follows as text (the source's tool writes it when the source
 * cannot start sending after the handshake, so that the destination says
 * why instead of misreading the tool's bytes as records).
 *
 * HELLO exactly once and first; every round ends with ROUND_END, whose
 * @round numbers count 0, 1, 2...; END ends the stream right after a
 * ROUND_END, and nothing of the stream follows it (the connection goes on
 * carrying whatever the tools exchange next). Pages are addressed by
 * guest-physical address; a run never crosses a memslot boundary. A later
 * copy of a page replaces an earlier one.
 *
 * The receiver checks every header before acting on it and ends the
 * stream at the first violation: unknown @type, nonzero @flags or
 * reserved fields, @len not exactly what @type requires, @gpa not
 * page-aligned, @npages zero or above the type's maximum, a run not inside
 * one memslot of the destination VM, a wrong HELLO magic, version or page
 * size, records out of the order above, or the stream ending early.
 */

#define KVMMIG_WIRE_MAGIC 0x0a0d47494d4d564bULL /* "KVMMIG\r\n" */
#define KVMMIG_WIRE_VERSION 1

/**
 * enum kvmmig_wire_type - &struct kvmmig_wire_rec.type
 * @KVMMIG_REC_HELLO: @len = sizeof(struct kvmmig_wire_hello), which
 *	follows; @gpa, @npages, @round 0.
 * @KVMMIG_REC_PAGES: @npages (1..%KVMMIG_WIRE_MAX_PAGES) pages starting at
 *	@gpa follow, @len = @npages * page size; @round 0.
 * @KVMMIG_REC_ZERO: @npages (1..%KVMMIG_WIRE_MAX_ZERO) pages at @gpa are
 *	all zero; @len 0, @round 0.
 * @KVMMIG_REC_ROUND_END: round @round is complete; @len, @gpa, @npages 0.
 * @KVMMIG_REC_END: the stream is complete; @len, @gpa, @npages, @round 0.
 * @KVMMIG_REC_ABORT: the sender gave up; @len (1..%KVMMIG_WIRE_MAX_REASON)
 *	bytes of UTF-8 text, its reason, follow; @gpa, @npages, @round 0.
 *	The receiver's module stops right after the header (the session
 *	ends with ECONNABORTED) and leaves the text on the connection for
 *	its tool to read.
 */
enum kvmmig_wire_type {
	KVMMIG_REC_HELLO = 1,
	KVMMIG_REC_PAGES = 2,
	KVMMIG_REC_ZERO = 3,
	KVMMIG_REC_ROUND_END = 4,
	KVMMIG_REC_END = 5,
	KVMMIG_REC_ABORT = 6,
};

#define KVMMIG_WIRE_MAX_REASON 256

/* Largest runs: bound what one header commits the receiver to. */
#define KVMMIG_WIRE_MAX_PAGES 256
#define KVMMIG_WIRE_MAX_ZERO 65536

/**
 * struct kvmmig_wire_rec - header of every record (24 bytes)
 * @type:   &enum kvmmig_wire_type.
 * @flags:  none defined: must be 0.
 * @len:    payload bytes following this header.
 * @gpa:    guest-physical address of the first page (PAGES, ZERO).
 * @npages: pages in the run (PAGES, ZERO).
 * @round:  round number (ROUND_END).
 */
struct kvmmig_wire_rec {
	__le16 type;
	__le16 flags;
	__le32 len;
	__le64 gpa;
	__le32 npages;
	__le32 round;
};

/**
 * struct kvmmig_wire_hello - payload of HELLO (16 bytes)
 * @magic:     %KVMMIG_WIRE_MAGIC.
 * @version:   %KVMMIG_WIRE_VERSION; anything else is refused.
 * @page_size: the sender's page size; must equal the receiver's.
 */
struct kvmmig_wire_hello {
	__le64 magic;
	__le32 version;
	__le32 page_size;
};

#endif /* _UAPI_LINUX_KVMMIG_H */
