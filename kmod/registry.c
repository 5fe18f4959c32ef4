// SPDX-License-Identifier: GPL-2.0
/* registry.c: attaching KVM VMs by name, looking them up, letting them go. */
#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "registry.h"
#include "netlink.h"
#include "session.h"
#include "leakcheck.h"

static LIST_HEAD(registry);
static DEFINE_MUTEX(registry_lock);

bool kvmmig_name_valid(const char *name)
{
	size_t len = strnlen(name, KVMMIG_NAME_MAX);
	size_t i;

	if (len == 0 || len == KVMMIG_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return false;
	}
	return true;
}

/* Caller holds registry_lock. */
static struct kvmmig_vm *find_locked(const char *name)
{
	struct kvmmig_vm *vm;

	list_for_each_entry(vm, &registry, node)
		if (!strcmp(vm->name, name))
			return vm;
	return NULL;
}

/*
 * Is @file a KVM VM file (what KVM_CREATE_VM returned)? Without file_is_kvm()
 * (7.x exports it to kvm-amd and kvm-intel only). KVM makes a VM file with
 * anon_inode_getfile("kvm-vm", &kvm_vm_fops, kvm, ...): an inode of the
 * anon_inode filesystem, whose names only kernel code chooses (userspace
 * cannot name one), and "kvm-vm" is KVM's alone. Where KVM sets its fops'
 * owner to the vendor module that registered it (kvm_amd, kvm_intel), the
 * owner must be that too: a file another module made would be owned by that
 * module. (KVM built in, or a kernel where KVM leaves the owner unset, has
 * no owner to check: there it must be NULL.)
 */
static bool kvmmig_file_is_kvm_vm(struct file *file)
{
	struct module *owner = file->f_op->owner;
	const char *name;

	if (file_inode(file)->i_sb->s_magic != ANON_INODE_FS_MAGIC ||
	    strcmp(file->f_path.dentry->d_name.name, "kvm-vm") != 0)
		return false;
	if (!owner)
		return !KVMMIG_KVM_FOPS_OWNED || IS_BUILTIN(CONFIG_KVM);
	if (!KVMMIG_KVM_FOPS_OWNED)
		return false;
	/* The file pins its owner: a module reference since it was made. */
	name = module_name(owner);
	return !strcmp(name, "kvm_amd") || !strcmp(name, "kvm_intel");
}

static void vm_release(struct kref *ref)
{
	struct kvmmig_vm *vm = container_of(ref, struct kvmmig_vm, ref);

	/* The last use of vm->kvm: the VM file's release drops KVM's own. */
	fput(vm->vm_file);
	mmdrop(vm->mm);
	mutex_destroy(&vm->lock);
	kfree(vm);
	kvmmig_leak_dec(KVMMIG_OBJ_VM);
}

void kvmmig_vm_get(struct kvmmig_vm *vm)
{
	kref_get(&vm->ref);
}

void kvmmig_vm_put(struct kvmmig_vm *vm)
{
	kref_put(&vm->ref, vm_release);
}

/* Caller holds registry_lock. */
static bool kvm_attached_locked(struct kvm *kvm)
{
	struct kvmmig_vm *vm;

	list_for_each_entry(vm, &registry, node)
		if (vm->kvm == kvm)
			return true;
	return false;
}

int kvmmig_registry_attach(int vm_fd, const char *name, u32 flags,
			   struct kvmmig_vm **out)
{
	struct kvmmig_vm *vm;
	struct file *vm_file;
	struct kvm *kvm;
	int ret;

	if (!kvmmig_name_valid(name))
		return -EINVAL;

	vm_file = fget(vm_fd);
	if (!vm_file)
		return -EBADF;
	if (!kvmmig_file_is_kvm_vm(vm_file)) {
		ret = -EINVAL;
		goto out_fput;
	}
	kvm = vm_file->private_data;
	/*
	 * The worker drives the VM from its own mm (KVM wants that), so a VM
	 * fd of another process's works too; taking one (pidfd_getfd()) to
	 * migrate a VMM that did not attach itself is an administrator's act.
	 */
	if (kvm->mm != current->mm && !capable(CAP_SYS_ADMIN)) {
		ret = -EPERM;
		goto out_fput;
	}

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm) {
		ret = -ENOMEM;
		goto out_fput;
	}
	kref_init(&vm->ref);
	strscpy(vm->name, name, sizeof(vm->name));
	vm->tgid = task_tgid_nr(current);
	vm->state = KVMMIG_VM_IDLE;
	vm->incoming = flags & KVMMIG_ATTACH_INCOMING;
	vm->ring_reported = flags & KVMMIG_ATTACH_DIRTY_RING;
	mutex_init(&vm->lock);
	spin_lock_init(&vm->session_lock);
	spin_lock_init(&vm->stat_lock);

	mutex_lock(&registry_lock);
	/* Two sessions on one VM would clear each other's dirty bits. */
	if (kvm_attached_locked(kvm)) {
		mutex_unlock(&registry_lock);
		kfree(vm);
		ret = -EALREADY;
		goto out_fput;
	}
	if (find_locked(name)) {
		mutex_unlock(&registry_lock);
		kfree(vm);
		ret = -EEXIST;
		goto out_fput;
	}
	/*
	 * The module drives KVM through the VM file's own ioctls; keep that
	 * file until the VM is released (at the latest when the /dev/kvmmig
	 * file that attached it closes). Holding it also keeps struct kvm
	 * alive: KVM drops the VM file's reference only in its release, so no
	 * kvm_get_kvm() (an export upstream means to take away) is needed.
	 */
	vm->kvm = kvm;
	vm->vm_file = get_file(vm_file);
	mmgrab(kvm->mm);
	vm->mm = kvm->mm;
	kvmmig_leak_inc(KVMMIG_OBJ_VM);
	list_add_tail(&vm->node, &registry);
	mutex_unlock(&registry_lock);

	fput(vm_file);
	kvmmig_netlink_vm_event(vm, KVMMIG_EVENT_ATTACHED);
	*out = vm;
	return 0;

out_fput:
	fput(vm_file);
	return ret;
}

void kvmmig_registry_detach(struct kvmmig_vm *vm)
{
	mutex_lock(&registry_lock);
	list_del(&vm->node);
	mutex_unlock(&registry_lock);

	/* A VMM that goes away takes its migration with it. */
	kvmmig_session_detach(vm);
	kvmmig_netlink_vm_event(vm, KVMMIG_EVENT_DETACHED);
	kvmmig_vm_put(vm);
}

struct kvmmig_vm *kvmmig_vm_lookup(const char *name)
{
	struct kvmmig_vm *vm;

	mutex_lock(&registry_lock);
	vm = find_locked(name);
	if (vm)
		kvmmig_vm_get(vm);
	mutex_unlock(&registry_lock);
	return vm;
}

int kvmmig_registry_walk(unsigned long *pos,
			 int (*fn)(struct kvmmig_vm *vm, void *arg), void *arg)
{
	struct kvmmig_vm *vm;
	unsigned long i = 0;
	int ret = 0;

	mutex_lock(&registry_lock);
	list_for_each_entry(vm, &registry, node) {
		if (i++ < *pos)
			continue;
		ret = fn(vm, arg);
		if (ret)
			break;
		(*pos)++;
	}
	mutex_unlock(&registry_lock);
	return ret;
}

void kvmmig_vm_geometry(struct kvmmig_vm *vm, struct kvmmig_vm_geometry *geo)
{
	struct kvm_memory_slot *slot;
	struct kvm_memslots *slots;
	int idx, bkt;

	geo->mem_bytes = 0;
	geo->memslots = 0;

	idx = srcu_read_lock(&vm->kvm->srcu);
	slots = kvm_memslots(vm->kvm);
	kvm_for_each_memslot(slot, bkt, slots) {
		geo->mem_bytes += (u64)slot->npages << PAGE_SHIFT;
		geo->memslots++;
	}
	srcu_read_unlock(&vm->kvm->srcu, idx);
}

void kvmmig_vm_set_state(struct kvmmig_vm *vm, u32 state)
{
	bool changed;

	spin_lock(&vm->stat_lock);
	changed = vm->state != state;
	vm->state = state;
	spin_unlock(&vm->stat_lock);
	if (changed)
		kvmmig_netlink_vm_event(vm, KVMMIG_EVENT_STATE);
}

/*
 * Is [gpa, gpa + npages pages) still mapped by one memslot of the VM at
 * @uaddr? The destination checks each record against the VM as it is now,
 * not as it was when the session started: a slot the VMM deleted or moved
 * meanwhile must not be written through its old address.
 */
bool kvmmig_vm_maps(struct kvmmig_vm *vm, u64 gpa, u64 npages, u64 uaddr)
{
	struct kvm_memory_slot *slot;
	struct kvm_memslots *slots;
	u64 gfn = gpa >> PAGE_SHIFT;
	bool ok = false;
	int idx, bkt;

	idx = srcu_read_lock(&vm->kvm->srcu);
	slots = kvm_memslots(vm->kvm);
	kvm_for_each_memslot(slot, bkt, slots) {
		if (slot->id >= KVM_USER_MEM_SLOTS || gfn < slot->base_gfn ||
		    gfn - slot->base_gfn >= slot->npages)
			continue;
		ok = npages <= slot->npages - (gfn - slot->base_gfn) &&
		     slot->userspace_addr +
		     ((gfn - slot->base_gfn) << PAGE_SHIFT) == uaddr;
		break;
	}
	srcu_read_unlock(&vm->kvm->srcu, idx);
	return ok;
}

/* Does one memslot hold [gpa, gpa + size)? @slots under kvm->srcu. */
static bool range_in_memslot(struct kvm_memslots *slots, u64 gpa, u64 size)
{
	struct kvm_memory_slot *slot;
	u64 gfn = gpa >> PAGE_SHIFT;
	u64 npages = size >> PAGE_SHIFT;
	int bkt;

	if (!size || !PAGE_ALIGNED(gpa) || !PAGE_ALIGNED(size))
		return false;
	kvm_for_each_memslot(slot, bkt, slots) {
		if (gfn >= slot->base_gfn && gfn - slot->base_gfn < slot->npages &&
		    npages <= slot->npages - (gfn - slot->base_gfn))
			return true;
	}
	return false;
}

/*
 * Is each of the @n ranges a VMM reports page-aligned, nonempty and inside
 * one memslot of the VM as it is now? (MARK_DIRTY: a bad range is an error
 * the VMM must hear, whether or not a session runs.)
 */
bool kvmmig_vm_runs_in_memslots(struct kvmmig_vm *vm, const struct kvmmig_mark_dirty *runs,
				u32 n)
{
	struct kvm_memslots *slots;
	bool ok = true;
	int idx;
	u32 i;

	idx = srcu_read_lock(&vm->kvm->srcu);
	slots = kvm_memslots(vm->kvm);
	for (i = 0; ok && i < n; i++)
		ok = range_in_memslot(slots, runs[i].gpa, runs[i].size);
	srcu_read_unlock(&vm->kvm->srcu, idx);
	return ok;
}

int kvmmig_registry_init(void)
{
	return 0;
}

void kvmmig_registry_uninit(void)
{
	/*
	 * Every VM is detached by the release of its /dev/kvmmig file, which
	 * holds a module reference: nothing can be left here at unload.
	 */
	WARN_ON(!list_empty(&registry));
}
