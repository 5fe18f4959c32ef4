/*
 * throttle.c: the vCPU throttle of auto-converge: the vCPUs sleep a share of
 * every period, so that a guest dirtying memory faster than a migration's
 * link carries it slows down until the migration converges.
 *
 * As QEMU's cpu-throttle: a period is a 10 ms slice of running followed by
 * pct/(100-pct) slices of sleep (20%: 2.5 ms, 99%: 990 ms). One thread per
 * VM keeps the time: at the end of each running slice it sets when the
 * sleep ends and kicks every vCPU out of KVM_RUN; each vCPU thread then
 * sleeps (vmm_throttle_sleep()) until then, or until a pause, a quit or the
 * throttle's end wakes it: a pause for a migration's stop-and-copy never
 * waits for a throttled vCPU's sleep.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "vmm/vmm.h"

#define THROTTLE_SLICE_NS 10000000ull

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Waits on vm->throttle_cond (vm->lock held) until @until_ns at most. */
static void wait_until(struct vmm_vm *vm, uint64_t until_ns)
{
	struct timespec ts = {.tv_sec = until_ns / 1000000000ull,
			      .tv_nsec = until_ns % 1000000000ull};

	pthread_cond_timedwait(&vm->throttle_cond, &vm->lock, &ts);
}

/*
 * With vm->lock held: sleeps until *@until_ns (read atomically: another
 * thread may move it, 0 ends the sleep) has passed, or a pause or a quit
 * is asked. Returns the last value it read.
 */
static uint64_t sleep_until(struct vmm_vm *vm, const uint64_t *until_ns)
{
	uint64_t until;

	for (;;) {
		until = __atomic_load_n(until_ns, __ATOMIC_SEQ_CST);
		if (!until || monotonic_ns() >= until || vm->pause_requested || vm->quitting)
			return until;
		wait_until(vm, until);
	}
}

static bool throttling(struct vmm_vm *vm)
{
	return vm->throttle_pct && !vm->quitting;
}

static void *throttle_thread(void *arg)
{
	struct vmm_vm *vm = arg;

	pthread_setname_np(pthread_self(), "throttle");
	pthread_mutex_lock(&vm->lock);
	while (throttling(vm)) {
		uint64_t run_end = monotonic_ns() + THROTTLE_SLICE_NS, sleep_end;

		while (throttling(vm) && monotonic_ns() < run_end)
			wait_until(vm, run_end);
		if (!throttling(vm))
			break;
		sleep_end = monotonic_ns() +
			    THROTTLE_SLICE_NS * vm->throttle_pct / (100 - vm->throttle_pct);
		__atomic_store_n(&vm->throttle_until_ns, sleep_end, __ATOMIC_SEQ_CST);
		vmm_vcpus_kick(vm);
		while (throttling(vm) && monotonic_ns() < sleep_end)
			wait_until(vm, sleep_end);
	}
	__atomic_store_n(&vm->throttle_until_ns, 0, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->throttle_cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

void vmm_throttle_init(struct vmm_vm *vm)
{
	pthread_condattr_t monotonic;

	/* Periods are timed on the monotonic clock: a clock step must not stretch a sleep. */
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->throttle_cond, &monotonic);
	pthread_condattr_destroy(&monotonic);
	vm->throttle_mask = ~0ull;
}

int vmm_throttle_set(struct vmm_vm *vm, unsigned int pct, uint64_t mask)
{
	bool join = false;
	pthread_t thread;
	unsigned int was;
	int err = 0;

	if (pct > 99)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	was = vm->throttle_pct;
	__atomic_store_n(&vm->throttle_mask, pct ? mask : ~0ull, __ATOMIC_SEQ_CST);
	if (pct && vm->quitting) {
		err = -ESHUTDOWN;
	} else if (pct && !vm->throttle_thread_started) {
		vm->throttle_pct = pct;
		err = -pthread_create(&vm->throttle_thread, NULL, throttle_thread, vm);
		if (err)
			vm->throttle_pct = 0;
		else
			vm->throttle_thread_started = true;
	} else {
		/* A new share from the next period on; 0 ends the thread and every sleep. */
		vm->throttle_pct = pct;
		if (!pct && vm->throttle_thread_started) {
			__atomic_store_n(&vm->throttle_until_ns, 0, __ATOMIC_SEQ_CST);
			vm->throttle_thread_started = false;
			thread = vm->throttle_thread;
			join = true;
		}
		pthread_cond_broadcast(&vm->throttle_cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (join)
		pthread_join(thread, NULL);
	if (err)
		vmm_log("unable to throttle the vCPUs to %u%%: %s", pct, strerror(-err));
	else if (pct != was)
		vmm_debug("vCPU throttle %u%% (was %u%%), vCPUs 0x%llx", pct, was,
			  (unsigned long long)mask);
	return err;
}

unsigned int vmm_throttle_get(struct vmm_vm *vm)
{
	unsigned int pct;

	pthread_mutex_lock(&vm->lock);
	pct = vm->throttle_pct;
	pthread_mutex_unlock(&vm->lock);
	return pct;
}

bool vmm_throttle_sleep(struct vmm_vcpu *vcpu)
{
	struct vmm_vm *vm = vcpu->vm;
	uint64_t until = __atomic_load_n(&vm->throttle_until_ns, __ATOMIC_SEQ_CST);

	/* Not throttled, or this period's sleep is over: no lock on the way to KVM_RUN. */
	if (!until || monotonic_ns() >= until)
		return false;
	if (!(__atomic_load_n(&vm->throttle_mask, __ATOMIC_SEQ_CST) & (1ull << vcpu->index)))
		return false;
	pthread_mutex_lock(&vm->lock);
	sleep_until(vm, &vm->throttle_until_ns);
	pthread_mutex_unlock(&vm->lock);
	return true;
}

int vmm_dirty_limit_set(struct vmm_vm *vm, uint64_t pages_per_s, uint64_t mask)
{
	if (!vm->ring_entries)
		return pages_per_s ? -EINVAL : 0;
	/* A new limit counts from now, not from the pages dirtied before it. */
	pthread_mutex_lock(&vm->ring_lock);
	for (int i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].limit_mark_ns = monotonic_ns();
		vm->vcpus[i].limit_mark_pages = vm->ring_reaped[i];
	}
	pthread_mutex_unlock(&vm->ring_lock);
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->dirty_limit_mask, pages_per_s ? mask : 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&vm->dirty_limit, pages_per_s, __ATOMIC_SEQ_CST);
	/* A new limit counts from its next reap; none runs every vCPU at once. */
	for (int i = 0; i < vm->ncpus; i++)
		__atomic_store_n(&vm->vcpus[i].limit_until_ns, 0, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->throttle_cond);
	pthread_mutex_unlock(&vm->lock);
	vmm_debug("dirty limit %llu pages/s, vCPUs 0x%llx", (unsigned long long)pages_per_s,
		  (unsigned long long)mask);
	return 0;
}

uint64_t vmm_dirty_limit_get(struct vmm_vm *vm, uint64_t *mask)
{
	*mask = __atomic_load_n(&vm->dirty_limit_mask, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&vm->dirty_limit, __ATOMIC_SEQ_CST);
}

/* The limit on @vcpu now (pages a second), 0 for none. */
static uint64_t limit_of(struct vmm_vcpu *vcpu)
{
	uint64_t mask, limit = vmm_dirty_limit_get(vcpu->vm, &mask);

	return mask & (1ull << vcpu->index) ? limit : 0;
}

/*
 * At each reap of @vcpu's ring (the tool's before a round, or its own when
 * it filled; under ring_lock), with @pages its pages reaped so far: the
 * pages since the last mark may take no less than pages / limit seconds
 * from it, so the vCPU is to sleep until then (vmm_dirty_limit_sleep(), at
 * its next exit). The next mark is that time.
 */
void vmm_dirty_limit_account(struct vmm_vcpu *vcpu, uint64_t pages)
{
	uint64_t limit = limit_of(vcpu), now = monotonic_ns(), due = now;

	if (limit && vcpu->limit_mark_ns)
		due = vcpu->limit_mark_ns +
		      (uint64_t)((double)(pages - vcpu->limit_mark_pages) * 1e9 / limit);
	if (due > now)
		__atomic_store_n(&vcpu->limit_until_ns, due, __ATOMIC_SEQ_CST);
	vcpu->limit_mark_ns = due > now ? due : now;
	vcpu->limit_mark_pages = pages;
}

bool vmm_dirty_limit_sleep(struct vmm_vcpu *vcpu)
{
	struct vmm_vm *vm = vcpu->vm;
	uint64_t until = __atomic_load_n(&vcpu->limit_until_ns, __ATOMIC_SEQ_CST);

	if (!until)
		return false;
	pthread_mutex_lock(&vm->lock);
	until = sleep_until(vm, &vcpu->limit_until_ns);
	/* Slept its due (a pause keeps it for after the resume: the guest's time runs on). */
	if (until && monotonic_ns() >= until)
		__atomic_compare_exchange_n(&vcpu->limit_until_ns, &until, 0, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->lock);
	return true;
}
