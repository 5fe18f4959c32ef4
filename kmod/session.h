/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h: one migration of one attached VM (source or destination), the
 * session file that drives it, the worker thread that runs in the VMM's mm
 * on its behalf, and the state the harvest, send and receive code share.
 */
#ifndef KVMMIG_SESSION_H
#define KVMMIG_SESSION_H

#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "registry.h"
#include "stream.h"

struct page;
struct socket;
struct task_struct;
struct bio_vec;

/* Memslots a session handles; more is refused (E2BIG). */
#define KVMMIG_MAX_SLOTS 32
/* Pages whose dirty bits are collected, cleared and sent as one chunk. */
#define KVMMIG_CHUNK_PAGES 32768
/* Pages held (get_user_pages) at once by the sender. */
#define KVMMIG_SEND_BATCH 64
/* Bytes the receiver reads from the socket before writing them to guest memory. */
#define KVMMIG_RECV_BUF (64 * 1024)

/* A source memslot as it was at SOURCE_START. */
struct kvmmig_slot {
	u32 id;			/* as KVM_SET_USER_MEMORY_REGION names it */
	u32 flags;		/* KVM_MEM_* at start */
	u64 base_gfn;
	u64 npages;
	u64 uaddr;
	bool logged;		/* harvested: the VMM must log it (not read-only) */
	bool vmm_owned;		/* RAM-file mode: not in the RAM file, the VMM's */
	u64 wire_base;		/* the first page's address on the wire */
	unsigned long *marks;	/* KVMMIG_MARK_DIRTY bits, under mark_lock */
};

/* No request queued (enum kvmmig_request names the others). */
#define KVMMIG_REQ_NONE 0

struct kvmmig_session {
	struct kref ref;
	struct kvmmig_vm *vm;		/* kvmmig_vm_get() reference */
	bool source;
	bool ram_file_mode;		/* KVMMIG_SESSION_RAM_FILE */
	bool ring;			/* the VMM reports its dirty ring: no dirty-log ioctls */
	struct file *ram_file;		/* its RAM file, get_file() reference */
	u64 ram_base;			/* destination: where the VMM maps offset 0 */
	struct socket *sock;		/* sockfd_lookup() reference */
	struct task_struct *worker;	/* get_task_struct() reference */
	u32 progress_timeout_ms;
	long saved_sndtimeo, saved_rcvtimeo; /* the socket's own, given back */

	/* Requests: one at a time, queued by ioctl, taken by the worker. */
	struct mutex op_lock;		/* serialises queueing */
	wait_queue_head_t wq;		/* the worker waits here for work */
	u32 req;			/* enum kvmmig_request or KVMMIG_REQ_NONE */
	u32 req_flags;
	const char *why;		/* static message for the result */
	const char *cancel_why;		/* why the session was ended, if it was */
	struct kvmmig_round_stats stats;	/* of the running request */
	u64 session_bytes;		/* moved on the socket, all requests */
	bool aborted;			/* socket shut down: stop ASAP */
	bool failed;			/* a request failed: only close remains */
	bool finished;			/* FINAL round sent / END received */
	bool closed;			/* ended: takes no request */

	/* Results, for read() and poll(). */
	spinlock_t res_lock;
	wait_queue_head_t res_wq;
	bool busy;			/* a request is queued or running */
	bool res_ready;			/* @res is unread */
	struct kvmmig_result res;

	/* Source. */
	struct kvmmig_slot *slots;
	u32 nslots;
	u32 round;			/* next round number */
	u64 memslots_gen;		/* address space 0's generation at start */
	bool changed_protect;
	u64 saved_protect;		/* manual_dirty_log_protect at start */
	unsigned long scratch;		/* vm_mmap() area in the VMM's mm */
	unsigned long scratch_len;
	unsigned long *chunk_bits;	/* KVMMIG_CHUNK_PAGES bits */
	struct page **pages;		/* KVMMIG_SEND_BATCH */
	struct bio_vec *bvec;		/* KVMMIG_SEND_BATCH */
	spinlock_t mark_lock;		/* the marks and the two flags below */
	bool marks_ready;		/* slots and marks exist */
	bool stream_ended;		/* END sent: a mark would come too late */

	/* Destination. */
	struct kvmmig_stream stream;
	struct kvmmig_stream_slot *dslots;
	void *zbuf;			/* one page, for zero checks */
	void *rbuf;			/* KVMMIG_RECV_BUF bytes: pages on their way into a memfd */
};

/*
 * KVMMIG_SESSION_OPEN on @vm's /dev/kvmmig file: returns the session fd or
 * a negative errno (uapi kvmmig.h says which).
 */
int kvmmig_session_open(struct kvmmig_vm *vm,
			const struct kvmmig_session_open *arg);
/* KVMMIG_CANCEL: aborts @vm's session, whoever drives it. */
int kvmmig_session_cancel(struct kvmmig_vm *vm);
/* The VM is being detached: its session is aborted and ended. */
void kvmmig_session_detach(struct kvmmig_vm *vm);
int kvmmig_session_mark_dirty(struct kvmmig_vm *vm, const struct kvmmig_mark_dirty *runs, u32 n);
void kvmmig_session_account(struct kvmmig_session *s,
			    const struct kvmmig_round_stats *d, u32 rounds);

/* Helpers for the worker's code (harvest.c, send.c, receive.c). */
bool kvmmig_session_cancelled(struct kvmmig_session *s);
/* Names a failed socket call (abort, progress timeout, @what) in s->why. */
int kvmmig_net_error(struct kvmmig_session *s, int ret, const char *what);
int kvmmig_vm_ioctl(struct kvmmig_session *s, unsigned int cmd,
		    unsigned long arg);

/* harvest.c */
int kvmmig_harvest_setup(struct kvmmig_session *s);
void kvmmig_harvest_teardown(struct kvmmig_session *s);
int kvmmig_harvest_round(struct kvmmig_session *s, u32 flags);

/* send.c */
int kvmmig_send_hello(struct kvmmig_session *s);
int kvmmig_send_mark(struct kvmmig_session *s, u16 type, u32 round);
int kvmmig_send_run(struct kvmmig_session *s, const struct kvmmig_slot *slot,
		    u64 first, u64 npages);

/* receive.c */
int kvmmig_receive_setup(struct kvmmig_session *s);
void kvmmig_receive_teardown(struct kvmmig_session *s);
int kvmmig_receive_stream(struct kvmmig_session *s);

#endif /* KVMMIG_SESSION_H */
