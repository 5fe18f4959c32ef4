// SPDX-License-Identifier: GPL-2.0
/*
 * kvmmig_bugs.ko: a test-only module with the bugs the debug test hosts must
 * catch (tests/debug/selftest). Never part of kvmmig.ko; built only against
 * the debug kernels (make debug-kernel). Each write to
 * /sys/module/kvmmig_bugs/parameters/bug does one:
 *   uaf    read a kmalloc'ed object after kfree      -> KASAN use-after-free
 *   lockinv take A then B, later B then A            -> lockdep circular locking
 *   leak   kmalloc an object and lose the pointer    -> kmemleak unreferenced
 *   race   two kthreads increment one plain counter  -> KCSAN data-race
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

static DEFINE_MUTEX(kvmmig_bugs_a);
static DEFINE_MUTEX(kvmmig_bugs_b);

static noinline void kvmmig_bugs_uaf(void)
{
	char *obj = kmalloc(64, GFP_KERNEL);
	char seen;

	if (!obj)
		return;
	memset(obj, 0x5a, 64);
	kfree(obj);
	/* Hidden from the compiler, so the read stays after the kfree. */
	OPTIMIZER_HIDE_VAR(obj);
	seen = READ_ONCE(obj[8]);
	pr_info("read %#x after kfree\n", (unsigned char)seen);
}

static noinline void kvmmig_bugs_lock_ab(void)
{
	mutex_lock(&kvmmig_bugs_a);
	mutex_lock(&kvmmig_bugs_b);
	mutex_unlock(&kvmmig_bugs_b);
	mutex_unlock(&kvmmig_bugs_a);
}

static noinline void kvmmig_bugs_lock_ba(void)
{
	mutex_lock(&kvmmig_bugs_b);
	mutex_lock(&kvmmig_bugs_a);
	mutex_unlock(&kvmmig_bugs_a);
	mutex_unlock(&kvmmig_bugs_b);
}

/* Sequential, so it never deadlocks: lockdep reports the order anyway. */
static noinline void kvmmig_bugs_lockinv(void)
{
	kvmmig_bugs_lock_ab();
	kvmmig_bugs_lock_ba();
}

static noinline void kvmmig_bugs_leak(void)
{
	void *obj = kmalloc(200, GFP_KERNEL);

	if (!obj)
		return;
	memset(obj, 0xa5, 200);
	/* The only pointer to it dies here. */
	OPTIMIZER_HIDE_VAR(obj);
	pr_info("leaked a 200-byte object\n");
}

static unsigned long kvmmig_bugs_counter;

/* Unmarked read-modify-write of a shared counter for a second: a data race. */
static noinline int kvmmig_bugs_racer(void *done)
{
	unsigned long end = jiffies + HZ;

	while (time_before(jiffies, end)) {
		kvmmig_bugs_counter++;
		cpu_relax();
	}
	complete(done);
	return 0;
}

static noinline void kvmmig_bugs_race(void)
{
	DECLARE_COMPLETION_ONSTACK(done0);
	DECLARE_COMPLETION_ONSTACK(done1);
	struct task_struct *t0, *t1;

	t0 = kthread_run(kvmmig_bugs_racer, &done0, "kvmmig_race/0");
	t1 = kthread_run(kvmmig_bugs_racer, &done1, "kvmmig_race/1");
	if (!IS_ERR(t0))
		wait_for_completion(&done0);
	if (!IS_ERR(t1))
		wait_for_completion(&done1);
	pr_info("racers counted to %lu\n", READ_ONCE(kvmmig_bugs_counter));
}

static int kvmmig_bugs_set(const char *val, const struct kernel_param *kp)
{
	if (sysfs_streq(val, "uaf"))
		kvmmig_bugs_uaf();
	else if (sysfs_streq(val, "lockinv"))
		kvmmig_bugs_lockinv();
	else if (sysfs_streq(val, "leak"))
		kvmmig_bugs_leak();
	else if (sysfs_streq(val, "race"))
		kvmmig_bugs_race();
	else
		return -EINVAL;
	return 0;
}

static const struct kernel_param_ops kvmmig_bugs_ops = {
	.set = kvmmig_bugs_set,
};
module_param_cb(bug, &kvmmig_bugs_ops, NULL, 0200);
MODULE_PARM_DESC(bug, "do one bug: uaf, lockinv, leak or race");

MODULE_DESCRIPTION("kvmmig debug-lane self-test: deliberate bugs");
MODULE_LICENSE("GPL");
