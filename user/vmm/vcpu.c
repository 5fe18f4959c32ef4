/* vcpu.c: the vCPU threads and their run loop; pause, resume and stop of the whole VM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/vmm.h"

/*
 * Pausing, as kvmtool and QEMU do it: the pausing thread sets
 * pause_requested, then each vCPU's kvm_run->immediate_exit, then signals
 * the vCPU thread. A vCPU inside KVM_RUN leaves it on the signal; one about
 * to enter leaves at once because of immediate_exit. Either way it then
 * sees pause_requested, re-enters KVM_RUN once with immediate_exit set if
 * its last exit was an I/O or MMIO exit (KVM completes such an exit only on
 * the next KVM_RUN, and only then is its register state final), and parks.
 * The vCPU clears immediate_exit itself before it reads pause_requested, so
 * a kick can never be lost between the two.
 */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* its only job is to interrupt KVM_RUN */
}

static void install_kick_handler(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

static bool pause_requested(struct vmm_vm *vm)
{
	return __atomic_load_n(&vm->pause_requested, __ATOMIC_SEQ_CST);
}

void vmm_vcpus_kick(struct vmm_vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vcpu->thread_started && !pthread_equal(vcpu->thread, pthread_self()))
			pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	}
	/* A vCPU asleep in a throttle period wakes for a pause or a quit. */
	pthread_cond_broadcast(&vm->throttle_cond);
}

void vmm_vm_request_stop(struct vmm_vm *vm, int status, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (!vm->stop_requested) {
		vm->stop_requested = true;
		vm->stop_status = status;
		va_start(ap, fmt);
		vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->lock);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		vmm_log("unable to signal the stop of the VM: %s", strerror(errno));
}

/* Completes a pending exit so that the state KVM reports is final; see the top of this file. */
static void complete_pending_exit(struct vmm_vcpu *vcpu)
{
	if (!vcpu->exit_pending)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0 || (errno != EINTR && errno != EAGAIN))
		vmm_log("vCPU %d: completing the pending exit returned %s", vcpu->index,
			strerror(errno));
	vcpu->exit_pending = false;
}

static void park(struct vmm_vcpu *vcpu)
{
	struct vmm_vm *vm = vcpu->vm;

	complete_pending_exit(vcpu);
	pthread_mutex_lock(&vm->lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->parked_cond);
	while (vm->pause_requested && !vm->quitting)
		pthread_cond_wait(&vm->resume_cond, &vm->lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->lock);
}

static void handle_io(struct vmm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	const struct vmm_exit_ops *ops = vcpu->vm->exit_ops;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t size = run->io.size, count = run->io.count;

	if (count > 1 && ops && ops->pio_string) {
		ops->pio_string(vcpu, run->io.port, out, data, size, count);
		return;
	}
	for (uint32_t i = 0; i < count; i++, data += size) {
		if (!out)
			memset(data, 0xff, size);
		if (ops && ops->pio)
			ops->pio(vcpu, run->io.port, out, data, size);
	}
}

static void handle_mmio(struct vmm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	const struct vmm_exit_ops *ops = vcpu->vm->exit_ops;

	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
	if (ops && ops->mmio)
		ops->mmio(vcpu, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data,
			  run->mmio.len);
}

/* What a failed entry needs for a diagnosis: the state KVM handed the hardware. */
static void dump_registers(struct vmm_vcpu *vcpu)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events ev;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return;
	vmm_log("vCPU %d: rip 0x%llx rsp 0x%llx rflags 0x%llx cr0 0x%llx cr3 0x%llx cr4 0x%llx "
		"efer 0x%llx",
		vcpu->index, regs.rip, regs.rsp, regs.rflags, sregs.cr0, sregs.cr3, sregs.cr4,
		sregs.efer);
	vmm_log("vCPU %d: cs 0x%x type %u dpl %u l %u db %u; ss 0x%x type %u dpl %u db %u; "
		"tr 0x%x type %u",
		vcpu->index, sregs.cs.selector, sregs.cs.type, sregs.cs.dpl, sregs.cs.l,
		sregs.cs.db, sregs.ss.selector, sregs.ss.type, sregs.ss.dpl, sregs.ss.db,
		sregs.tr.selector, sregs.tr.type);
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0)
		vmm_log("vCPU %d: exception injected %u pending %u nr %u; interrupt injected %u "
			"nr %u shadow %u; nmi injected %u pending %u masked %u",
			vcpu->index, ev.exception.injected, ev.exception.pending, ev.exception.nr,
			ev.interrupt.injected, ev.interrupt.nr, ev.interrupt.shadow,
			ev.nmi.injected, ev.nmi.pending, ev.nmi.masked);
}

/* Copies @len bytes at guest virtual address @gva (within one page) to @buf; false if unmapped. */
static bool read_guest_virt(struct vmm_vcpu *vcpu, uint64_t gva, void *buf, size_t len)
{
	struct kvm_translation tr = {.linear_address = gva};
	const void *hva;

	if ((gva & 0xfff) + len > 0x1000 || ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return false;
	hva = vmm_gpa_to_hva(vcpu->vm, tr.physical_address, len);
	if (!hva)
		return false;
	memcpy(buf, hva, len);
	return true;
}

/* For a diagnosis: the code at rip, and where the IDT sends @vector (64-bit gates). */
static void dump_code_and_gate(struct vmm_vcpu *vcpu, unsigned int vector)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t code[16];
	uint64_t gate[2], handler = 0;
	char hex[3 * sizeof(code) + 1] = "";
	size_t n;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return;
	n = 0x1000 - (regs.rip & 0xfff) < sizeof(code) ? 0x1000 - (regs.rip & 0xfff) : sizeof(code);
	if (read_guest_virt(vcpu, regs.rip, code, n))
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", code[i]);
	if (vector * 16 + 15 <= sregs.idt.limit &&
	    read_guest_virt(vcpu, sregs.idt.base + vector * 16, gate, sizeof(gate)))
		handler =
		    (gate[0] & 0xffff) | ((gate[0] >> 48) << 16) | ((gate[1] & 0xffffffff) << 32);
	vmm_log("vCPU %d: code at rip: %s; IDT vector %u -> 0x%llx", vcpu->index,
		hex[0] ? hex : "(unmapped)", vector, (unsigned long long)handler);
}

/*
 * A failed VM entry with an injected "exception" whose vector is 32 or more
 * (no exception has such a vector) is a fault of the emulated SVM of a QEMU
 * TCG test host, not of this VM. QEMU records an interrupt that a #VMEXIT
 * cuts as an exception (its handle_even_inj labels every non-software
 * event so), KVM queues it for re-injection and VMRUN refuses it. In a
 * 2-vCPU Linux guest restored into a fresh VMM a few percent of restores
 * hit it (tests/stress/linux-restore-loop.sh: vector 236, Linux's timer),
 * always on vCPU 1, and each time the guest's state was already broken when
 * KVM reported it: kernel CS and SS on a user stack, interrupts off, rip in
 * the middle of an instruction of the syscall return path. No event the VMM
 * could put in its place saves that guest: re-injecting the interrupt and
 * dropping it were both tried, and the guest crashed (panic, reboot) every
 * time. So the VM stops here, saying what happened, rather than run on
 * into a crash that would look like the guest's own.
 * Returns the vector, or -1 if the failed entry has another cause.
 */
static int emulated_svm_fault(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || !ev.exception.injected ||
	    ev.exception.nr < 32)
		return -1;
	return ev.exception.nr;
}

static void handle_exit(struct vmm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vmm_vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vmm_vcpu_sample(vcpu);
		handle_io(vcpu);
		break;
	case KVM_EXIT_MMIO:
		vmm_vcpu_sample(vcpu);
		handle_mmio(vcpu);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_DIRTY_RING_FULL: {
		/*
		 * KVM lets this vCPU in again once its ring has room: reap them
		 * all. ESTALE (the stream had ended) stays for the tool's next
		 * reap, which fails the migration.
		 */
		int err = vmm_dirty_ring_full(vm);

		if (err && err != -ESTALE)
			vmm_vm_request_stop(vm, 1, "vCPU %d: its full dirty ring could not be reaped: %s",
					    vcpu->index, strerror(-err));
		break;
	}
	case KVM_EXIT_HLT:
		vmm_vm_request_stop(vm, 0, "vCPU %d halted", vcpu->index);
		break;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: Linux's last-resort reboot, or a crashed payload. */
		vmm_vcpu_post_mortem(vcpu);
		vmm_vm_request_stop(vm, 0, "vCPU %d: guest shutdown (triple fault)", vcpu->index);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		vmm_vm_request_stop(vm, 0, "vCPU %d: guest system event %u", vcpu->index,
				    run->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY: {
		int vector = emulated_svm_fault(vcpu);

		dump_registers(vcpu);
		if (vector >= 0) {
			dump_code_and_gate(vcpu, vector);
			vmm_vm_request_stop(
			    vm, 1,
			    "vCPU %d: VM entry failed: the (emulated) CPU handed back "
			    "interrupt %d labeled as an exception, the guest's state "
			    "already broken: a fault of QEMU's TCG nested SVM, not of "
			    "this VM",
			    vcpu->index, vector);
			break;
		}
		vmm_vm_request_stop(
		    vm, 1, "vCPU %d: VM entry failed, hardware reason 0x%llx", vcpu->index,
		    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	}
	case KVM_EXIT_INTERNAL_ERROR:
		dump_registers(vcpu);
		vmm_vm_request_stop(vm, 1, "vCPU %d: KVM internal error, suberror %u", vcpu->index,
				    run->internal.suberror);
		break;
	default:
		dump_registers(vcpu);
		vmm_vm_request_stop(vm, 1, "vCPU %d: unexpected exit reason %u", vcpu->index,
				    run->exit_reason);
		break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vmm_vcpu *vcpu = arg;
	struct vmm_vm *vm = vcpu->vm;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%d", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (pause_requested(vm)) {
			park(vcpu);
			if (__atomic_load_n(&vm->quitting, __ATOMIC_SEQ_CST))
				break;
			continue;
		}
		/* After a throttle's sleep, a pause may be due: look again before running. */
		if (vmm_throttle_sleep(vcpu) || vmm_dirty_limit_sleep(vcpu))
			continue;
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vmm_vm_request_stop(vm, 1, "vCPU %d: KVM_RUN failed: %s", vcpu->index,
					    strerror(errno));
		} else {
			vcpu->has_run = true;
			vcpu->exit_pending = true;
			handle_exit(vcpu);
		}
		if (__atomic_load_n(&vm->stop_requested, __ATOMIC_SEQ_CST)) {
			/* This vCPU ends the VM: it must not run on while the main loop stops the
			 * rest. */
			__atomic_store_n(&vm->pause_requested, true, __ATOMIC_SEQ_CST);
			vmm_vcpus_kick(vm);
		}
	}
	return NULL;
}

int vmm_vm_start(struct vmm_vm *vm)
{
	sigset_t kick, old;

	install_kick_handler();
	/* Only vCPU threads take the kick signal. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, &old);
	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];
		int err = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

		if (err) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			vmm_log("unable to start the thread of vCPU %d: %s", i, strerror(err));
			return -err;
		}
		vcpu->thread_started = true;
	}
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	if (vm->state == VMM_VM_INCOMING)
		return vmm_vm_pause(vm);
	return vmm_vm_resume(vm);
}

int vmm_vm_pause(struct vmm_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->pause_requested, true, __ATOMIC_SEQ_CST);
	vmm_vcpus_kick(vm);
	while (vm->nparked < vm->ncpus)
		pthread_cond_wait(&vm->parked_cond, &vm->lock);
	if (vm->state == VMM_VM_RUNNING)
		vm->state = VMM_VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/*
 * A guest that was stopped (a pause, a cancelled or failed migration, the
 * save-to-restore gap of one that succeeded) sees kvmclock jump by the whole
 * stop when it runs again: Linux's soft-lockup and RCU-stall detectors then
 * fire. KVM_KVMCLOCK_CTRL sets PVCLOCK_GUEST_STOPPED in each vCPU's kvmclock
 * page, which tells the guest to discount the gap. QEMU calls it on every
 * vCPU whenever a stopped VM runs again (hw/i386/kvm/clock.c). EINVAL: this
 * vCPU has no kvmclock registered; ENOTTY: a KVM without the ioctl.
 */
static void tell_guest_it_was_stopped(struct vmm_vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		if (ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0) < 0 && errno != EINVAL &&
		    errno != ENOTTY)
			vmm_log("vCPU %d: KVM_KVMCLOCK_CTRL: %s", i, strerror(errno));
}

static bool any_vcpu_ran(struct vmm_vm *vm)
{
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].has_run)
			return true;
	return false;
}

int vmm_vm_resume(struct vmm_vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->stop_requested || vm->quitting) {
		err = -ESHUTDOWN;
	} else if (vm->state == VMM_VM_INCOMING && !vm->state_restored) {
		err = -ENODATA;
	} else {
		/* Every vCPU is parked here: none is in KVM_RUN. */
		if (vm->state != VMM_VM_RUNNING && (vm->state_restored || any_vcpu_ran(vm)))
			tell_guest_it_was_stopped(vm);
		vm->state = VMM_VM_RUNNING;
		__atomic_store_n(&vm->pause_requested, false, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->resume_cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return err;
}

void vmm_vcpus_kick_and_join(struct vmm_vm *vm)
{
	vmm_throttle_set(vm, 0, 0);
	vmm_dirty_limit_set(vm, 0, 0);
	pthread_mutex_lock(&vm->lock);
	vm->quitting = true;
	__atomic_store_n(&vm->pause_requested, true, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->resume_cond);
	vmm_vcpus_kick(vm);
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->thread_started) {
			pthread_join(vcpu->thread, NULL);
			vcpu->thread_started = false;
		}
	}
}

enum vmm_vm_state vmm_vm_get_state(struct vmm_vm *vm)
{
	enum vmm_vm_state state;

	pthread_mutex_lock(&vm->lock);
	state = vm->stop_requested ? VMM_VM_STOPPING : vm->state;
	pthread_mutex_unlock(&vm->lock);
	return state;
}

const char *vmm_vm_state_name(enum vmm_vm_state state)
{
	switch (state) {
	case VMM_VM_RUNNING:
		return "running";
	case VMM_VM_PAUSED:
		return "paused";
	case VMM_VM_INCOMING:
		return "incoming";
	case VMM_VM_STOPPING:
		return "stopping";
	}
	return "unknown";
}
