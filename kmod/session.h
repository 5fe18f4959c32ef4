/* SPDX-License-Identifier: GPL-2.0 */
/*
 * session.h: one migration of one attached VM (source or destination), the
 * worker thread that runs in the VMM's mm on its behalf, and the state the
 * harvest, send and receive code share.
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

struct net;
struct netlink_ext_ack;
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
	unsigned long *marks;	/* KVMMIG_MARK_DIRTY bits, under mark_lock */
};

enum kvmmig_req {
	KVMMIG_REQ_NONE,
	KVMMIG_REQ_ROUND,
	KVMMIG_REQ_RECEIVE,
};

struct kvmmig_session {
	struct kref ref;
	struct list_head node;		/* in the session list */
	struct kvmmig_vm *vm;		/* kvmmig_vm_get() reference */
	bool source;
	struct socket *sock;		/* sockfd_lookup() reference */
	struct net *owner_net;		/* compared only, no reference */
	u32 owner_portid;		/* netlink socket that started it */
	struct task_struct *worker;	/* get_task_struct() reference */

	/* One request at a time; held by the caller while it waits. */
	struct mutex op_lock;
	wait_queue_head_t wq;		/* the worker waits here for work */
	enum kvmmig_req req;		/* set by the caller, cleared by worker */
	u32 req_flags;
	struct completion done;		/* setup or request finished */
	int result;
	const char *why;		/* static message for extack */
	struct kvmmig_stats stats;	/* of the last request */
	bool aborted;			/* socket shut down: stop ASAP */
	bool failed;			/* a request failed: only stop remains */
	bool finished;			/* FINAL round sent / END received */
	bool closed;			/* being stopped: take no request */

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
	spinlock_t mark_lock;

	/* Destination. */
	struct kvmmig_stream stream;
	struct kvmmig_stream_slot *dslots;
	void *zbuf;			/* one page, for zero checks */
	void *rbuf;			/* KVMMIG_RECV_BUF bytes: pages on their way into a memfd */
};

int kvmmig_session_start(struct kvmmig_vm *vm, bool source, int fd,
			 struct net *net, u32 portid,
			 struct netlink_ext_ack *extack);
int kvmmig_session_round(struct kvmmig_vm *vm, u32 flags,
			 struct kvmmig_stats *stats,
			 struct netlink_ext_ack *extack);
int kvmmig_session_receive(struct kvmmig_vm *vm, struct kvmmig_stats *stats,
			   struct netlink_ext_ack *extack);
enum kvmmig_stop_kind { KVMMIG_STOP_ANY, KVMMIG_STOP_SOURCE, KVMMIG_STOP_DEST };
/*
 * Ends the VM's session if it is of @kind. @abort shuts the socket down
 * first, so nothing blocks on the peer; a stop that finds a request still
 * running aborts anyway. Returns -ENOENT when there is no such session.
 */
int kvmmig_session_stop(struct kvmmig_vm *vm, enum kvmmig_stop_kind kind,
			bool abort);
/* Aborts and ends every session started from netlink socket @portid. */
void kvmmig_session_release_owner(struct net *net, u32 portid);
int kvmmig_session_mark_dirty(struct kvmmig_vm *vm, u64 gpa, u64 size);
void kvmmig_session_account(struct kvmmig_session *s,
			    const struct kvmmig_stats *d, u32 rounds);

/* Helpers for the worker's code (harvest.c, send.c, receive.c). */
bool kvmmig_session_cancelled(struct kvmmig_session *s);
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
