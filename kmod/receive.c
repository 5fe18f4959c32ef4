// SPDX-License-Identifier: GPL-2.0
/*
 * receive.c: the destination side: reads the page stream from the socket
 * and lands each page in the destination VM's memory, in the VMM's mm
 * through the session worker: through the memfd behind it (memfd.c), else
 * straight from the socket into the mapping. Nothing is
 * acted upon before stream.c has checked its header against the VM's
 * memslots (invariant 5), and nothing is read past END.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "memfd.h"
#include "session.h"
#include "netlink.h"

/*
 * RAM-file mode: the stream addresses the one shared tmpfs file behind the
 * VM's memslots by offset. The parser then sees one pseudo-slot, the whole
 * file at the address where the VMM maps its offset 0; memslots the VMM
 * has over other memory (ROMs) get nothing from the stream.
 */
static int ram_file_setup(struct kvmmig_session *s, u32 n)
{
	struct mm_struct *mm = current->mm;
	u64 base = 0;
	u32 i;
	int ret = 0;

	mmap_read_lock(mm);
	for (i = 0; i < n && !ret; i++) {
		u64 len = s->dslots[i].npages << PAGE_SHIFT;
		struct file *file;
		loff_t pos;

		file = kvmmig_memfd_range(mm, s->dslots[i].uaddr, len, &pos);
		if (!file)
			continue;
		if (!s->ram_file) {
			s->ram_file = file;
			base = s->dslots[i].uaddr - pos;
			continue;
		}
		if (file_inode(file) != file_inode(s->ram_file) ||
		    s->dslots[i].uaddr - pos != base) {
			s->why = "guest RAM is in more than one shared file (or mapping), and a RAM-file session carries one";
			ret = -EOPNOTSUPP;
		}
		fput(file);
	}
	if (!ret && !s->ram_file) {
		s->why = "no memslot lies in a shared tmpfs file (memfd or /dev/shm): nowhere to receive a RAM file";
		ret = -EOPNOTSUPP;
	}
	if (!ret && !kvmmig_maps_file_whole(mm, s->ram_file, base)) {
		s->why = "the VMM does not map its RAM file whole and writable from offset 0";
		ret = -EOPNOTSUPP;
	}
	mmap_read_unlock(mm);
	if (ret)
		return ret;
	s->ram_base = base;
	s->dslots[0].base_gfn = 0;
	s->dslots[0].npages = PAGE_ALIGN(i_size_read(file_inode(s->ram_file))) >>
			      PAGE_SHIFT;
	s->dslots[0].uaddr = base;
	return 0;
}

int kvmmig_receive_setup(struct kvmmig_session *s)
{
	struct kvm *kvm = s->vm->kvm;
	struct kvm_memory_slot *ms;
	struct kvm_memslots *slots;
	u32 n = 0;
	int idx, bkt, ret = 0;

	s->dslots = kcalloc(KVMMIG_MAX_SLOTS, sizeof(*s->dslots),
			    GFP_KERNEL_ACCOUNT);
	s->zbuf = kmalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
	s->rbuf = kvmalloc(KVMMIG_RECV_BUF, GFP_KERNEL_ACCOUNT);
	if (!s->dslots || !s->zbuf || !s->rbuf)
		return -ENOMEM;

	idx = srcu_read_lock(&kvm->srcu);
	slots = kvm_memslots(kvm);
	kvm_for_each_memslot(ms, bkt, slots) {
		if (ms->id >= KVM_USER_MEM_SLOTS)
			continue;
		if (n == KVMMIG_MAX_SLOTS) {
			s->why = "the VM has more memslots than kvmmig handles";
			ret = -E2BIG;
			break;
		}
		s->dslots[n].base_gfn = ms->base_gfn;
		s->dslots[n].npages = ms->npages;
		s->dslots[n].uaddr = ms->userspace_addr;
		n++;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	if (ret)
		return ret;
	if (!n) {
		s->why = "the VM has no memory";
		return -EINVAL;
	}
	if (s->ram_file_mode) {
		ret = ram_file_setup(s, n);
		if (ret)
			return ret;
		n = 1;
	}
	kvmmig_stream_init(&s->stream, s->dslots, n, PAGE_SHIFT);
	return 0;
}

void kvmmig_receive_teardown(struct kvmmig_session *s)
{
	kvfree(s->rbuf);
	kfree(s->zbuf);
	kfree(s->dslots);
	if (s->ram_file) {
		fput(s->ram_file);
		s->ram_file = NULL;
	}
	s->rbuf = NULL;
	s->zbuf = NULL;
	s->dslots = NULL;
}

/* Reads exactly @len bytes into @iter; a short stream is an error. */
static int recv_exact(struct kvmmig_session *s, struct msghdr *msg,
		      size_t len)
{
	int ret;

	while (iov_iter_count(&msg->msg_iter)) {
		ret = sock_recvmsg(s->sock, msg, MSG_WAITALL);
		if (ret < 0 && (READ_ONCE(s->aborted) || ret == -EAGAIN))
			return kvmmig_net_error(s, ret, NULL);
		if (ret < 0) {
			if (ret == -EFAULT)
				s->why = "guest memory vanished while receiving";
			else if (ret == -EBADMSG || ret == -EMSGSIZE)
				/* kernel TLS: a record failed its authentication tag */
				s->why = "a TLS record failed authentication: the stream was altered in flight";
			else if (ret == -ECONNRESET || ret == -EPIPE)
				s->why = "the source reset the connection mid-stream (it gave up: see its message)";
			else
				s->why = "the connection failed while receiving";
			return ret;
		}
		if (ret == 0) {
			s->why = "the stream ended before its END record";
			return -ECONNRESET;
		}
		s->stats.bytes += ret;
		s->session_bytes += ret;
	}
	return 0;
}

static int recv_kernel(struct kvmmig_session *s, void *buf, size_t len)
{
	struct msghdr msg = {};
	struct kvec iov = { .iov_base = buf, .iov_len = len };

	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &iov, 1, len);
	return recv_exact(s, &msg, len);
}

/* Receives @len bytes straight into guest memory through its mapping. */
static int recv_mapped(struct kvmmig_session *s, u64 uaddr, u32 len)
{
	struct msghdr msg = {};

	iov_iter_ubuf(&msg.msg_iter, ITER_DEST, (void __user *)uaddr, len);
	return recv_exact(s, &msg, len);
}

/*
 * Receives @len bytes of guest memory at @uaddr: through the memfd behind
 * it when there is one (memfd.c: no fault, no clearing of pages the data
 * fills), KVMMIG_RECV_BUF at a time; else through the mapping.
 */
static int recv_guest(struct kvmmig_session *s, u64 uaddr, u32 len)
{
	struct mm_struct *mm = current->mm;
	struct file *file;
	loff_t pos;
	int ret = 0;

	mmap_read_lock(mm);
	file = kvmmig_memfd_range(mm, uaddr, len, &pos);
	mmap_read_unlock(mm);
	if (!file)
		return recv_mapped(s, uaddr, len);
	while (len) {
		u32 n = min_t(u32, len, KVMMIG_RECV_BUF);
		ssize_t written;

		ret = recv_kernel(s, s->rbuf, n);
		if (ret)
			break;
		written = kernel_write(file, s->rbuf, n, &pos);
		if (written != n) {
			s->why = "guest memory could not be written";
			ret = written < 0 ? written : -EIO;
			break;
		}
		len -= n;
	}
	fput(file);
	return ret;
}

/*
 * Makes @npages pages at @uaddr zero, touching only those that are not:
 * holes (memfd.c) are zero already, pages present are read and cleared
 * only if they hold anything. The mmap lock is dropped before touching
 * memory (a fault takes it).
 */
static int zero_guest(struct kvmmig_session *s, u64 uaddr, u32 npages)
{
	struct mm_struct *mm = current->mm;

	while (npages) {
		u32 n, i;
		bool hole;

		if (kvmmig_session_cancelled(s))
			return kvmmig_net_error(s, -ECANCELED, NULL);
		mmap_read_lock(mm);
		/* Pages present are read (and cleared) a page at a time, 64 per lock. */
		n = kvmmig_hole_run(mm, uaddr, npages, 64, &hole);
		mmap_read_unlock(mm);
		for (i = 0; !hole && i < n; i++) {
			void __user *p = (void __user *)(uaddr + ((u64)i << PAGE_SHIFT));

			if (copy_from_user(s->zbuf, p, PAGE_SIZE) ||
			    (memchr_inv(s->zbuf, 0, PAGE_SIZE) &&
			     clear_user(p, PAGE_SIZE))) {
				s->why = "guest memory vanished while receiving";
				return -EFAULT;
			}
		}
		uaddr += (u64)n << PAGE_SHIFT;
		npages -= n;
		cond_resched();
	}
	return 0;
}

/*
 * The parser checked the record against the memslots of the session's
 * start; the VMM may have changed them since. Write only where the VM maps
 * those pages now, at the same address.
 */
static bool still_mapped(struct kvmmig_session *s,
			 const struct kvmmig_wire_rec *rec,
			 const struct kvmmig_stream_op *op)
{
	if (s->ram_file_mode) {
		struct mm_struct *mm = current->mm;
		bool ok;

		mmap_read_lock(mm);
		ok = kvmmig_maps_file_whole(mm, s->ram_file, s->ram_base);
		mmap_read_unlock(mm);
		if (ok)
			return true;
		s->why = "the destination VMM unmapped or moved its RAM file during the migration";
		return false;
	}
	if (kvmmig_vm_maps(s->vm, le64_to_cpu(rec->gpa), op->npages, op->uaddr))
		return true;
	s->why = "the destination VM's memslots changed during the migration";
	return false;
}

int kvmmig_receive_stream(struct kvmmig_session *s)
{
	struct kvmmig_wire_rec rec;
	struct kvmmig_wire_hello hello;
	struct kvmmig_round_stats round = {};
	struct kvmmig_stream_op op;
	u64 t0 = ktime_get_ns(), round_t0 = t0, round_bytes = 0;
	int ret;

	for (;;) {
		if (kvmmig_session_cancelled(s))
			return kvmmig_net_error(s, -ECANCELED, NULL);
		ret = recv_kernel(s, &rec, sizeof(rec));
		if (ret)
			return ret;
		ret = kvmmig_stream_header(&s->stream, &rec, &op, &s->why);
		if (ret)
			goto bad_stream;

		switch (op.type) {
		case KVMMIG_REC_HELLO:
			ret = recv_kernel(s, &hello, sizeof(hello));
			if (ret)
				return ret;
			ret = kvmmig_stream_hello(&s->stream, &hello,
						  sizeof(hello), &s->why);
			if (ret)
				goto bad_stream;
			break;
		case KVMMIG_REC_PAGES:
			if (!still_mapped(s, &rec, &op))
				return -ESTALE;
			ret = recv_guest(s, op.uaddr, op.len);
			if (ret)
				return ret;
			s->stats.pages_sent += op.npages;
			round.pages_sent += op.npages;
			break;
		case KVMMIG_REC_ZERO:
			if (!still_mapped(s, &rec, &op))
				return -ESTALE;
			ret = zero_guest(s, op.uaddr, op.npages);
			if (ret)
				return ret;
			s->stats.pages_zero += op.npages;
			round.pages_zero += op.npages;
			break;
		case KVMMIG_REC_ROUND_END:
			s->stats.round = op.round + 1;
			round.round = op.round;
			round.bytes = s->stats.bytes - round_bytes;
			round.send_ns = ktime_get_ns() - round_t0;
			round_bytes = s->stats.bytes;
			round_t0 = ktime_get_ns();
			kvmmig_session_account(s, &round, s->stats.round);
			kvmmig_netlink_round_event(s->vm, &round);
			memset(&round, 0, sizeof(round));
			break;
		case KVMMIG_REC_ABORT:
			/* Its text stays on the socket for the tool (uapi header). */
			s->why = "the source gave up before sending (its tool reads why)";
			return -ECONNABORTED;
		case KVMMIG_REC_END:
			s->stats.send_ns = ktime_get_ns() - t0;
			s->finished = true;
			return 0;
		}
	}

bad_stream:
	pr_warn_ratelimited("%s: rejected the incoming page stream: %s\n",
			    s->vm->name, s->why);
	return ret;
}
