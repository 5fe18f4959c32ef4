// SPDX-License-Identifier: GPL-2.0
/*
 * harvest.c: the source side's dirty tracking: manual-protect mode on for
 * the session, and rounds that collect and clear KVM's dirty log in
 * bounded chunks and hand exactly the dirty pages to the sender.
 *
 * The VMM owns its memslots (invariant 9): it switches dirty logging on
 * for a migration (KVM_MEM_LOG_DIRTY_PAGES), once the session has opened,
 * and off after. The module never calls KVM_SET_USER_MEMORY_REGION:
 * re-issuing one from a snapshot would re-create a slot the VMM deleted or
 * move back one it moved. It only checks, before every round, that the
 * layout is the one it started with and every slot it harvests is logged.
 *
 * All KVM calls are the VM's own ioctls, run by the session worker inside
 * the VMM's mm, with arguments and bitmaps in a vm_mmap() scratch area of
 * that mm: no KVM internals are called (none is exported), only read.
 *
 * Invariant 1 (harvest before send): a chunk's bits are cleared, which
 * write-protects its pages, before any of its pages is read for sending.
 * Invariant 2 (never clear what was not collected): KVM_CLEAR_DIRTY_LOG is
 * given the very bitmap KVM_GET_DIRTY_LOG returned, one chunk at a time.
 */
#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/mman.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "memfd.h"
#include "session.h"
#include "netlink.h"
#include "leakcheck.h"

/* The scratch area's first page holds ioctl arguments; bitmaps follow. */
#define ARGS_SIZE PAGE_SIZE
#define CHUNK_BYTES (KVMMIG_CHUNK_PAGES / 8)

static void __user *scratch_args(struct kvmmig_session *s)
{
	return (void __user *)s->scratch;
}

static void __user *scratch_bitmap(struct kvmmig_session *s)
{
	return (void __user *)(s->scratch + ARGS_SIZE);
}

static u32 slot_bitmap_bytes(u64 npages)
{
	return ALIGN(npages, BITS_PER_LONG) / 8;
}

/*
 * Memory in address space 1 (x86 SMM) is written by vCPUs in SMM and is not
 * harvested: a VM with such memslots is refused (their writes would be
 * lost), and one that gains them mid-migration ends with ESTALE.
 */
static bool has_smm_slots(struct kvm *kvm)
{
	int as;

	for (as = 1; as < KVMMIG_NR_ADDRESS_SPACES; as++)
		if (!kvm_memslots_empty(__kvm_memslots(kvm, as)))
			return true;
	return false;
}

/* Takes a consistent copy of the user memslots of address space 0. */
static int snapshot_slots(struct kvmmig_session *s)
{
	struct kvm *kvm = s->vm->kvm;
	struct kvm_memory_slot *ms;
	struct kvm_memslots *slots;
	int idx, bkt, ret = 0;

	idx = srcu_read_lock(&kvm->srcu);
	if (has_smm_slots(kvm)) {
		srcu_read_unlock(&kvm->srcu, idx);
		s->why = "the VM has SMM memory (memslots in address space 1), which kvmmig does not migrate";
		return -EOPNOTSUPP;
	}
	slots = kvm_memslots(kvm);
	s->memslots_gen = slots->generation;
	kvm_for_each_memslot(ms, bkt, slots) {
		struct kvmmig_slot *slot;

		/* KVM's private slots (APIC access page...) are not guest RAM. */
		if (ms->id >= KVM_USER_MEM_SLOTS)
			continue;
		if (ms->flags & ~(u32)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) {
			s->why = "a memslot has flags kvmmig cannot migrate (guest_memfd?)";
			ret = -EOPNOTSUPP;
			break;
		}
		if (s->nslots == KVMMIG_MAX_SLOTS) {
			s->why = "the VM has more memslots than kvmmig handles";
			ret = -E2BIG;
			break;
		}
		slot = &s->slots[s->nslots++];
		slot->id = ms->id;
		slot->flags = ms->flags;
		slot->base_gfn = ms->base_gfn;
		slot->npages = ms->npages;
		slot->uaddr = ms->userspace_addr;
		slot->wire_base = ms->base_gfn << PAGE_SHIFT;
		/* The guest cannot write a read-only slot: round 0 covers it. */
		slot->logged = !(ms->flags & KVM_MEM_READONLY);
	}
	srcu_read_unlock(&kvm->srcu, idx);
	return ret;
}

/*
 * Is the layout still the one the session started with? Round 0 (@adopt)
 * takes the generation and flags it finds: the VMM switches logging on
 * after the session has put the dirty log in manual-protect mode, and that
 * bumps the generation. It must find the same slots, each one that the
 * guest can write logged. From then on any memslot update is fatal: the
 * generation changes with every one, a slot deleted and made again too.
 */
static int check_slots(struct kvmmig_session *s, bool adopt)
{
	struct kvm *kvm = s->vm->kvm;
	struct kvm_memory_slot *ms;
	struct kvm_memslots *slots;
	int idx, bkt, ret = 0;
	u32 i, n = 0;

	idx = srcu_read_lock(&kvm->srcu);
	slots = kvm_memslots(kvm);
	kvm_for_each_memslot(ms, bkt, slots)
		if (ms->id < KVM_USER_MEM_SLOTS)
			n++;
	if (n != s->nslots || has_smm_slots(kvm) ||
	    (!adopt && slots->generation != s->memslots_gen))
		ret = -ESTALE;
	for (i = 0; !ret && i < s->nslots; i++) {
		struct kvmmig_slot *slot = &s->slots[i];

		ms = id_to_memslot(slots, slot->id);
		if (!ms || ms->base_gfn != slot->base_gfn ||
		    ms->npages != slot->npages ||
		    ms->userspace_addr != slot->uaddr ||
		    (ms->flags ^ slot->flags) & ~(u32)KVM_MEM_LOG_DIRTY_PAGES) {
			ret = -ESTALE;
		} else if (slot->logged && !(ms->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
			s->why = "a memslot is not dirty-logged: the VMM switches KVM_MEM_LOG_DIRTY_PAGES on for a migration (kvmmig never changes memslots)";
			ret = -ESTALE;
		}
	}
	if (!ret && adopt) {
		s->memslots_gen = slots->generation;
		for (i = 0; i < s->nslots; i++)
			s->slots[i].flags = id_to_memslot(slots, s->slots[i].id)->flags;
	}
	srcu_read_unlock(&kvm->srcu, idx);
	if (ret && !s->why)
		s->why = "the VM's memslots changed during the migration";
	return ret;
}

/*
 * RAM-file mode: which slots lie in the one shared tmpfs file that holds
 * guest RAM (those are harvested and sent by file offset) and which are the
 * VMM's own memory (QEMU's ROMs, VGA RAM: the VMM migrates them itself, and
 * harvests their dirty log itself: the session leaves their bits alone).
 */
static int classify_ram_file_slots(struct kvmmig_session *s)
{
	struct mm_struct *mm = current->mm;
	u32 i, in_file = 0;
	int ret = 0;

	mmap_read_lock(mm);
	for (i = 0; i < s->nslots; i++) {
		struct kvmmig_slot *slot = &s->slots[i];
		struct file *file;
		loff_t pos;

		file = kvmmig_memfd_range(mm, slot->uaddr,
					  slot->npages << PAGE_SHIFT, &pos);
		if (!file) {
			slot->vmm_owned = true;
			slot->logged = false;
			continue;
		}
		if (!s->ram_file) {
			s->ram_file = file;
		} else {
			bool same = file_inode(file) == file_inode(s->ram_file);

			fput(file);
			if (!same) {
				s->why = "guest RAM is in more than one shared file, and a RAM-file session carries one";
				ret = -EOPNOTSUPP;
				break;
			}
		}
		slot->wire_base = pos;
		in_file++;
	}
	mmap_read_unlock(mm);
	if (!ret && !in_file) {
		s->why = "no memslot lies in a shared tmpfs file (memfd or /dev/shm): nothing to send as a RAM file";
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int set_manual_protect(struct kvmmig_session *s, u64 mode)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = mode,
	};

	if (copy_to_user(scratch_args(s), &cap, sizeof(cap)))
		return -EFAULT;
	return kvmmig_vm_ioctl(s, KVM_ENABLE_CAP, (unsigned long)scratch_args(s));
}

int kvmmig_harvest_setup(struct kvmmig_session *s)
{
	struct kvm *kvm = s->vm->kvm;
	u32 i, bitmap_max = 0;
	long caps;
	int ret;

	/*
	 * A dirty-ring VM has no bitmap to GET or CLEAR: only a VMM that
	 * reaps its ring into MARK_DIRTY (KVMMIG_ATTACH_DIRTY_RING) can be
	 * migrated, and then every dirty page reaches the session as a mark.
	 */
	s->ring = READ_ONCE(kvm->dirty_ring_size);
	if (s->ring && !s->vm->ring_reported) {
		s->why = "the VM uses KVM's dirty ring and its VMM did not attach it with KVMMIG_ATTACH_DIRTY_RING (it must reap the ring into MARK_DIRTY)";
		return -EOPNOTSUPP;
	}
	if (!s->ring && s->vm->ring_reported) {
		s->why = "the VMM attached the VM with KVMMIG_ATTACH_DIRTY_RING but KVM has no dirty ring for it";
		return -EINVAL;
	}
	if (s->ring && s->ram_file_mode) {
		s->why = "a dirty-ring VM in RAM-file mode (QEMU's) is not supported";
		return -EOPNOTSUPP;
	}
	s->slots = kcalloc(KVMMIG_MAX_SLOTS, sizeof(*s->slots), GFP_KERNEL_ACCOUNT);
	s->chunk_bits = bitmap_zalloc(KVMMIG_CHUNK_PAGES, GFP_KERNEL_ACCOUNT);
	s->pages = kcalloc(KVMMIG_SEND_BATCH, sizeof(*s->pages), GFP_KERNEL_ACCOUNT);
	s->bvec = kcalloc(KVMMIG_SEND_BATCH, sizeof(*s->bvec), GFP_KERNEL_ACCOUNT);
	if (!s->slots || !s->chunk_bits || !s->pages || !s->bvec)
		return -ENOMEM;

	ret = snapshot_slots(s);
	if (ret)
		return ret;
	if (!s->nslots) {
		s->why = "the VM has no memory";
		return -EINVAL;
	}
	if (s->ram_file_mode) {
		ret = classify_ram_file_slots(s);
		if (ret)
			return ret;
	}
	for (i = 0; i < s->nslots; i++) {
		struct kvmmig_slot *slot = &s->slots[i];

		bitmap_max = max(bitmap_max, slot_bitmap_bytes(slot->npages));
		/* Dirty-bitmap memory: one bit per guest page, nothing per page. */
		slot->marks = kvcalloc(BITS_TO_LONGS(slot->npages),
				       sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
		if (!slot->marks)
			return -ENOMEM;
	}
	spin_lock(&s->mark_lock);
	s->marks_ready = true;
	spin_unlock(&s->mark_lock);

	s->scratch_len = ARGS_SIZE + PAGE_ALIGN(bitmap_max);
	s->scratch = vm_mmap(NULL, 0, s->scratch_len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(s->scratch)) {
		ret = (int)s->scratch;
		s->scratch = 0;
		s->why = "unable to map scratch memory in the VMM";
		return ret;
	}
	kvmmig_leak_inc(KVMMIG_OBJ_SCRATCH);

	/* The ring's pages come as marks: KVM's dirty-log mode is not ours to set. */
	if (s->ring)
		goto send_hello;
	caps = kvmmig_vm_ioctl(s, KVM_CHECK_EXTENSION,
			       KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps < 0 || !(caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		s->why = "KVM lacks manual dirty-log protection";
		return -EOPNOTSUPP;
	}
	/*
	 * The dirty log is the session's from here on: a VMM that harvests it
	 * itself with manual protect would lose the bits we clear, and we would
	 * lose the ones it clears. Refuse rather than share.
	 */
	s->saved_protect = READ_ONCE(kvm->manual_dirty_log_protect);
	/*
	 * In RAM-file mode the VMM keeps the protection it chose and harvests
	 * its own slots; the session GETs and CLEARs only the RAM file's,
	 * which such a VMM (QEMU with x-ignore-shared) never clears.
	 */
	if (s->saved_protect && s->ram_file_mode)
		goto send_hello;
	if (s->saved_protect) {
		s->why = "the VMM already uses manual dirty-log protection: it harvests the dirty log itself, which a migration takes over";
		return -EBUSY;
	}
	/*
	 * Manual protect: GET only copies the bitmap out, and CLEAR re-protects
	 * exactly the chunk about to be sent (invariants 1 and 2). It is on
	 * before the VMM switches logging on (checked at round 0): with
	 * INITIALLY_SET, KVM then starts each slot's log all dirty and
	 * write-protects nothing, where without it KVM would write-protect
	 * (and split) the whole slot at once; round 0 sends every page and
	 * protects chunk by chunk as it goes.
	 */
	ret = set_manual_protect(s, caps & (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
					    KVM_DIRTY_LOG_INITIALLY_SET));
	if (ret) {
		s->why = "KVM refused manual dirty-log protection";
		return ret;
	}
	s->changed_protect = true;

send_hello:
	ret = kvmmig_send_hello(s);
	if (ret && !s->why)
		s->why = "unable to send the stream header";
	return ret;
}

void kvmmig_harvest_teardown(struct kvmmig_session *s)
{
	u32 i;

	/* Dirty logging stays as the VMM set it: switching it off is the VMM's. */
	spin_lock(&s->mark_lock);
	s->marks_ready = false;
	spin_unlock(&s->mark_lock);
	if (s->changed_protect && set_manual_protect(s, s->saved_protect))
		pr_info("%s: manual dirty-log protection could not be restored\n",
			s->vm->name);
	if (s->scratch) {
		vm_munmap(s->scratch, s->scratch_len);
		s->scratch = 0;
		kvmmig_leak_dec(KVMMIG_OBJ_SCRATCH);
	}
	for (i = 0; s->slots && i < s->nslots; i++)
		kvfree(s->slots[i].marks);
	if (s->ram_file) {
		fput(s->ram_file);
		s->ram_file = NULL;
	}
	kfree(s->bvec);
	kfree(s->pages);
	bitmap_free(s->chunk_bits);
	kfree(s->slots);
	s->slots = NULL;
	s->nslots = 0;
}

/* Moves the VMM's MARK_DIRTY reports for a chunk into @bits. */
static void take_marks(struct kvmmig_session *s, struct kvmmig_slot *slot,
		       u64 first, u32 n, unsigned long *bits)
{
	unsigned long *m = slot->marks + first / BITS_PER_LONG;
	u32 i, words = BITS_TO_LONGS(n);

	spin_lock(&s->mark_lock);
	for (i = 0; i < words; i++) {
		bits[i] |= m[i];
		m[i] = 0;
	}
	spin_unlock(&s->mark_lock);
}

/* Collects, clears and sends one chunk of one slot. */
static int harvest_chunk(struct kvmmig_session *s, struct kvmmig_slot *slot,
			 u64 first, u32 n, u32 flags)
{
	unsigned long *bits = s->chunk_bits;
	u32 bytes = ALIGN(n, BITS_PER_LONG) / 8;
	u64 t0 = ktime_get_ns();
	unsigned long start, end;
	int ret;

	bitmap_zero(bits, KVMMIG_CHUNK_PAGES);
	if (slot->logged && !s->ring) {
		if (copy_from_user(bits, scratch_bitmap(s) + first / 8, bytes))
			return -EFAULT;
		/* KVM may set padding bits past the slot's end: ignore them. */
		if (n % BITS_PER_LONG)
			bitmap_clear(bits, n, ALIGN(n, BITS_PER_LONG) - n);
		if (!bitmap_empty(bits, n)) {
			struct kvm_clear_dirty_log clr = {
				.slot = slot->id,
				.num_pages = n,
				.first_page = first,
				.dirty_bitmap = scratch_bitmap(s) + first / 8,
			};

			if (copy_to_user(scratch_args(s), &clr, sizeof(clr)))
				return -EFAULT;
			ret = kvmmig_vm_ioctl(s, KVM_CLEAR_DIRTY_LOG,
					      (unsigned long)scratch_args(s));
			if (ret) {
				s->why = "KVM_CLEAR_DIRTY_LOG failed";
				return ret;
			}
		}
	}
	take_marks(s, slot, first, n, bits);
	s->stats.pages_dirty += bitmap_weight(bits, n);
	if (flags & KVMMIG_ROUND_FULL)
		bitmap_fill(bits, n);
	s->stats.harvest_ns += ktime_get_ns() - t0;

	t0 = ktime_get_ns();
	ret = 0;
	for_each_set_bitrange(start, end, bits, n) {
		ret = kvmmig_send_run(s, slot, first + start, end - start);
		if (ret)
			break;
	}
	s->stats.send_ns += ktime_get_ns() - t0;
	return ret;
}

/* Is any bit of the slot's dirty log set now? (GET only copies it out.) */
static int slot_still_dirty(struct kvmmig_session *s, struct kvmmig_slot *slot)
{
	struct kvm_dirty_log log = {
		.slot = slot->id,
		.dirty_bitmap = scratch_bitmap(s),
	};
	u64 first;
	int ret;

	if (copy_to_user(scratch_args(s), &log, sizeof(log)))
		return -EFAULT;
	ret = kvmmig_vm_ioctl(s, KVM_GET_DIRTY_LOG, (unsigned long)scratch_args(s));
	if (ret) {
		s->why = "KVM_GET_DIRTY_LOG failed";
		return ret;
	}
	for (first = 0; first < slot->npages; first += KVMMIG_CHUNK_PAGES) {
		u32 n = min_t(u64, KVMMIG_CHUNK_PAGES, slot->npages - first);

		if (copy_from_user(s->chunk_bits, scratch_bitmap(s) + first / 8,
				   ALIGN(n, BITS_PER_LONG) / 8))
			return -EFAULT;
		if (find_first_bit(s->chunk_bits, n) < n)
			return 1;
	}
	return 0;
}

/*
 * The final round's safety net, between its last page and END: the layout
 * is still the one harvested, and no page was dirtied since its chunk was
 * harvested (a vCPU still running, a VMM write not yet reported). If one
 * was, the round fails with EAGAIN and the bits stay for the next round:
 * the tool pauses what still writes and runs FINAL again. A MARK_DIRTY
 * after this check finds the stream ended and fails (ESTALE): it can no
 * longer reach the destination, and the VMM must hear so.
 */
static int final_check(struct kvmmig_session *s)
{
	bool dirty = false;
	u32 i;
	int ret;

	ret = check_slots(s, false);
	if (ret)
		return ret;
	/* (A dirty-ring VM's vCPUs are paused: their VMM reaped the rings before this round.) */
	for (i = 0; i < s->nslots && !dirty && !s->ring; i++) {
		if (!s->slots[i].logged)
			continue;
		ret = slot_still_dirty(s, &s->slots[i]);
		if (ret < 0)
			return ret;
		dirty = ret;
	}
	spin_lock(&s->mark_lock);
	for (i = 0; i < s->nslots && !dirty; i++)
		dirty = !s->slots[i].vmm_owned &&
			find_first_bit(s->slots[i].marks, s->slots[i].npages) <
			s->slots[i].npages;
	if (!dirty)
		s->stream_ended = true;
	spin_unlock(&s->mark_lock);
	if (dirty) {
		s->why = "pages were written during the final round (a vCPU still running, or a VMM write reported late): pause every writer, then run the final round again";
		return -EAGAIN;
	}
	return 0;
}

int kvmmig_harvest_round(struct kvmmig_session *s, u32 flags)
{
	u64 t0;
	u32 i;
	int ret;

	s->stats.round = s->round;
	ret = check_slots(s, s->round == 0);
	if (ret)
		return ret;
	for (i = 0; i < s->nslots; i++) {
		struct kvmmig_slot *slot = &s->slots[i];
		u64 first;

		if (slot->vmm_owned)
			continue;
		if (slot->logged && !s->ring) {
			struct kvm_dirty_log log = {
				.slot = slot->id,
				.dirty_bitmap = scratch_bitmap(s),
			};

			t0 = ktime_get_ns();
			if (copy_to_user(scratch_args(s), &log, sizeof(log)))
				return -EFAULT;
			/* With manual protect this only copies the bitmap out. */
			ret = kvmmig_vm_ioctl(s, KVM_GET_DIRTY_LOG,
					      (unsigned long)scratch_args(s));
			s->stats.harvest_ns += ktime_get_ns() - t0;
			if (ret) {
				s->why = "KVM_GET_DIRTY_LOG failed";
				return ret;
			}
		}
		for (first = 0; first < slot->npages; first += KVMMIG_CHUNK_PAGES) {
			u32 n = min_t(u64, KVMMIG_CHUNK_PAGES, slot->npages - first);

			if (kvmmig_session_cancelled(s))
				return kvmmig_net_error(s, -ECANCELED, NULL);
			ret = harvest_chunk(s, slot, first, n, flags);
			if (ret)
				return ret;
			cond_resched();
		}
	}

	if (flags & KVMMIG_ROUND_FINAL) {
		ret = final_check(s);
		if (ret)
			return ret;
	}
	ret = kvmmig_send_mark(s, KVMMIG_REC_ROUND_END, s->round);
	if (!ret && (flags & KVMMIG_ROUND_FINAL))
		ret = kvmmig_send_mark(s, KVMMIG_REC_END, 0);
	if (ret)
		return ret;
	s->round++;
	if (flags & KVMMIG_ROUND_FINAL)
		s->finished = true;
	kvmmig_session_account(s, &s->stats, s->round);
	kvmmig_netlink_round_event(s->vm, &s->stats);
	return 0;
}
