// SPDX-License-Identifier: GPL-2.0
/*
 * send.c: the source side's page stream writer. Pages leave straight from
 * guest memory (zero-copy: 6.1 kernel_sendpage, 6.5+ MSG_SPLICE_PAGES;
 * TCP takes its own page references), but over 6.1's kernel TLS, where they
 * are copied (compat.h); all-zero pages travel as a ZERO header only;
 * contiguous runs share one header. Headers are small kernel buffers and
 * always go through the copying kernel_sendmsg().
 */
#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/uio.h>

#include "memfd.h"
#include "session.h"
#include "leakcheck.h"

/* Sends a small kernel buffer, copying it; all of it or an error. */
static int send_buf(struct kvmmig_session *s, const void *buf, size_t len,
		    bool more)
{
	struct msghdr msg = {
		.msg_flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0),
	};
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	int ret;

	while (iov.iov_len) {
		ret = kernel_sendmsg(s->sock, &msg, &iov, 1, iov.iov_len);
		if (ret <= 0)
			return kvmmig_net_error(s, ret, "the connection failed while sending");
		iov.iov_base += ret;
		iov.iov_len -= ret;
		s->stats.bytes += ret;
		s->session_bytes += ret;
	}
	return 0;
}

static int send_header(struct kvmmig_session *s, u16 type, u64 gpa,
		       u32 npages, u32 len, u32 round, bool more)
{
	struct kvmmig_wire_rec rec = {
		.type = cpu_to_le16(type),
		.len = cpu_to_le32(len),
		.gpa = cpu_to_le64(gpa),
		.npages = cpu_to_le32(npages),
		.round = cpu_to_le32(round),
	};

	return send_buf(s, &rec, sizeof(rec), more);
}

int kvmmig_send_hello(struct kvmmig_session *s)
{
	struct kvmmig_wire_hello hello = {
		.magic = cpu_to_le64(KVMMIG_WIRE_MAGIC),
		.version = cpu_to_le32(KVMMIG_WIRE_VERSION),
		.page_size = cpu_to_le32(PAGE_SIZE),
	};
	int ret;

	ret = send_header(s, KVMMIG_REC_HELLO, 0, 0, sizeof(hello), 0, true);
	return ret ? ret : send_buf(s, &hello, sizeof(hello), false);
}

/* ROUND_END and END: pushed out at once, the peer is waiting for them. */
int kvmmig_send_mark(struct kvmmig_session *s, u16 type, u32 round)
{
	return send_header(s, type, 0, 0, 0, round, false);
}

/* Sends @n guest pages (held by s->pages[]), without copying them but on 6.1's kernel TLS. */
static int send_pages(struct kvmmig_session *s, struct page **pages, u32 n)
{
#ifdef KVMMIG_HAVE_SPLICE_PAGES
	struct msghdr msg = {
		.msg_flags = MSG_SPLICE_PAGES | MSG_MORE | MSG_NOSIGNAL,
	};
	size_t len = (size_t)n << PAGE_SHIFT;
	u32 i;
	int ret;

	for (i = 0; i < n; i++)
		bvec_set_page(&s->bvec[i], pages[i], PAGE_SIZE, 0);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, s->bvec, n, len);
	while (iov_iter_count(&msg.msg_iter)) {
		ret = sock_sendmsg(s->sock, &msg);
		if (ret <= 0)
			return kvmmig_net_error(s, ret, "the connection failed while sending pages");
		s->stats.bytes += ret;
		s->session_bytes += ret;
	}
	return 0;
#else
	u32 i;
	int ret;

	/* Kernel TLS on 6.1: copied (compat.h, kvmmig_sendpage_safe()). */
	if (!kvmmig_sendpage_safe(s->sock->sk)) {
		for (i = 0; i < n; i++) {
			void *p = kmap_local_page(pages[i]);

			ret = send_buf(s, p, PAGE_SIZE, true);
			kunmap_local(p);
			if (ret)
				return ret;
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		size_t off = 0;

		while (off < PAGE_SIZE) {
			ret = kernel_sendpage(s->sock, pages[i], off,
					      PAGE_SIZE - off,
					      MSG_MORE | MSG_SENDPAGE_NOTLAST |
					      MSG_NOSIGNAL);
			if (ret <= 0)
				return kvmmig_net_error(s, ret, "the connection failed while sending pages");
			off += ret;
			s->stats.bytes += ret;
			s->session_bytes += ret;
		}
	}
	return 0;
#endif
}

static bool page_is_zero(struct page *page)
{
	void *p;
	bool zero;

	if (is_zero_pfn(page_to_pfn(page)))
		return true;
	p = kmap_local_page(page);
	zero = !memchr_inv(p, 0, PAGE_SIZE);
	kunmap_local(p);
	return zero;
}

/* Sends a batch of held pages as ZERO and PAGES records, run by run. */
static int send_batch(struct kvmmig_session *s, u64 gpa, u32 n)
{
	u64 zmask = 0;
	u32 i;
	int ret;

	BUILD_BUG_ON(KVMMIG_SEND_BATCH > 64);
	for (i = 0; i < n; i++)
		if (page_is_zero(s->pages[i]))
			zmask |= BIT_ULL(i);

	i = 0;
	while (i < n) {
		bool zero = zmask & BIT_ULL(i);
		u32 j = i + 1;

		while (j < n && !!(zmask & BIT_ULL(j)) == zero)
			j++;
		if (zero) {
			ret = send_header(s, KVMMIG_REC_ZERO,
					  gpa + ((u64)i << PAGE_SHIFT), j - i, 0,
					  0, true);
			s->stats.pages_zero += j - i;
		} else {
			ret = send_header(s, KVMMIG_REC_PAGES,
					  gpa + ((u64)i << PAGE_SHIFT), j - i,
					  (j - i) << PAGE_SHIFT, 0, true);
			if (!ret)
				ret = send_pages(s, &s->pages[i], j - i);
			s->stats.pages_sent += j - i;
		}
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/*
 * Sends pages [first, first + npages) of @slot, KVMMIG_SEND_BATCH at a
 * time. Holes (memfd.c) go as ZERO records without being touched, each as
 * long as the wire allows (KVMMIG_WIRE_MAX_ZERO); other
 * pages are read without FOLL_WRITE: a write fault would allocate pages the
 * guest never touched and break zero-page sharing.
 */
int kvmmig_send_run(struct kvmmig_session *s, const struct kvmmig_slot *slot,
		    u64 first, u64 npages)
{
	struct mm_struct *mm = current->mm;
	long got, i;
	bool hole;
	int ret;

	while (npages) {
		u32 n = min_t(u64, npages, KVMMIG_WIRE_MAX_ZERO);
		unsigned long uaddr = slot->uaddr + (first << PAGE_SHIFT);
		u64 gpa = slot->wire_base + (first << PAGE_SHIFT);

		if (kvmmig_session_cancelled(s))
			return kvmmig_net_error(s, -ECANCELED, NULL);
		mmap_read_lock(mm);
		n = kvmmig_hole_run(mm, uaddr, n, KVMMIG_SEND_BATCH, &hole);
		got = hole ? n : kvmmig_gup_remote(mm, uaddr, n, 0, s->pages, NULL);
		mmap_read_unlock(mm);
		if (hole) {
			ret = send_header(s, KVMMIG_REC_ZERO, gpa, n, 0, 0, true);
			s->stats.pages_zero += n;
		} else {
			if (got <= 0) {
				s->why = "guest memory could not be read";
				return got ? got : -EFAULT;
			}
			kvmmig_leak_add(KVMMIG_OBJ_PAGE_REF, got);
			ret = send_batch(s, gpa, got);
			for (i = 0; i < got; i++)
				put_page(s->pages[i]);
			kvmmig_leak_add(KVMMIG_OBJ_PAGE_REF, -got);
		}
		if (ret)
			return ret;
		first += got;
		npages -= got;
		cond_resched();
	}
	return 0;
}
