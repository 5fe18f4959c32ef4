// SPDX-License-Identifier: GPL-2.0
/*
 * session.c: migration sessions: their lifetime and state machine, and the
 * one persistent worker kthread per session that does all the work inside
 * the VMM's mm (KVM's memory ioctls only work from the VM's own mm; see
 * DESIGN.md, kernel facts).
 *
 * Callers (netlink requests) hand the worker one request at a time and wait
 * killably: a fatal signal aborts the session by shutting its socket down,
 * which unblocks the worker wherever TCP holds it, instead of leaving an
 * unkillable process behind.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "session.h"
#include "netlink.h"
#include "leakcheck.h"

/* Every live session, for finding those a closing netlink socket owns. */
static LIST_HEAD(sessions);
static DEFINE_MUTEX(sessions_lock);

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
}

static void session_put(struct kvmmig_session *s)
{
	kref_put(&s->ref, session_release);
}

static struct kvmmig_session *session_get(struct kvmmig_vm *vm)
{
	struct kvmmig_session *s;

	mutex_lock(&vm->lock);
	s = vm->session;
	if (s)
		kref_get(&s->ref);
	mutex_unlock(&vm->lock);
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

/* Makes every blocking socket call of the worker return now. */
static void session_abort(struct kvmmig_session *s)
{
	WRITE_ONCE(s->aborted, true);
	kernel_sock_shutdown(s->sock, SHUT_RDWR);
	wake_up(&s->wq);
}

static void finish_request(struct kvmmig_session *s, int ret)
{
	s->result = ret;
	if (ret)
		WRITE_ONCE(s->failed, true);
	WRITE_ONCE(s->req, KVMMIG_REQ_NONE);
	complete(&s->done);
}

static int run_request(struct kvmmig_session *s)
{
	switch (READ_ONCE(s->req)) {
	case KVMMIG_REQ_ROUND:
		return kvmmig_harvest_round(s, s->req_flags);
	case KVMMIG_REQ_RECEIVE:
		return kvmmig_receive_stream(s);
	default:
		return -EINVAL;
	}
}

static int worker_fn(void *arg)
{
	struct kvmmig_session *s = arg;
	struct mm_struct *mm = s->vm->mm;
	int ret;

	if (!mmget_not_zero(mm)) {
		s->why = "the VMM is exiting";
		finish_request(s, -ESRCH);
		goto wait_for_stop;
	}
	kvmmig_leak_inc(KVMMIG_OBJ_MM);
	kthread_use_mm(mm);

	ret = s->source ? kvmmig_harvest_setup(s) : kvmmig_receive_setup(s);
	finish_request(s, ret);
	while (!ret) {
		/* Interruptible: an idle worker is not a hung task. */
		wait_event_interruptible(s->wq,
					 READ_ONCE(s->req) != KVMMIG_REQ_NONE ||
					 kthread_should_stop());
		if (kthread_should_stop())
			break;
		if (READ_ONCE(s->req) != KVMMIG_REQ_NONE)
			finish_request(s, run_request(s));
	}

	/* Teardown copes with a setup that failed halfway. */
	if (s->source)
		kvmmig_harvest_teardown(s);
	else
		kvmmig_receive_teardown(s);
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

static void stop_worker(struct kvmmig_session *s)
{
	kthread_stop(s->worker);
	put_task_struct(s->worker);
	s->worker = NULL;
	kvmmig_leak_dec(KVMMIG_OBJ_WORKER);
}

int kvmmig_session_start(struct kvmmig_vm *vm, bool source, int fd,
			 struct net *net, u32 portid,
			 struct netlink_ext_ack *extack)
{
	struct kvmmig_session *s;
	struct socket *sock;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	kvmmig_leak_inc(KVMMIG_OBJ_SESSION);
	kref_init(&s->ref);
	INIT_LIST_HEAD(&s->node);
	kvmmig_vm_get(vm);
	s->vm = vm;
	s->source = source;
	s->owner_net = net;
	s->owner_portid = portid;
	mutex_init(&s->op_lock);
	init_waitqueue_head(&s->wq);
	init_completion(&s->done);
	spin_lock_init(&s->mark_lock);

	/* Resolved here, in the caller's context, as nbd and l2tp do. */
	sock = sockfd_lookup(fd, &ret);
	if (!sock) {
		NL_SET_ERR_MSG(extack, "KVMMIG_A_SOCK_FD is not an open socket");
		goto out_put;
	}
	kvmmig_leak_inc(KVMMIG_OBJ_SOCKET);
	s->sock = sock;
	if (sock->type != SOCK_STREAM || !sock->sk) {
		NL_SET_ERR_MSG(extack, "KVMMIG_A_SOCK_FD is not a stream socket");
		ret = -EINVAL;
		goto out_put;
	}

	mutex_lock(&vm->lock);
	if (vm->session) {
		NL_SET_ERR_MSG(extack, "a migration session already runs for this VM");
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
	wake_up_process(s->worker);

	if (wait_for_completion_killable(&s->done)) {
		session_abort(s);
		s->why = "interrupted while starting the session";
		ret = -EINTR;
	} else {
		ret = s->result;
	}
	if (ret) {
		kvmmig_extack_msg(extack, s->why ? s->why :
				  "unable to set up the migration session");
		stop_worker(s);
		goto out_unlock;
	}

	vm->session = s;	/* takes over the initial reference */
	mutex_lock(&sessions_lock);
	list_add_tail(&s->node, &sessions);
	mutex_unlock(&sessions_lock);
	spin_lock(&vm->stat_lock);
	vm->has_totals = true;
	memset(&vm->totals, 0, sizeof(vm->totals));
	spin_unlock(&vm->stat_lock);
	mutex_unlock(&vm->lock);

	kvmmig_vm_set_state(vm, source ? KVMMIG_VM_SOURCE : KVMMIG_VM_DEST);
	return 0;

out_unlock:
	mutex_unlock(&vm->lock);
out_put:
	session_put(s);
	return ret;
}

/* Ends session @s of @vm, if it still is @vm's session. */
static int stop_session(struct kvmmig_vm *vm, struct kvmmig_session *s,
			enum kvmmig_stop_kind kind, bool abort)
{
	mutex_lock(&vm->lock);
	if (!s)
		s = vm->session;
	if (!s || vm->session != s ||
	    (kind == KVMMIG_STOP_SOURCE && !s->source) ||
	    (kind == KVMMIG_STOP_DEST && s->source)) {
		mutex_unlock(&vm->lock);
		return -ENOENT;
	}
	vm->session = NULL;
	mutex_lock(&sessions_lock);
	list_del_init(&s->node);
	mutex_unlock(&sessions_lock);

	/*
	 * A request still running may wait on the peer forever: abort it.
	 * Otherwise close the session to requests that wait for op_lock, and
	 * leave the socket alone: the tool goes on using it after END.
	 */
	if (mutex_trylock(&s->op_lock)) {
		WRITE_ONCE(s->closed, true);
		mutex_unlock(&s->op_lock);
	} else {
		WRITE_ONCE(s->closed, true);
		abort = true;
	}
	if (abort)
		session_abort(s);
	stop_worker(s);
	mutex_unlock(&vm->lock);

	kvmmig_vm_set_state(vm, KVMMIG_VM_IDLE);
	session_put(s);
	return 0;
}

int kvmmig_session_stop(struct kvmmig_vm *vm, enum kvmmig_stop_kind kind,
			bool abort)
{
	return stop_session(vm, NULL, kind, abort);
}

void kvmmig_session_release_owner(struct net *net, u32 portid)
{
	struct kvmmig_session *s, *found;

	for (;;) {
		found = NULL;
		mutex_lock(&sessions_lock);
		list_for_each_entry(s, &sessions, node) {
			if (s->owner_net == net && s->owner_portid == portid) {
				kref_get(&s->ref);
				found = s;
				break;
			}
		}
		mutex_unlock(&sessions_lock);
		if (!found)
			return;
		pr_info("%s: the tool that drove the migration is gone: aborting it\n",
			found->vm->name);
		if (stop_session(found->vm, found, KVMMIG_STOP_ANY, true)) {
			/* Raced with another stop: it is off the list anyway. */
			mutex_lock(&sessions_lock);
			list_del_init(&found->node);
			mutex_unlock(&sessions_lock);
		}
		session_put(found);
	}
}

/*
 * Hands one request to the worker and waits for it, killably. The caller
 * holds a session reference.
 */
static int session_request(struct kvmmig_session *s, enum kvmmig_req req,
			   u32 flags, struct kvmmig_stats *stats,
			   struct netlink_ext_ack *extack)
{
	int ret;

	if (mutex_lock_killable(&s->op_lock))
		return -EINTR;
	if (READ_ONCE(s->closed) || READ_ONCE(s->aborted)) {
		NL_SET_ERR_MSG(extack, "the migration session is ending");
		ret = -ENOENT;
		goto out;
	}
	if (READ_ONCE(s->failed)) {
		NL_SET_ERR_MSG(extack, "the migration session failed earlier: stop it");
		ret = -EIO;
		goto out;
	}
	if (s->finished) {
		NL_SET_ERR_MSG(extack, "the page stream is complete: only stop remains");
		ret = -EINVAL;
		goto out;
	}
	if (req == KVMMIG_REQ_ROUND && s->round == 0 &&
	    !(flags & KVMMIG_ROUND_FULL)) {
		NL_SET_ERR_MSG(extack, "the first round must be a full one (KVMMIG_ROUND_FULL)");
		ret = -EINVAL;
		goto out;
	}

	s->why = NULL;
	s->req_flags = flags;
	memset(&s->stats, 0, sizeof(s->stats));
	reinit_completion(&s->done);
	WRITE_ONCE(s->req, req);
	wake_up(&s->wq);

	if (wait_for_completion_killable(&s->done)) {
		/* The worker finishes on its own once the socket is down. */
		WRITE_ONCE(s->failed, true);
		session_abort(s);
		NL_SET_ERR_MSG(extack, "interrupted: the migration was aborted");
		ret = -EINTR;
		goto out;
	}
	ret = s->result;
	if (ret)
		kvmmig_extack_msg(extack, s->why ? s->why : "the migration failed");
	else
		*stats = s->stats;
out:
	mutex_unlock(&s->op_lock);
	return ret;
}

int kvmmig_session_round(struct kvmmig_vm *vm, u32 flags,
			 struct kvmmig_stats *stats,
			 struct netlink_ext_ack *extack)
{
	struct kvmmig_session *s = session_get(vm);
	int ret;

	if (!s || !s->source) {
		NL_SET_ERR_MSG(extack, "no source migration session for this VM");
		ret = -ENOENT;
		goto out;
	}
	ret = session_request(s, KVMMIG_REQ_ROUND, flags, stats, extack);
	if (!ret && (flags & KVMMIG_ROUND_FINAL))
		kvmmig_vm_set_state(vm, KVMMIG_VM_SOURCE_DONE);
	else if (ret && READ_ONCE(s->failed) && vm->session == s)
		kvmmig_vm_set_state(vm, KVMMIG_VM_FAILED);
out:
	if (s)
		session_put(s);
	return ret;
}

int kvmmig_session_receive(struct kvmmig_vm *vm, struct kvmmig_stats *stats,
			   struct netlink_ext_ack *extack)
{
	struct kvmmig_session *s = session_get(vm);
	int ret;

	if (!s || s->source) {
		NL_SET_ERR_MSG(extack, "no destination migration session for this VM");
		ret = -ENOENT;
		goto out;
	}
	kvmmig_vm_set_state(vm, KVMMIG_VM_DEST_RECEIVING);
	ret = session_request(s, KVMMIG_REQ_RECEIVE, 0, stats, extack);
	/* A destination session ends with its stream, whatever the outcome. */
	stop_session(vm, s, KVMMIG_STOP_DEST, ret != 0);
out:
	if (s)
		session_put(s);
	return ret;
}

/* Adds a round's numbers to the VM's totals, which GET_VM reports. */
void kvmmig_session_account(struct kvmmig_session *s,
			    const struct kvmmig_stats *d, u32 rounds)
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

int kvmmig_session_mark_dirty(struct kvmmig_vm *vm, u64 gpa, u64 size)
{
	struct kvmmig_session *s;
	u64 gfn = gpa >> PAGE_SHIFT;
	u64 npages = size >> PAGE_SHIFT;
	u32 i;

	if (!kvmmig_vm_range_in_memslot(vm, gpa, size))
		return -EINVAL;

	mutex_lock(&vm->lock);
	s = vm->session;
	if (s && s->source) {
		for (i = 0; i < s->nslots; i++) {
			struct kvmmig_slot *slot = &s->slots[i];

			if (gfn < slot->base_gfn ||
			    gfn - slot->base_gfn >= slot->npages ||
			    npages > slot->npages - (gfn - slot->base_gfn))
				continue;
			spin_lock(&s->mark_lock);
			bitmap_set(slot->marks, gfn - slot->base_gfn, npages);
			spin_unlock(&s->mark_lock);
			break;
		}
	}
	mutex_unlock(&vm->lock);
	return 0;
}
