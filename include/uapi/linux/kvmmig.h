/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kvmmig: the kernel ABI of kvmmig.ko.
 *
 * Userspace builds against this copy, never against the system's headers.
 * Three interfaces live here:
 *
 *  1. /dev/kvmmig (mode 0600): a VMM opens it and ATTACHes its KVM VM fd
 *     under a name. The registration lives exactly as long as that open
 *     file: closing it (or the VMM dying) detaches the VM. That file is the
 *     authority over the VM's migrations (see "Authority" below): a
 *     session is opened on it and driven through the session fd it
 *     returns.
 *
 *  2. The generic netlink family "kvmmig" (KVMMIG_GENL_NAME): observation
 *     only (version, attached VMs, their state and numbers, events). Every
 *     operation needs CAP_NET_ADMIN in the initial network namespace;
 *     none can start, drive or stop a migration. Events go to the
 *     multicast group "events".
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
 * DOC: authority
 *
 * Authority over a VM's migrations is a file descriptor, not a
 * capability: the /dev/kvmmig file that attached the VM. Whoever holds
 * that file (the VMM, or a tool it handed a copy to, e.g. over its
 * control socket with SCM_RIGHTS) may open a migration session on it
 * (%KVMMIG_SESSION_OPEN) or cancel one (%KVMMIG_CANCEL); nothing else can,
 * whatever capabilities it has. The session fd that SESSION_OPEN returns
 * drives that one session and nothing else; closing it ends the session.
 *
 * ATTACH takes a VM fd of the caller's own address space. A VM fd that
 * another process owns (taken with pidfd_getfd(), as a management tool
 * might for a VMM it did not write) is accepted only from a caller with
 * CAP_SYS_ADMIN. One VM is attached at most once.
 */

/**
 * struct kvmmig_attach - argument of KVMMIG_ATTACH
 * @vm_fd: a file descriptor returned by KVM_CREATE_VM.
 * @flags: %KVMMIG_ATTACH_INCOMING, %KVMMIG_ATTACH_DIRTY_RING, both or 0.
 * @name:  NUL-terminated name, unique among attached VMs.
 *
 * %KVMMIG_ATTACH_INCOMING: the VM is an empty destination waiting for an
 * incoming migration. Only such a VM accepts a destination session, and
 * only one: a destination session that received the whole stream
 * consumes the flag (the VM is then an ordinary, running VM).
 *
 * %KVMMIG_ATTACH_DIRTY_RING: the VM uses KVM's dirty ring
 * (KVM_CAP_DIRTY_LOG_RING[_ACQ_REL]), whose bitmap ioctls fail, and the
 * VMM harvests the ring itself: while a source session runs it reaps every
 * vCPU's ring before each ROUND the tool makes, and whenever a ring fills
 * (KVM_EXIT_DIRTY_RING_FULL), and reports every entry with
 * %KVMMIG_MARK_DIRTY_RUNS after KVM_RESET_DIRTY_RINGS has write-protected its
 * page again. The module then sends what was reported (and round 0 all of
 * memory) and never touches KVM's dirty log. A dirty-ring VM attached
 * without this flag is refused at SESSION_OPEN: nobody would harvest it.
 *
 * Errors: EBADF (@vm_fd not open), EINVAL (not a KVM VM, bad name, unknown
 * flags, or this file already has a VM attached), EEXIST (name taken),
 * EALREADY (that VM is already attached, under another name or file),
 * EPERM (the VM belongs to another process's address space and the caller
 * lacks CAP_SYS_ADMIN).
 */
struct kvmmig_attach {
	__s32 vm_fd;
	__u32 flags;
	char name[KVMMIG_NAME_MAX];
};

#define KVMMIG_ATTACH_INCOMING (1u << 0)
#define KVMMIG_ATTACH_DIRTY_RING (1u << 1)

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
 * every memslot or across two, nonzero flags), ESTALE (the source stream
 * is already complete: END was sent, so the write cannot reach the
 * destination; the VMM wrote guest memory after pausing for the final
 * round, and the migration must not be completed).
 */
struct kvmmig_mark_dirty {
	__u64 gpa;
	__u64 size;
	__u64 flags;
};

#define KVMMIG_MARK_DIRTY _IOW(KVMMIG_IOCTL_TYPE, 0x02, struct kvmmig_mark_dirty)

/**
 * struct kvmmig_mark_dirty_runs - argument of KVMMIG_MARK_DIRTY_RUNS
 * @runs:  user address of an array of @count &struct kvmmig_mark_dirty,
 *         each a range as for %KVMMIG_MARK_DIRTY (its @flags 0).
 * @count: the number of ranges, 1 to %KVMMIG_MARK_DIRTY_RUNS_MAX.
 * @flags: must be 0.
 *
 * %KVMMIG_MARK_DIRTY for many ranges in one call: what a VMM reaping a
 * dirty ring reports (its pages sorted, adjacent ones in one range). Every
 * range is checked before any is recorded: on EINVAL none was.
 *
 * Errors: as %KVMMIG_MARK_DIRTY (EINVAL also for a zero @count or nonzero
 * @flags), E2BIG (@count above %KVMMIG_MARK_DIRTY_RUNS_MAX), EFAULT.
 */
struct kvmmig_mark_dirty_runs {
	__u64 runs;
	__u32 count;
	__u32 flags;
};

#define KVMMIG_MARK_DIRTY_RUNS_MAX 4096
#define KVMMIG_MARK_DIRTY_RUNS _IOW(KVMMIG_IOCTL_TYPE, 0x05, struct kvmmig_mark_dirty_runs)

/**
 * DOC: migration sessions
 *
 * A migration session binds one attached VM to one connected stream socket
 * (TCP or kernel TLS over TCP, or any SOCK_STREAM socket). The tool
 * connects and handshakes in userspace, then opens the session on the
 * VM's /dev/kvmmig file with the socket's fd (%KVMMIG_SESSION_OPEN); the
 * module keeps its own reference to the socket. While the session runs,
 * the tool must neither read nor write that socket. The module reads and
 * writes exactly the page stream: after the source's END record and after
 * the destination has read END, the socket is positioned right after the
 * stream, so the tool can go on using it (state transfer).
 *
 * Nothing waits for the network in a system call but read() of a session
 * fd, which the caller may poll() first: SESSION_OPEN, ROUND and RECEIVE
 * only start work, which a per-session kernel thread does in the VMM's
 * address space; each request's end is one &struct kvmmig_result, read
 * from the session fd (poll() says POLLIN when it is there). Requests run
 * one at a time, and a request's result must be read before the next is
 * made (EBUSY otherwise).
 *
 * Source: SESSION_OPEN (result: %KVMMIG_REQ_SETUP), ROUND with
 * %KVMMIG_ROUND_FULL (round 0: every page), any number of ROUNDs (only
 * pages dirtied since the last harvest), then ROUND with
 * %KVMMIG_ROUND_FINAL, with every vCPU paused and the VMM's own writes
 * reported (MARK_DIRTY): it sends the last dirty pages, checks that the
 * layout is unchanged and that no page was dirtied meanwhile (otherwise
 * the round fails with EAGAIN and the session stays usable: pause what
 * still writes and run FINAL again), then sends END.
 *
 * Destination: SESSION_OPEN on a VM attached with %KVMMIG_ATTACH_INCOMING
 * (result: %KVMMIG_REQ_SETUP), then RECEIVE, whose result comes when END
 * was read (success), or the stream failed validation (EPROTO, ERANGE,
 * EMSGSIZE), or the source gave up (ECONNABORTED: its reason follows on
 * the socket), or the connection failed. Each page record is checked
 * against the VM's memslots as they are when it arrives.
 *
 * Progress timeout: a session in which no byte moves for
 * @progress_timeout_ms (default %KVMMIG_PROGRESS_TIMEOUT_MS) ends its
 * request with ETIMEDOUT. On TCP sockets the module also turns keepalive
 * on and sets TCP_USER_TIMEOUT to the same bound, so a peer that vanished
 * is noticed even while nothing is queued (those stay on). The socket's
 * own send and receive timeouts are restored when the session ends.
 *
 * A failed request fails the session: only close() remains. close() of the
 * session fd ends the session; a request still running is aborted (the
 * socket is shut down). Closing the VM's /dev/kvmmig file (the VMM exits)
 * and %KVMMIG_CANCEL abort the session too: a request running or queued
 * then ends with a result of ECANCELED (or the socket error the abort
 * caused), and any later request fails with EIO.
 *
 * The VMM owns its memslots: once a source session is open (its setup has
 * put the dirty log in manual-protect mode, initially all set, so KVM
 * write-protects nothing at once) it switches dirty logging on
 * (KVM_MEM_LOG_DIRTY_PAGES) for every slot that is not read-only; the
 * module never creates, moves, deletes or re-flags a memslot. Round 0
 * takes the layout as it finds it then, and refuses a slot that is not
 * logged (ESTALE); from then on it refuses a VM whose layout, memslot
 * generation or logging changes (ESTALE at the next round), a VMM that already uses manual dirty-log
 * protection (EBUSY: it harvests its own log, which a session takes over),
 * SMM memory (memslots in address space 1: EOPNOTSUPP), dirty-ring VMs
 * (KVM_CAP_DIRTY_LOG_RING: EOPNOTSUPP) and guest_memfd memslots. During a
 * source session KVM's manual dirty-log protection is on, VM-wide; it is
 * switched off when the session ends. The VMM must not read or clear the
 * dirty log itself meanwhile.
 */

#define KVMMIG_PROGRESS_TIMEOUT_MS 30000

/**
 * struct kvmmig_session_open - argument of KVMMIG_SESSION_OPEN
 * @sock_fd: a connected SOCK_STREAM socket of the caller's.
 * @flags: exactly one of %KVMMIG_SESSION_SOURCE, %KVMMIG_SESSION_DEST,
 *	optionally with %KVMMIG_SESSION_RAM_FILE.
 * @progress_timeout_ms: 0 for %KVMMIG_PROGRESS_TIMEOUT_MS, else at least
 *	1000.
 * @reserved: must be 0.
 *
 * Returns a new session fd (close-on-exec). The checks that need no
 * waiting fail the call itself: EINVAL (no VM attached on this file, bad
 * flags or timeout, not a stream socket), EBADF/ENOTSOCK (@sock_fd), EBUSY
 * (the VM already has a session), EPERM (a destination session on a VM not
 * attached with %KVMMIG_ATTACH_INCOMING). The rest (KVM's dirty log, the
 * stream's HELLO) runs in the session thread; its outcome is the first
 * result read from the session fd.
 */
struct kvmmig_session_open {
	__s32 sock_fd;
	__u32 flags;
	__u32 progress_timeout_ms;
	__u32 reserved;
};

#define KVMMIG_SESSION_SOURCE (1u << 0)
#define KVMMIG_SESSION_DEST   (1u << 1)
/*
 * KVMMIG_SESSION_RAM_FILE, with SOURCE or DEST (both sides alike): the page
 * stream carries the VM's guest RAM as one shared tmpfs file (a memfd, or a
 * file on /dev/shm) addressed by file offset, not by guest-physical
 * address: a VMM whose memory layout differs between a running source and
 * an empty destination (QEMU: PAM, SMRAM and ROM aliases) still gets every
 * byte of the file where it belongs. Every memslot the session harvests
 * must lie in that one file, mapped whole and writable; memslots backed by
 * other memory are the VMM's: the session neither harvests, clears nor
 * sends them. A VMM that already uses manual dirty-log protection (QEMU
 * does) keeps it: the session GETs and CLEARs only the RAM file's slots,
 * and the VMM must not CLEAR those meanwhile. The record's gpa field holds
 * the file offset. EOPNOTSUPP when guest RAM is in no such file or in more
 * than one.
 */
#define KVMMIG_SESSION_RAM_FILE (1u << 2)

#define KVMMIG_SESSION_OPEN _IOW(KVMMIG_IOCTL_TYPE, 0x03, struct kvmmig_session_open)

/*
 * KVMMIG_CANCEL, on the VM's /dev/kvmmig file: aborts the VM's session,
 * whoever drives it (e.g. `kvmmig-ctl cancel` with the VMM's file). The
 * driver's running or next request ends with ECANCELED. ENOENT if none.
 */
#define KVMMIG_CANCEL _IO(KVMMIG_IOCTL_TYPE, 0x04)

/*
 * On a session fd. KVMMIG_ROUND (source; the argument is a __u32 of
 * &enum kvmmig_round_flags, passed by pointer) and KVMMIG_RECEIVE
 * (destination) start a request and return at once. Errors: EINVAL
 * (wrong kind of session, unknown flags, a first round without
 * %KVMMIG_ROUND_FULL, the stream already complete), EBUSY (a request runs
 * or its result is unread), EIO (the session failed earlier: close it).
 */
#define KVMMIG_ROUND	_IOW(KVMMIG_IOCTL_TYPE, 0x10, __u32)
#define KVMMIG_RECEIVE	_IO(KVMMIG_IOCTL_TYPE, 0x11)

/**
 * enum kvmmig_request - &struct kvmmig_result.request
 * @KVMMIG_REQ_SETUP: the session's setup, started by SESSION_OPEN.
 * @KVMMIG_REQ_ROUND: a source round.
 * @KVMMIG_REQ_RECEIVE: a destination's whole stream.
 */
enum kvmmig_request {
	KVMMIG_REQ_SETUP = 1,
	KVMMIG_REQ_ROUND = 2,
	KVMMIG_REQ_RECEIVE = 3,
};

/**
 * struct kvmmig_round_stats - one round's or one session's numbers
 *	(as %KVMMIG_A_STATS describes them).
 */
struct kvmmig_round_stats {
	__u32 round;
	__u32 reserved;
	__u64 pages_dirty;
	__u64 pages_sent;
	__u64 pages_zero;
	__u64 bytes;
	__u64 harvest_ns;
	__u64 send_ns;
};

#define KVMMIG_WHY_MAX 160

/**
 * struct kvmmig_result - what read() of a session fd returns, one per request
 * @request: &enum kvmmig_request.
 * @error: 0, or a negative errno.
 * @stats: the round's numbers (ROUND), the stream's totals (RECEIVE).
 * @why: NUL-terminated, for humans: why @error, "" on success.
 *
 * read() with a smaller buffer fails with EINVAL; it blocks until the
 * running request ends (EAGAIN with O_NONBLOCK) and fails with ENODATA
 * when no request runs and no result is unread.
 */
struct kvmmig_result {
	__u32 request;
	__s32 error;
	struct kvmmig_round_stats stats;
	char why[KVMMIG_WHY_MAX];
};

/* ---------------------------------------------------------------------
 * Generic netlink family
 */

#define KVMMIG_GENL_NAME "kvmmig"
#define KVMMIG_GENL_VERSION 2
#define KVMMIG_MCGRP_EVENTS "events"

/**
 * enum kvmmig_cmd - generic netlink commands (observation only)
 * @KVMMIG_CMD_GET_VERSION: reply carries %KVMMIG_A_VERSION and
 *	%KVMMIG_A_PROTOCOL.
 * @KVMMIG_CMD_GET_VM: dump: one message per attached VM, each with a
 *	%KVMMIG_A_VM nest. With %KVMMIG_A_VM_NAME in the request (do, not
 *	dump): that VM only, or ENOENT.
 * @KVMMIG_CMD_VM_EVENT: multicast on "events" when a VM attaches, detaches
 *	or changes state; carries a %KVMMIG_A_VM nest and %KVMMIG_A_EVENT.
 * @KVMMIG_CMD_ROUND_EVENT: multicast after each source round and each
 *	ROUND_END a destination receives: %KVMMIG_A_VM_NAME, %KVMMIG_A_STATS.
 *
 * Version 1 of the family also had commands that started, drove and
 * stopped sessions by VM name, for any CAP_NET_ADMIN caller; version 2
 * has none (see "authority").
 */
enum kvmmig_cmd {
	KVMMIG_CMD_UNSPEC,
	KVMMIG_CMD_GET_VERSION,
	KVMMIG_CMD_GET_VM,
	KVMMIG_CMD_VM_EVENT,
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
 * @KVMMIG_A_STATS: nest of &enum kvmmig_stats_attr.
 */
enum kvmmig_attr {
	KVMMIG_A_UNSPEC,
	KVMMIG_A_VERSION,
	KVMMIG_A_PROTOCOL,
	KVMMIG_A_VM,
	KVMMIG_A_VM_NAME,
	KVMMIG_A_EVENT,
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
 *	closing the session fd remains.
 * @KVMMIG_VM_DEST: a destination session is bound to a socket.
 * @KVMMIG_VM_DEST_RECEIVING: RECEIVE is reading the stream.
 * @KVMMIG_VM_FAILED: the session failed or was aborted; closing its
 *	session fd releases it.
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
 * enum kvmmig_round_flags - the argument of KVMMIG_ROUND
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
