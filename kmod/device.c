// SPDX-License-Identifier: GPL-2.0
/*
 * device.c: /dev/kvmmig. Each open file can attach one VM; the VM stays
 * attached exactly as long as the file is open, so a VMM that exits or
 * crashes detaches itself. The file is the authority over the VM's
 * migrations: sessions are opened and cancelled on it (session.c).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "device.h"
#include "registry.h"
#include "session.h"
#include "leakcheck.h"

struct kvmmig_handle {
	struct mutex lock;	/* serialises ATTACH on this file */
	struct kvmmig_vm *vm;	/* NULL until attached */
};

static int kvmmig_open(struct inode *inode, struct file *file)
{
	struct kvmmig_handle *h;

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	mutex_init(&h->lock);
	kvmmig_leak_inc(KVMMIG_OBJ_HANDLE);
	file->private_data = h;
	return nonseekable_open(inode, file);
}

static int kvmmig_release(struct inode *inode, struct file *file)
{
	struct kvmmig_handle *h = file->private_data;

	if (h->vm)
		kvmmig_registry_detach(h->vm);
	mutex_destroy(&h->lock);
	kfree(h);
	kvmmig_leak_dec(KVMMIG_OBJ_HANDLE);
	return 0;
}

static long ioctl_attach(struct kvmmig_handle *h, void __user *argp)
{
	struct kvmmig_attach arg;
	struct kvmmig_vm *vm;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~(KVMMIG_ATTACH_INCOMING | KVMMIG_ATTACH_DIRTY_RING))
		return -EINVAL;
	if (!memchr(arg.name, '\0', sizeof(arg.name)))
		return -EINVAL;

	mutex_lock(&h->lock);
	if (h->vm) {
		ret = -EINVAL;
		goto out;
	}
	ret = kvmmig_registry_attach(arg.vm_fd, arg.name, arg.flags, &vm);
	if (!ret)
		WRITE_ONCE(h->vm, vm);
out:
	mutex_unlock(&h->lock);
	return ret;
}

/* Ranges of guest memory the VMM wrote itself (invariant 6). */
static long mark_dirty(struct kvmmig_handle *h, const struct kvmmig_mark_dirty *runs, u32 n)
{
	/* h->vm is set once and never cleared while the file is open. */
	struct kvmmig_vm *vm = READ_ONCE(h->vm);
	u32 i;

	if (!vm)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (runs[i].flags)
			return -EINVAL;
	return kvmmig_session_mark_dirty(vm, runs, n);
}

static long ioctl_mark_dirty(struct kvmmig_handle *h, void __user *argp)
{
	struct kvmmig_mark_dirty arg;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	return mark_dirty(h, &arg, 1);
}

static long ioctl_mark_dirty_runs(struct kvmmig_handle *h, void __user *argp)
{
	struct kvmmig_mark_dirty_runs arg;
	struct kvmmig_mark_dirty *runs;
	long ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || !arg.count)
		return -EINVAL;
	if (arg.count > KVMMIG_MARK_DIRTY_RUNS_MAX)
		return -E2BIG;
	runs = kvmalloc_array(arg.count, sizeof(*runs), GFP_KERNEL_ACCOUNT);
	if (!runs)
		return -ENOMEM;
	if (copy_from_user(runs, u64_to_user_ptr(arg.runs), arg.count * sizeof(*runs)))
		ret = -EFAULT;
	else
		ret = mark_dirty(h, runs, arg.count);
	kvfree(runs);
	return ret;
}

/*
 * Opens a migration session of this file's VM: holding this file is the
 * authority (invariant 8), whatever the caller's capabilities.
 */
static long ioctl_session_open(struct kvmmig_handle *h, void __user *argp)
{
	struct kvmmig_session_open arg;
	struct kvmmig_vm *vm = READ_ONCE(h->vm);

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!vm)
		return -EINVAL;
	return kvmmig_session_open(vm, &arg);
}

static long ioctl_cancel(struct kvmmig_handle *h)
{
	struct kvmmig_vm *vm = READ_ONCE(h->vm);

	return vm ? kvmmig_session_cancel(vm) : -EINVAL;
}

static long kvmmig_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kvmmig_handle *h = file->private_data;

	switch (cmd) {
	case KVMMIG_ATTACH:
		return ioctl_attach(h, (void __user *)arg);
	case KVMMIG_MARK_DIRTY:
		return ioctl_mark_dirty(h, (void __user *)arg);
	case KVMMIG_MARK_DIRTY_RUNS:
		return ioctl_mark_dirty_runs(h, (void __user *)arg);
	case KVMMIG_SESSION_OPEN:
		return ioctl_session_open(h, (void __user *)arg);
	case KVMMIG_CANCEL:
		return ioctl_cancel(h);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kvmmig_fops = {
	.owner = THIS_MODULE,
	.open = kvmmig_open,
	.release = kvmmig_release,
	.unlocked_ioctl = kvmmig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/*
 * A fixed minor lets `kmod static-nodes` create /dev/kvmmig at boot, so the
 * first open autoloads the module (devname alias below). 247 is unassigned
 * in the kernel's list; if a local driver took it, fall back to a dynamic
 * minor: the device still works, only autoloading on open is lost.
 */
#define KVMMIG_MISC_MINOR 247
MODULE_ALIAS_MISCDEV(KVMMIG_MISC_MINOR);
MODULE_ALIAS("devname:" KVMMIG_DEVICE_NAME);

static struct miscdevice kvmmig_miscdev = {
	.minor = KVMMIG_MISC_MINOR,
	.name = KVMMIG_DEVICE_NAME,
	.fops = &kvmmig_fops,
	.mode = 0600,
};

int kvmmig_device_init(void)
{
	int ret = misc_register(&kvmmig_miscdev);

	if (ret == -EBUSY) {
		pr_notice("misc minor %d is taken: /dev/kvmmig gets a dynamic one and will not autoload the module\n",
			  KVMMIG_MISC_MINOR);
		kvmmig_miscdev.minor = MISC_DYNAMIC_MINOR;
		ret = misc_register(&kvmmig_miscdev);
	}
	return ret;
}

void kvmmig_device_uninit(void)
{
	misc_deregister(&kvmmig_miscdev);
}
