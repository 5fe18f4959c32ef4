// SPDX-License-Identifier: GPL-2.0
/*
 * session.c: migration sessions: their lifetime and state machine, the
 * session file that drives one, and the one persistent worker kthread per
 * session that does all the work inside the VMM's mm (KVM's memory ioctls
 * only work from the VM's own mm).
 *
 * Authority is a file (invariant 8): a session is opened on the /dev/kvmmig
 * file that attached its VM and driven through the session file that
 * returns; nothing else reaches it. Nothing waits in a system call but
 * read() of the session file (invariant 10): the ioctls hand the worker a
 * request and return; the worker posts one struct kvmmig_result per
 * request, which read() returns and poll() announces. Ending a session
 * (its file closed, the VM detached, KVMMIG_CANCEL) shuts its socket down
 * when a request is running, so that the worker returns wherever TCP holds
 * it, then stops the worker; every wait on the peer is bounded by the
 * progress timeout besides.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <linux/uaccess.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "session.h"
#include "netlink.h"
#include "leakcheck.h"

static void session_release(struct kref *ref)
{
	struct kvmmig_session *s = container_of(ref, struct kvmmig_session, ref);

	if (s->sock) {
		sockfd_put(s->sock);
		kvmmig_leak_dec(KVMMIG_OBJ_SOCKET);
	}
	kvmmig_vm_put(s->vm);
	mutex_destroy(&s->op_lock);
	kfree(s);
	kvmmig_leak_dec(KVMMIG_OBJ_SESSION);
	module_put(THIS_MODULE);
}

static void session_put(struct kvmmig_session *s)
{
	kref_put(&s->ref, session_release);
}

/* The VM's session with a reference of the caller's, or NULL. */
static struct kvmmig_session *session_get(struct kvmmig_vm *vm)
{
	struct kvmmig_session *s;

	spin_lock(&vm->session_lock);
	s = vm->session;
	if (s)
		kref_get(&s->ref);
	spin_unlock(&vm->session_lock);
	return s;
}

/* Only the worker calls this: kthread_should_stop() is about current. */
bool kvmmig_session_cancelled(struct kvmmig_session *s)
{
	return READ_ONCE(s->aborted) || kthread_should_stop();
}

/*
 * An ioctl on the VM through its file's own op, as vfs_ioctl() did (7.x no
 * longer exports it): KVM's stable ABI, no KVM symbol needed.
 */
int kvmmig_vm_ioctl(struct kvmmig_session *s, unsigned int cmd,
		    unsigned long arg)
{
	struct file *file = s->vm->vm_file;
	long ret;

	if (!file->f_op->unlocked_ioctl)
		return -ENOTTY;
	ret = file->f_op->unlocked_ioctl(file, cmd, arg);
	if (ret == -ENOIOCTLCMD)
		ret = -ENOTTY;
	return ret;
}

/*
 * Why a socket call of the worker failed, for its result: an aborted
 * session's socket fails on purpose, and a timeout is the progress
 * timeout (the peer stopped reading or sending), not "the network".
 */
int kvmmig_net_error(struct kvmmig_session *s, int ret, const char *what)
{
	if (READ_ONCE(s->aborted)) {
		s->why = s->cancel_why ? s->cancel_why :
			 "the migration was aborted (stop, or its VMM or tool exited)";
		return ret ? ret : -ECANCELED;
	}
	if (ret == -EAGAIN || ret == -ETIMEDOUT) {
		/* Before the first byte the peer never started: say which. */
		s->why = s->session_bytes ?
			 "no byte moved for the progress timeout: the peer stopped reading or sending, or the link is gone" :
			 "no byte moved for the progress timeout, none since the session began: the peer never started the page stream";
		return -ETIMEDOUT;
	}
	s->why = what ? what : "the migration was aborted";
	return ret ? ret : -EPIPE;
}

/*
 * Bounds every wait on the peer: the socket's send and receive timeouts
 * become the progress timeout for the session (and are given back after);
 * on TCP, keepalive and TCP_USER_TIMEOUT notice a peer that vanished while
 * nothing is queued. Worker context, before the first byte moves.
 */
static void bound_socket_waits(struct kvmmig_session *s)
{
	struct sock *sk = s->sock->sk;
	long timeo = msecs_to_jiffies(s->progress_timeout_ms);
	int secs = DIV_ROUND_UP(s->progress_timeout_ms, 1000);

	lock_sock(sk);
	s->saved_sndtimeo = sk->sk_sndtimeo;
	s->saved_rcvtimeo = sk->sk_rcvtimeo;
	WRITE_ONCE(sk->sk_sndtimeo, timeo);
	WRITE_ONCE(sk->sk_rcvtimeo, timeo);
	release_sock(sk);
	if (sk->sk_protocol == IPPROTO_TCP &&
	    (sk->sk_family == AF_INET || sk->sk_family == AF_INET6)) {
		sock_set_keepalive(sk);
		tcp_sock_set_keepidle(sk, max(secs / 3, 1));
		tcp_sock_set_keepintvl(sk, max(secs / 6, 1));
		tcp_sock_set_keepcnt(sk, 3);
		tcp_sock_set_user_timeout(sk, s->progress_timeout_ms);
	}
}

static void unbound_socket_waits(struct kvmmig_session *s)
{
	struct sock *sk = s->sock->sk;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_sndtimeo, s->saved_sndtimeo);
	WRITE_ONCE(sk->sk_rcvtimeo, s->saved_rcvtimeo);
	release_sock(sk);
}

/* Makes every blocking socket call of the worker return now. */
static void session_abort(struct kvmmig_session *s)
{
	WRITE_ONCE(s->aborted, true);
	kernel_sock_shutdown(s->sock, SHUT_RDWR);
	wake_up(&s->wq);
}

/* The worker's (or an ender's) answer to request @req: read() returns it. */
static void post_result(struct kvmmig_session *s, u32 req, int ret)
{
	struct kvmmig_result *r = &s->res;

	spin_lock(&s->res_lock);
	memset(r, 0, sizeof(*r));
	r->request = req;
	r->error = ret;
	r->stats = s->stats;
	if (ret)
		strscpy(r->why, s->why ? s->why : "the migration failed",
			sizeof(r->why));
	/* A FINAL round that found pages still dirty may be run again. */
	if (ret && !(ret == -EAGAIN && req == KVMMIG_REQ_ROUND))
		WRITE_ONCE(s->failed, true);
	s->res_ready = true;
	s->busy = false;
	spin_unlock(&s->res_lock);
	wake_up_interruptible_poll(&s->res_wq, EPOLLIN | EPOLLRDNORM);
}

static int run_request(struct kvmmig_session *s, u32 req)
{
	int ret;

	switch (req) {
	case KVMMIG_REQ_ROUND:
		ret = kvmmig_harvest_round(s, s->req_flags);
		if (!ret && (s->req_flags & KVMMIG_ROUND_FINAL))
			kvmmig_vm_set_state(s->vm, KVMMIG_VM_SOURCE_DONE);
		return ret;
	case KVMMIG_REQ_RECEIVE:
		ret = kvmmig_receive_stream(s);
		/* One incoming migration per attach: the VM runs from now on. */
		if (!ret)
			WRITE_ONCE(s->vm->incoming, false);
		return ret;
	default:
		return -EINVAL;
	}
}

static int worker_fn(void *arg)
{
	struct kvmmig_session *s = arg;
	struct mm_struct *mm = s->vm->mm;
	u32 req;
	int ret;

	if (!mmget_not_zero(mm)) {
		s->why = "the VMM is exiting";
		post_result(s, KVMMIG_REQ_SETUP, -ESRCH);
		goto wait_for_stop;
	}
	kvmmig_leak_inc(KVMMIG_OBJ_MM);
	kthread_use_mm(mm);
	bound_socket_waits(s);

	ret = s->source ? kvmmig_harvest_setup(s) : kvmmig_receive_setup(s);
	post_result(s, KVMMIG_REQ_SETUP, ret);
	while (!ret) {
		/* Interruptible: an idle worker is not a hung task. */
		wait_event_interruptible(s->wq,
					 READ_ONCE(s->req) != KVMMIG_REQ_NONE ||
					 kthread_should_stop());
		if (kthread_should_stop())
			break;
		req = READ_ONCE(s->req);
		if (req == KVMMIG_REQ_NONE)
			continue;
		WRITE_ONCE(s->req, KVMMIG_REQ_NONE);
		post_result(s, req, run_request(s, req));
		if (READ_ONCE(s->failed))
			kvmmig_vm_set_state(s->vm, KVMMIG_VM_FAILED);
	}
	if (ret)
		kvmmig_vm_set_state(s->vm, KVMMIG_VM_FAILED);

	/* Teardown copes with a setup that failed halfway. */
	if (s->source)
		kvmmig_harvest_teardown(s);
	else
		kvmmig_receive_teardown(s);
	unbound_socket_waits(s);
	kthread_unuse_mm(mm);
	mmput(mm);
	kvmmig_leak_dec(KVMMIG_OBJ_MM);

wait_for_stop:
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
	return 0;
}

/*
 * Ends session @s if it still is its VM's: aborts a running request (or
 * all, with @abort), stops the worker, which answers a request in flight
 * before it goes, and answers one it never took. The session object lives
 * on until its file is closed; its driver reads what happened.
 */
static void end_session(struct kvmmig_session *s, bool abort, const char *why)
{
	struct kvmmig_vm *vm = s->vm;
	bool unanswered;

	mutex_lock(&vm->lock);
	if (vm->session != s) {
		mutex_unlock(&vm->lock);
		return;
	}
	spin_lock(&vm->session_lock);
	vm->session = NULL;
	spin_unlock(&vm->session_lock);
	if (why)
		s->cancel_why = why;
	/* Under res_lock: session_queue() then sees it closed, or we see it busy. */
	spin_lock(&s->res_lock);
	s->closed = true;
	abort |= s->busy;
	spin_unlock(&s->res_lock);
	if (abort)
		session_abort(s);
	kthread_stop(s->worker);
	put_task_struct(s->worker);
	s->worker = NULL;
	kvmmig_leak_dec(KVMMIG_OBJ_WORKER);
	mutex_unlock(&vm->lock);

	spin_lock(&s->res_lock);
	unanswered = s->busy;
	spin_unlock(&s->res_lock);
	if (unanswered) {
		s->why = s->cancel_why ? s->cancel_why :
			 "the migration was aborted (stop, or its VMM or tool exited)";
		post_result(s, READ_ONCE(s->req) ?: KVMMIG_REQ_SETUP, -ECANCELED);
	}
	kvmmig_vm_set_state(vm, KVMMIG_VM_IDLE);
}

/* The VM goes away (its /dev/kvmmig file closed): its migration with it. */
void kvmmig_session_detach(struct kvmmig_vm *vm)
{
	struct kvmmig_session *s = session_get(vm);

	if (!s)
		return;
	pr_info("%s: the VMM is gone: aborting its migration\n", vm->name);
	end_session(s, true, "the migration was aborted: its VMM exited");
	session_put(s);
}

int kvmmig_session_cancel(struct kvmmig_vm *vm)
{
	struct kvmmig_session *s = session_get(vm);

	if (!s)
		return -ENOENT;
	pr_info("%s: migration cancelled\n", vm->name);
	end_session(s, true, "the migration was cancelled (kvmmig-ctl cancel)");
	session_put(s);
	return 0;
}

/* Hands request @req to the worker; its result comes through read(). */
static long session_queue(struct kvmmig_session *s, u32 req, u32 flags)
{
	long ret = 0;

	if ((req == KVMMIG_REQ_ROUND) != s->source)
		return -EINVAL;
	mutex_lock(&s->op_lock);
	spin_lock(&s->res_lock);
	if (s->busy || s->res_ready)
		ret = -EBUSY;
	else if (s->closed || READ_ONCE(s->failed))
		ret = -EIO;
	else if (s->finished)
		ret = -EINVAL;
	else if (req == KVMMIG_REQ_ROUND && s->round == 0 &&
		 !(flags & KVMMIG_ROUND_FULL))
		ret = -EINVAL;
	else
		s->busy = true;
	spin_unlock(&s->res_lock);
	if (!ret) {
		s->why = NULL;
		s->req_flags = flags;
		memset(&s->stats, 0, sizeof(s->stats));
		if (req == KVMMIG_REQ_RECEIVE)
			kvmmig_vm_set_state(s->vm, KVMMIG_VM_DEST_RECEIVING);
		WRITE_ONCE(s->req, req);
		wake_up(&s->wq);
	}
	mutex_unlock(&s->op_lock);
	return ret;
}

static long session_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct kvmmig_session *s = file->private_data;
	u32 flags;

	switch (cmd) {
	case KVMMIG_ROUND:
		if (get_user(flags, (u32 __user *)arg))
			return -EFAULT;
		if (flags & ~KVMMIG_ROUND_FLAGS_ALL)
			return -EINVAL;
		return session_queue(s, KVMMIG_REQ_ROUND, flags);
	case KVMMIG_RECEIVE:
		return session_queue(s, KVMMIG_REQ_RECEIVE, 0);
	default:
		return -ENOTTY;
	}
}

static bool result_or_idle(struct kvmmig_session *s)
{
	bool ret;

	spin_lock(&s->res_lock);
	ret = s->res_ready || !s->busy;
	spin_unlock(&s->res_lock);
	return ret;
}

static ssize_t session_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct kvmmig_session *s = file->private_data;
	struct kvmmig_result r;

	if (count < sizeof(r))
		return -EINVAL;
	if (!result_or_idle(s)) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(s->res_wq, result_or_idle(s)))
			return -ERESTARTSYS;
	}
	spin_lock(&s->res_lock);
	if (!s->res_ready) {
		spin_unlock(&s->res_lock);
		return -ENODATA;
	}
	r = s->res;
	s->res_ready = false;
	spin_unlock(&s->res_lock);
	if (copy_to_user(buf, &r, sizeof(r)))
		return -EFAULT;
	return sizeof(r);
}

static __poll_t session_poll(struct file *file, poll_table *wait)
{
	struct kvmmig_session *s = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &s->res_wq, wait);
	spin_lock(&s->res_lock);
	if (s->res_ready)
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock(&s->res_lock);
	return mask;
}

static int session_file_release(struct inode *inode, struct file *file)
{
	struct kvmmig_session *s = file->private_data;

	/* Left intact after a clean end: the tool goes on with the socket. */
	end_session(s, false, NULL);
	session_put(s);
	return 0;
}

static const struct file_operations session_fops = {
	.owner = THIS_MODULE,
	.release = session_file_release,
	.unlocked_ioctl = session_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = session_read,
	.poll = session_poll,
	.llseek = noop_llseek,
};

int kvmmig_session_open(struct kvmmig_vm *vm,
			const struct kvmmig_session_open *arg)
{
	u32 kind = arg->flags & ~KVMMIG_SESSION_RAM_FILE;
	bool source = kind == KVMMIG_SESSION_SOURCE;
	struct kvmmig_session *s;
	struct socket *sock;
	int ret, fd;

	if ((kind != KVMMIG_SESSION_SOURCE && kind != KVMMIG_SESSION_DEST) ||
	    arg->reserved ||
	    (arg->progress_timeout_ms && arg->progress_timeout_ms < 1000))
		return -EINVAL;
	/* Pages land only in an empty VM its VMM declared incoming. */
	if (!source && !READ_ONCE(vm->incoming))
		return -EPERM;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	__module_get(THIS_MODULE);
	kvmmig_leak_inc(KVMMIG_OBJ_SESSION);
	kref_init(&s->ref);
	kvmmig_vm_get(vm);
	s->vm = vm;
	s->source = source;
	s->ram_file_mode = arg->flags & KVMMIG_SESSION_RAM_FILE;
	s->progress_timeout_ms = arg->progress_timeout_ms ?:
				 KVMMIG_PROGRESS_TIMEOUT_MS;
	mutex_init(&s->op_lock);
	init_waitqueue_head(&s->wq);
	init_waitqueue_head(&s->res_wq);
	spin_lock_init(&s->res_lock);
	spin_lock_init(&s->mark_lock);

	/* Resolved here, in the caller's context, as nbd and l2tp do. */
	sock = sockfd_lookup(arg->sock_fd, &ret);
	if (!sock)
		goto out_put;
	kvmmig_leak_inc(KVMMIG_OBJ_SOCKET);
	s->sock = sock;
	if (sock->type != SOCK_STREAM || !sock->sk) {
		ret = -EINVAL;
		goto out_put;
	}

	mutex_lock(&vm->lock);
	if (vm->session) {
		ret = -EBUSY;
		goto out_unlock;
	}
	s->worker = kthread_create(worker_fn, s, "kvmmig-%s", vm->name);
	if (IS_ERR(s->worker)) {
		ret = PTR_ERR(s->worker);
		s->worker = NULL;
		goto out_unlock;
	}
	get_task_struct(s->worker);
	kvmmig_leak_inc(KVMMIG_OBJ_WORKER);

	/* The file owns the initial reference; ours lasts until we return. */
	kref_get(&s->ref);
	fd = anon_inode_getfd("[kvmmig-session]", &session_fops, s,
			      O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		kthread_stop(s->worker);	/* never woken: threadfn never runs */
		put_task_struct(s->worker);
		s->worker = NULL;
		kvmmig_leak_dec(KVMMIG_OBJ_WORKER);
		session_put(s);
		goto out_unlock;
	}
	s->busy = true;			/* the setup request */
	spin_lock(&vm->session_lock);
	vm->session = s;
	spin_unlock(&vm->session_lock);
	spin_lock(&vm->stat_lock);
	vm->has_totals = true;
	memset(&vm->totals, 0, sizeof(vm->totals));
	spin_unlock(&vm->stat_lock);
	wake_up_process(s->worker);
	mutex_unlock(&vm->lock);

	kvmmig_vm_set_state(vm, source ? KVMMIG_VM_SOURCE : KVMMIG_VM_DEST);
	session_put(s);
	return fd;

out_unlock:
	mutex_unlock(&vm->lock);
out_put:
	session_put(s);
	return ret;
}

/* Adds a round's numbers to the VM's totals, which GET_VM reports. */
void kvmmig_session_account(struct kvmmig_session *s,
			    const struct kvmmig_round_stats *d, u32 rounds)
{
	struct kvmmig_vm *vm = s->vm;

	spin_lock(&vm->stat_lock);
	vm->totals.round = rounds;
	vm->totals.pages_dirty += d->pages_dirty;
	vm->totals.pages_sent += d->pages_sent;
	vm->totals.pages_zero += d->pages_zero;
	vm->totals.bytes += d->bytes;
	vm->totals.harvest_ns += d->harvest_ns;
	vm->totals.send_ns += d->send_ns;
	spin_unlock(&vm->stat_lock);
}

/* Records [gfn, gfn + npages) in the marks of the session slot that holds it. */
static void mark_run(struct kvmmig_session *s, u64 gfn, u64 npages)
{
	u32 i;

	for (i = 0; i < s->nslots; i++) {
		struct kvmmig_slot *slot = &s->slots[i];

		if (gfn < slot->base_gfn || gfn - slot->base_gfn >= slot->npages ||
		    npages > slot->npages - (gfn - slot->base_gfn))
			continue;
		bitmap_set(slot->marks, gfn - slot->base_gfn, npages);
		return;
	}
}

/* Marks set under one hold of mark_lock at most: 32768 pages, 4 KiB of bitmap. */
#define KVMMIG_MARK_CHUNK_PAGES (1u << 15)

/*
 * The VMM reports @n ranges it wrote, or a dirty-ring VM's reaped pages
 * (invariant 6), each checked before any is recorded. Never blocks on a
 * running round: the session is found under a spinlock and the bits set
 * under another, a chunk at a time (a batch may name 4096 ranges, each a
 * whole memslot). After END the write cannot reach the destination any
 * more: that is an error the VMM must hear (ESTALE), not a silent loss.
 */
int kvmmig_session_mark_dirty(struct kvmmig_vm *vm, const struct kvmmig_mark_dirty *runs, u32 n)
{
	struct kvmmig_session *s;
	int ret = 0;
	u32 i;

	if (!kvmmig_vm_runs_in_memslots(vm, runs, n))
		return -EINVAL;

	s = session_get(vm);
	if (!s || !s->source)
		goto out;
	for (i = 0; i < n && !ret; i++) {
		u64 gfn = runs[i].gpa >> PAGE_SHIFT, left = runs[i].size >> PAGE_SHIFT;

		while (left && !ret) {
			u64 chunk = min_t(u64, left, KVMMIG_MARK_CHUNK_PAGES);

			spin_lock(&s->mark_lock);
			if (s->stream_ended)
				ret = -ESTALE;
			else if (s->marks_ready)
				mark_run(s, gfn, chunk);
			spin_unlock(&s->mark_lock);
			gfn += chunk;
			left -= chunk;
			cond_resched();
		}
	}
out:
	if (s)
		session_put(s);
	return ret;
}
