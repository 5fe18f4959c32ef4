/*
 * vcpustate.c: save/restore cases that need a vCPU caught at one exact moment, driven through
 * the VMM library itself (vmm_vm_start/pause/resume, vmm_state_save/restore) with a tiny guest.
 *
 *   vcpustate pending-db   a single-step #DB pending at the pause survives the restore
 *   vcpustate sipi         an AP paused with INIT+SIPI latched starts at its SIPI vector
 *   vcpustate kvmclock     the guest sees PVCLOCK_GUEST_STOPPED after a pause and resume
 *   vcpustate msrs         MTRRs, MCE bank controls and a TSC-deadline timer survive
 *   vcpustate pae-pdptrs   a PAE guest's loaded PDPTRs survive, not the PDPT in memory
 *   vcpustate feature-msrs an ARCH_CAPABILITIES value this host's KVM cannot give is refused
 *                          before anything is applied; one it can give is restored
 *
 * Each prints what the guest reported and exits 0 when the guest's view is right, 1 when not,
 * 2 on a setup error, 77 when this host's KVM cannot run the case.
 *
 * Why not a payload guest under kvmmig-vm: each case needs the pause to land at one instant
 * (an I/O exit whose completion queues a #DB; an AP kept out of KVM_RUN while the BSP sends it
 * INIT and SIPI). A pause from the control socket lands there by chance; here a port handler
 * holds its vCPU until the pause is requested, so the VMM's own pause path (vcpu.c: park,
 * complete the pending exit) runs at exactly that point, every time.
 *
 * The guest: 32-bit protected mode, flat segments, CPL 0, no paging, code at CODE_GPA.
 * It talks through ports (a dword in eax): every OUT is logged; the HOLD_* ports also
 * keep their vCPU in the handler until a pause is requested.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/state.h"
#include "vmm/vmm.h"

#define MEM_BYTES      (16u << 20)
#define GDT_GPA	       0x800
#define IDT_GPA	       0x900
#define CODE_GPA       0x1000
#define FLAG_GPA       0x4000 /* the harness sets it to 1 to let the BSP go on */
#define KVMCLOCK_GPA   0x5000
#define STACK0	       0x7000
#define STACK1	       0x6000
#define SIPI_VECTOR    0x08 /* the AP starts at 0x8000 */
#define TRAMPOLINE_GPA (SIPI_VECTOR << 12)
#define TIMER_VECTOR   0x40

enum {
	PORT_TF_OUT = 0x80,	   /* hold: the OUT that single-steps */
	PORT_AP_STARTED = 0x81,	   /* the AP reached its SIPI vector */
	PORT_DB_EIP = 0x82,	   /* the #DB handler: eax = the trap's EIP */
	PORT_AP_HOLD = 0x83,	   /* hold: the AP waits here */
	PORT_BSP_SENT = 0x84,	   /* hold: the BSP sent INIT and SIPI */
	PORT_CLOCK_READY = 0x85,   /* kvmclock registered */
	PORT_CLOCK_STOPPED = 0x86, /* the guest saw PVCLOCK_GUEST_STOPPED */
	PORT_MSRS_WRITTEN = 0x87,  /* hold: MSRs written */
	PORT_MSRS_CHECKED = 0x88,  /* eax = mask of MSRs that read back wrong */
	PORT_TIMER = 0x89,	   /* the TSC-deadline timer fired */
	PORT_PAE_BEFORE = 0x8a,	   /* hold: eax = the marker read before the pause */
	PORT_PAE_AFTER = 0x8b,	   /* eax = the marker read after the resume */
};

/*
 * pae-pdptrs: PAE paging with the PDPT at PDPT_GPA. PDPTE0 points to PD_A, which maps
 * 0-2 MiB and 2-4 MiB identically; PD_B maps 0-2 MiB identically and 2-4 MiB to 4-6 MiB.
 * The guest points PDPTE0 at PD_B in memory without reloading CR3: the loaded PDPTRs (the
 * CPU's cache of the PDPT, which the architecture keeps until the next CR3 load) still say
 * PD_A, so MARKER_VA reads MARKER_A, before the pause and after the restore.
 */
#define PDPT_GPA  0x9000
#define PD_A_GPA  0xa000
#define PD_B_GPA  0xb000
#define MARKER_VA 0x203000
#define MARKER_A  0x11111111u /* at MARKER_VA through PD_A */
#define MARKER_B  0x22222222u /* at MARKER_VA through PD_B (physical 0x403000) */

/* The guest's code, copied to CODE_GPA; addresses are label - guest_start + CODE_GPA. */
#define G(label) #label " - guest_start + 0x1000"
__asm__(".pushsection .rodata.guest, \"a\"\n"
	".code32\n"
	"guest_start:\n"

	/* pending-db: OUT with TF set; KVM queues the #DB when it completes the OUT. */
	"g_pending_db:\n"
	"	pushfl\n"
	"	orl $0x100, (%esp)\n"
	"	popfl\n"
	"	outl %eax, $0x80\n"
	"g_pending_db_next:\n"
	"	nop\n"
	"	nop\n"
	"1:	jmp 1b\n"
	"g_db_handler:\n"
	"	movl (%esp), %eax\n"
	"	outl %eax, $0x82\n"
	"	andl $~0x100, 8(%esp)\n"
	"	iretl\n"

	/* sipi, BSP: once the AP is held, INIT and SIPI to APIC ID 1. */
	"g_sipi_bsp:\n"
	"	movl $0x1ff, 0xfee000f0\n"
	"1:	cmpl $0, 0x4000\n"
	"	je 1b\n"
	"	movl $0x01000000, 0xfee00310\n"
	"	movl $0x00004500, 0xfee00300\n"
	"	movl $0x00004608, 0xfee00300\n"
	"	outl %eax, $0x84\n"
	"1:	jmp 1b\n"
	"g_sipi_ap:\n"
	"	outl %eax, $0x83\n"
	"1:	jmp 1b\n"

	/* kvmclock: register it, then watch its flags for PVCLOCK_GUEST_STOPPED (2). */
	"g_kvmclock:\n"
	"	movl $0x4b564d01, %ecx\n"
	"	movl $0x5001, %eax\n"
	"	xorl %edx, %edx\n"
	"	wrmsr\n"
	"	outl %eax, $0x85\n"
	"2:	testb $2, 0x501d\n"
	"	jz 2b\n"
	"	outl %eax, $0x86\n"
	"	andb $~2, 0x501d\n"
	"	jmp 2b\n"

	/*
	 * msrs: write MTRRdefType, variable MTRR 0, two fixed MTRRs, MC0_CTL and MC1_CTL
	 * (reset value 0 without KVM_X86_SETUP_MCE, so all ones is a change), arm the
	 * TSC-deadline timer 2^34 cycles ahead (seconds: it must not fire before the save); after
	 * the hold read them all back.
	 */
	"g_msrs:\n"
	"	movl $0x1ff, 0xfee000f0\n"
	"	movl $0x00040040, 0xfee00320\n" /* LVT timer: TSC-deadline mode, vector 0x40 */
	"	xorl %edx, %edx\n"
	"	movl $0x2ff, %ecx; movl $0xc06, %eax; wrmsr\n"
	"	movl $0x200, %ecx; movl $0x100006, %eax; wrmsr\n"
	"	movl $0x201, %ecx; movl $0xfff00800, %eax; wrmsr\n"
	"	movl $0x250, %ecx; movl $0x06060606, %eax; movl %eax, %edx; wrmsr\n"
	"	movl $0x268, %ecx; movl $0x05050505, %eax; movl %eax, %edx; wrmsr\n"
	"	movl $0x400, %ecx; movl $-1, %eax; movl $-1, %edx; wrmsr\n"
	"	movl $0x404, %ecx; movl $-1, %eax; movl $-1, %edx; wrmsr\n"
	"	rdtsc\n"
	"	addl $4, %edx\n"
	"	movl $0x6e0, %ecx\n"
	"	wrmsr\n"
	"	outl %eax, $0x87\n"
	"	xorl %esi, %esi\n"
	"	movl $0x2ff, %ecx; rdmsr; cmpl $0xc06, %eax; je 1f; orl $1, %esi\n1:\n"
	"	movl $0x200, %ecx; rdmsr; cmpl $0x100006, %eax; je 1f; orl $2, %esi\n1:\n"
	"	movl $0x201, %ecx; rdmsr; cmpl $0xfff00800, %eax; je 1f; orl $4, %esi\n1:\n"
	"	movl $0x250, %ecx; rdmsr; cmpl $0x06060606, %edx; je 1f; orl $8, %esi\n1:\n"
	"	movl $0x268, %ecx; rdmsr; cmpl $0x05050505, %edx; je 1f; orl $16, %esi\n1:\n"
	"	movl $0x400, %ecx; rdmsr; cmpl $-1, %eax; je 1f; orl $32, %esi\n1:\n"
	"	movl $0x404, %ecx; rdmsr; cmpl $-1, %eax; je 1f; orl $64, %esi\n1:\n"
	"	movl $0x6e0, %ecx; rdmsr; orl %edx, %eax; jnz 1f; orl $128, %esi\n1:\n"
	"	movl %esi, %eax\n"
	"	outl %eax, $0x88\n"
	"	sti\n"
	"1:	jmp 1b\n"
	"g_timer_handler:\n"
	"	outl %eax, $0x89\n"
	"	movl $0, 0xfee000b0\n" /* EOI */
	"	iretl\n"

	"g_pae:\n"
	"	movl $0xb001, 0x9000\n" /* PDPTE0 -> PD_B, CR3 not reloaded */
	"	movl 0x203000, %eax\n"
	"	outl %eax, $0x8a\n"
	"	movl 0x203000, %eax\n"
	"	outl %eax, $0x8b\n"
	"g_pae_next_halt:\n"
	"1:	jmp 1b\n"

	"guest_end:\n"
	".code64\n"
	".popsection\n");

extern const uint8_t guest_start[], guest_end[], g_pending_db[], g_pending_db_next[],
    g_db_handler[], g_sipi_bsp[], g_sipi_ap[], g_kvmclock[], g_msrs[], g_timer_handler[], g_pae[], g_pae_next_halt[];
#define GPA_OF(sym) ((uint32_t)(CODE_GPA + ((sym)-guest_start)))

/* Every OUT the guest made, in order. */
struct event {
	int vcpu;
	uint16_t port;
	uint32_t value;
};
static struct event events[64];
static int nevents;
static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t events_cond = PTHREAD_COND_INITIALIZER;

static bool is_hold(uint16_t port)
{
	return port == PORT_TF_OUT || port == PORT_AP_HOLD || port == PORT_BSP_SENT ||
	       port == PORT_MSRS_WRITTEN || port == PORT_PAE_BEFORE;
}

static void guest_pio(struct vmm_vcpu *vcpu, uint16_t port, bool out, uint8_t *data, uint32_t size)
{
	uint32_t v = 0;

	if (!out)
		return;
	memcpy(&v, data, size < 4 ? size : 4);
	pthread_mutex_lock(&events_lock);
	if (nevents < (int)(sizeof(events) / sizeof(events[0])))
		events[nevents++] = (struct event){vcpu->index, port, v};
	pthread_cond_broadcast(&events_cond);
	pthread_mutex_unlock(&events_lock);
	/* Held here, out of KVM_RUN with this exit not yet completed, until the pause. */
	while (is_hold(port) && !__atomic_load_n(&vcpu->vm->pause_requested, __ATOMIC_SEQ_CST))
		usleep(1000);
}

static const struct vmm_exit_ops guest_ops = {.pio = guest_pio};

/* Waits up to @ms for an OUT to @port; its value in *@value. */
static bool wait_event(uint16_t port, int ms, uint32_t *value)
{
	struct timespec deadline;
	bool found = false;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&events_lock);
	for (;;) {
		for (int i = 0; i < nevents && !found; i++)
			if (events[i].port == port) {
				found = true;
				if (value)
					*value = events[i].value;
			}
		if (found || pthread_cond_timedwait(&events_cond, &events_lock, &deadline))
			break;
	}
	pthread_mutex_unlock(&events_lock);
	return found;
}

static void clear_events(void)
{
	pthread_mutex_lock(&events_lock);
	nevents = 0;
	pthread_mutex_unlock(&events_lock);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "vcpustate: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(2);
}

static struct kvm_segment flat(uint16_t sel, uint8_t type)
{
	return (struct kvm_segment){.base = 0,
				    .limit = 0xffffffff,
				    .selector = sel,
				    .type = type,
				    .present = 1,
				    .dpl = 0,
				    .db = 1,
				    .s = 1,
				    .g = 1};
}

/* vCPU @i in 32-bit flat protected mode at @eip, RUNNABLE. */
static void enter_protected(struct vmm_vm *vm, int i, uint32_t eip, uint32_t esp)
{
	struct vmm_vcpu *vcpu = &vm->vcpus[i];
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rip = eip, .rsp = esp, .rflags = 0x2};
	struct kvm_mp_state runnable = {.mp_state = KVM_MP_STATE_RUNNABLE};
	int err;

	err = vmm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs);
	if (err)
		die("KVM_GET_SREGS", err);
	sregs.cs = flat(0x08, 0xb);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat(0x10, 0x3);
	sregs.gdt.base = GDT_GPA;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = IDT_GPA;
	sregs.idt.limit = 256 * 8 - 1;
	sregs.cr0 = 0x11; /* PE, ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if ((err = vmm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs)) ||
	    (err = vmm_ioctl(vcpu->fd, KVM_SET_REGS, &regs)) ||
	    (err = vmm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &runnable)))
		die("setting up a vCPU", err);
}

static void set_gate(struct vmm_vm *vm, int vector, uint32_t handler)
{
	uint32_t gate[2] = {(0x08 << 16) | (handler & 0xffff),
			    (handler & 0xffff0000) | 0x8e00}; /* present 32-bit interrupt gate */

	vmm_guest_write(vm, IDT_GPA + vector * 8, gate, sizeof(gate));
}

static struct vmm_vm *new_vm(const char *name, int ncpus, bool incoming)
{
	struct vmm_vm_config config = {.name = name,
				       .mem_bytes = MEM_BYTES,
				       .ncpus = ncpus,
				       .cpu_model = &cpu_models[0], /* host */
				       .incoming = incoming,
				       .exit_ops = &guest_ops};
	struct vmm_vm *vm;
	int err = vmm_vm_create(&vm, &config);

	if (err)
		die("vmm_vm_create", err);
	if (!incoming) {
		static const uint64_t gdt[3] = {0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull};
		static const uint8_t trampoline[] = {0xe6, PORT_AP_STARTED, 0xeb, 0xfe};

		vmm_guest_write(vm, GDT_GPA, gdt, sizeof(gdt));
		vmm_guest_write(vm, CODE_GPA, guest_start, guest_end - guest_start);
		vmm_guest_write(vm, TRAMPOLINE_GPA, trampoline, sizeof(trampoline));
		set_gate(vm, 1, GPA_OF(g_db_handler));
		set_gate(vm, TIMER_VECTOR, GPA_OF(g_timer_handler));
	}
	return vm;
}

/* vCPU 0's MSRS record payload in a state blob (its entry count in *n), or NULL. */
static uint8_t *blob_msrs(uint8_t *blob, size_t size, uint32_t *n)
{
	for (size_t off = KVMMIG_STATE_HEADER_SIZE; off < size;) {
		struct kvmmig_state_record h;

		memcpy(&h, blob + off, sizeof(h));
		if (h.type == KVMMIG_STATE_VCPU_MSRS && h.index == 0) {
			memcpy(n, blob + off + sizeof(h), sizeof(*n));
			return blob + off + sizeof(h);
		}
		off += sizeof(h) + ((h.size + 7) & ~7u);
	}
	return NULL;
}

/* Pauses and saves @src, then restores into a fresh incoming VM with a copy of its memory. */
static struct vmm_vm *migrate(struct vmm_vm *src)
{
	struct vmm_vm *dst;
	uint8_t *blob;
	size_t size;
	char err[256] = "";
	int r;

	vmm_vm_pause(src);
	r = vmm_state_save(src, 0, &blob, &size);
	if (r)
		die("vmm_state_save", r);
	dst = new_vm("vcpustate-dst", src->ncpus, true);
	memcpy(dst->mem, src->mem, MEM_BYTES);
	vmm_vcpus_kick_and_join(src);
	if ((r = vmm_vm_start(dst)))
		die("vmm_vm_start (destination)", r);
	r = vmm_state_restore(dst, blob, size, err, sizeof(err));
	if (r) {
		fprintf(stderr, "vcpustate: restore failed: %s\n", err);
		exit(1);
	}
	{
		/* How many MSRs went across: the chunking of KVM_{GET,SET}_MSRS shows here. */
		uint32_t n;

		if (blob_msrs(blob, size, &n))
			printf("vCPU 0 state has %u MSRs\n", n);
	}
	free(blob);
	clear_events();
	return dst;
}

static int case_pending_db(void)
{
	struct vmm_vm *src = new_vm("vcpustate-src", 1, false), *dst;
	uint32_t eip = 0, want = GPA_OF(g_pending_db_next);
	struct kvm_vcpu_events ev;

	enter_protected(src, 0, GPA_OF(g_pending_db), STACK0);
	if (vmm_vm_start(src) || !wait_event(PORT_TF_OUT, 5000, NULL))
		die("the guest never reached its single-stepped OUT", ETIMEDOUT);
	vmm_vm_pause(src);
	if (ioctl(src->vcpus[0].fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		die("KVM_GET_VCPU_EVENTS", errno);
	printf("paused: exception pending %u injected %u nr %u\n", ev.exception.pending,
	       ev.exception.injected, ev.exception.nr);
	if (!ev.exception.pending) {
		printf(
		    "this KVM had no #DB pending at the pause (it needs KVM_CAP_EXCEPTION_PAYLOAD; "
		    "the dev machine's PVM KVM does not queue it there)\n");
		return 77;
	}
	dst = migrate(src);
	vmm_vm_resume(dst);
	if (!wait_event(PORT_DB_EIP, 5000, &eip)) {
		printf("restored guest: no #DB at all\n");
		return 1;
	}
	printf("restored guest: #DB at eip 0x%x, the instruction after the OUT is 0x%x\n", eip,
	       want);
	vmm_vm_destroy(dst);
	return eip == want ? 0 : 1;
}

static int case_sipi(void)
{
	struct vmm_vm *src = new_vm("vcpustate-src", 2, false), *dst;
	uint32_t one = 1;
	struct kvm_vcpu_events ev;

	enter_protected(src, 0, GPA_OF(g_sipi_bsp), STACK0);
	enter_protected(src, 1, GPA_OF(g_sipi_ap), STACK1);
	if (vmm_vm_start(src) || !wait_event(PORT_AP_HOLD, 5000, NULL))
		die("the AP never reached its hold port", ETIMEDOUT);
	vmm_guest_write(src, FLAG_GPA, &one, sizeof(one));
	if (!wait_event(PORT_BSP_SENT, 5000, NULL))
		die("the BSP never sent INIT and SIPI", ETIMEDOUT);
	vmm_vm_pause(src);
	if (ioctl(src->vcpus[1].fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		die("KVM_GET_VCPU_EVENTS", errno);
	printf("paused: AP has INIT latched %u\n", ev.smi.latched_init);
	dst = migrate(src);
	vmm_vm_resume(dst);
	if (!wait_event(PORT_AP_STARTED, 3000, NULL)) {
		struct kvm_sregs sregs;
		struct kvm_regs regs;
		struct kvm_mp_state mp;

		vmm_vm_pause(dst);
		ioctl(dst->vcpus[1].fd, KVM_GET_MP_STATE, &mp);
		ioctl(dst->vcpus[1].fd, KVM_GET_SREGS, &sregs);
		ioctl(dst->vcpus[1].fd, KVM_GET_REGS, &regs);
		printf("restored AP never reached its SIPI vector 0x%x: mp_state %u cs 0x%x base "
		       "0x%llx rip 0x%llx\n",
		       TRAMPOLINE_GPA, mp.mp_state, sregs.cs.selector, sregs.cs.base, regs.rip);
		return 1;
	}
	printf("restored AP started at its SIPI vector 0x%x\n", TRAMPOLINE_GPA);
	vmm_vm_destroy(dst);
	return 0;
}

static int case_kvmclock(void)
{
	struct vmm_vm *vm = new_vm("vcpustate-src", 1, false);

	enter_protected(vm, 0, GPA_OF(g_kvmclock), STACK0);
	if (vmm_vm_start(vm) || !wait_event(PORT_CLOCK_READY, 5000, NULL))
		die("the guest never registered kvmclock", ETIMEDOUT);
	if (wait_event(PORT_CLOCK_STOPPED, 300, NULL)) {
		printf("guest saw PVCLOCK_GUEST_STOPPED without any pause\n");
		return 1;
	}
	vmm_vm_pause(vm);
	usleep(200000);
	vmm_vm_resume(vm);
	if (!wait_event(PORT_CLOCK_STOPPED, 3000, NULL)) {
		printf("resumed guest never saw PVCLOCK_GUEST_STOPPED in its kvmclock page\n");
		return 1;
	}
	printf("resumed guest saw PVCLOCK_GUEST_STOPPED\n");
	vmm_vm_destroy(vm);
	return 0;
}

static int case_msrs(void)
{
	static const char *const names[] = {"MTRRdefType",	"MTRRphysBase0",   "MTRRphysMask0",
					    "MTRRfix64K_00000", "MTRRfix4K_C0000", "MC0_CTL",
					    "MC1_CTL",		"TSC_DEADLINE"};
	struct vmm_vm *src = new_vm("vcpustate-src", 1, false), *dst;
	uint32_t mask = ~0u;

	enter_protected(src, 0, GPA_OF(g_msrs), STACK0);
	if (vmm_vm_start(src) || !wait_event(PORT_MSRS_WRITTEN, 5000, NULL)) {
		printf("the guest never wrote its MSRs: %s\n", src->stop_reason);
		return 2;
	}
	dst = migrate(src);
	vmm_vm_resume(dst);
	if (!wait_event(PORT_MSRS_CHECKED, 5000, &mask)) {
		printf("restored guest never reported: %s\n", dst->stop_reason);
		return 1;
	}
	for (unsigned b = 0; b < sizeof(names) / sizeof(names[0]); b++)
		printf("restored guest reads %s %s\n", names[b],
		       mask & (1u << b) ? "WRONG" : "as written");
	if (!wait_event(PORT_TIMER, 20000, NULL)) {
		printf("restored guest's TSC-deadline timer never fired\n");
		mask |= 0x100;
	} else {
		printf("restored guest's TSC-deadline timer fired\n");
	}
	if (dst->stop_requested)
		printf("(the VM then stopped: %s)\n", dst->stop_reason);
	vmm_vm_destroy(dst);
	return mask ? 1 : 0;
}

static int case_pae_pdptrs(void)
{
	struct vmm_vm *src = new_vm("vcpustate-src", 1, false), *dst;
	uint64_t pdpt[4] = {PD_A_GPA | 1}, pd_a[2] = {0x000083, 0x200083},
		 pd_b[2] = {0x000083, 0x400083};
	uint32_t a = MARKER_A, b = MARKER_B, before = 0, after = 0;
	struct kvm_sregs sregs;
	int err;

	vmm_guest_write(src, PDPT_GPA, pdpt, sizeof(pdpt));
	vmm_guest_write(src, PD_A_GPA, pd_a, sizeof(pd_a));
	vmm_guest_write(src, PD_B_GPA, pd_b, sizeof(pd_b));
	vmm_guest_write(src, MARKER_VA, &a, sizeof(a));
	vmm_guest_write(src, MARKER_VA + 0x200000, &b, sizeof(b));
	enter_protected(src, 0, GPA_OF(g_pae), STACK0);
	if ((err = vmm_ioctl(src->vcpus[0].fd, KVM_GET_SREGS, &sregs)))
		die("KVM_GET_SREGS", err);
	sregs.cr3 = PDPT_GPA;
	sregs.cr4 = 0x30;	  /* PAE, PSE */
	sregs.cr0 = 0x80000011; /* PG, PE, ET */
	if ((err = vmm_ioctl(src->vcpus[0].fd, KVM_SET_SREGS, &sregs)))
		die("KVM_SET_SREGS (PAE paging)", err);
	vmm_ioctl(src->vcpus[0].fd, KVM_GET_SREGS, &sregs);
	if (!(sregs.cr0 & 0x80000000)) {
		printf("this KVM refuses a PAE-paging vCPU (KVM_SET_SREGS left CR0 0x%llx: PVM runs "
		       "64-bit guests only)\n",
		       sregs.cr0);
		return 77;
	}
	if (vmm_vm_start(src) || !wait_event(PORT_PAE_BEFORE, 5000, &before)) {
		struct kvm_regs regs;

		ioctl(src->vcpus[0].fd, KVM_GET_REGS, &regs);
		ioctl(src->vcpus[0].fd, KVM_GET_SREGS, &sregs);
		printf("the guest never reported its marker: %s (rip 0x%llx cr0 0x%llx cr2 0x%llx "
		       "cr3 0x%llx cr4 0x%llx)\n",
		       src->stop_reason, regs.rip, sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4);
		return 2;
	}
	printf("paused: the guest reads 0x%x through its loaded PDPTRs\n", before);
	if (before != MARKER_A) {
		printf("this KVM does not keep PDPTRs loaded (NPT walks the PDPT in memory): "
		       "nothing to carry\n");
		return 77;
	}
	dst = migrate(src);
	vmm_vm_resume(dst);
	if (!wait_event(PORT_PAE_AFTER, 5000, &after)) {
		printf("restored guest never reported: %s\n", dst->stop_reason);
		return 1;
	}
	printf("restored guest reads 0x%x (0x%x: its loaded PDPTRs; 0x%x: the PDPT in memory)\n",
	       after, MARKER_A, MARKER_B);
	vmm_vm_destroy(dst);
	return after == MARKER_A ? 0 : 1;
}

/*
 * Rewrites MSR @index of vCPU 0 in @blob to @value (its old value in *@old) and fixes the CRC;
 * false if absent.
 */
static bool blob_set_msr(uint8_t *blob, size_t size, uint32_t index, uint64_t value,
			 uint64_t *old)
{
	uint32_t n, crc;
	uint8_t *msrs = blob_msrs(blob, size, &n);

	for (uint32_t i = 0; msrs && i < n; i++) {
		struct kvm_msr_entry e;
		uint8_t *at = msrs + 8 + i * sizeof(e);

		memcpy(&e, at, sizeof(e));
		if (e.index != index)
			continue;
		*old = e.data;
		e.data = value;
		memcpy(at, &e, sizeof(e));
		crc = vmm_crc32(0, blob + KVMMIG_STATE_HEADER_SIZE, size - KVMMIG_STATE_HEADER_SIZE);
		memcpy(blob + offsetof(struct kvmmig_state_header, crc32), &crc, sizeof(crc));
		return true;
	}
	return false;
}

static bool read_msr(int fd, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e;
	} one = {.head.nmsrs = 1, .e.index = index};

	if (ioctl(fd, KVM_GET_MSRS, &one) != 1)
		return false;
	*value = one.e.data;
	return true;
}

/*
 * feature-msrs: ARCH_CAPABILITIES with a bit this host's KVM cannot give (KVM_GET_MSRS on
 * /dev/kvm) must be refused, naming the MSR, before anything is applied (the destination's
 * vCPU still has its reset RIP); the value as saved must then restore and arrive.
 */
static int case_feature_msrs(void)
{
	struct vmm_vm *src = new_vm("vcpustate-src", 1, false), *dst;
	uint64_t can, extra, saved, got = 0;
	struct kvm_regs regs;
	uint8_t *blob;
	size_t size;
	char err[512] = "";
	int r, bad = 0;

	if (!read_msr(src->kvm_fd, 0x10a, &can)) {
		printf("this host's KVM lists no ARCH_CAPABILITIES feature MSR\n");
		return 77;
	}
	extra = can | (1ull << 62); /* reserved: no KVM gives it */
	if (extra == can)
		extra = can | (1ull << 61);
	enter_protected(src, 0, GPA_OF(g_pae_next_halt), STACK0);
	if (vmm_vm_start(src))
		die("vmm_vm_start", EIO);
	vmm_vm_pause(src);
	if ((r = vmm_state_save(src, 0, &blob, &size)))
		die("vmm_state_save", r);
	vmm_vcpus_kick_and_join(src);

	if (!blob_set_msr(blob, size, 0x10a, extra, &saved)) {
		printf("the saved state has no ARCH_CAPABILITIES (the guest's CPUID lacks it)\n");
		return 77;
	}
	dst = new_vm("vcpustate-dst", 1, true);
	if ((r = vmm_vm_start(dst)))
		die("vmm_vm_start (destination)", r);
	r = vmm_state_restore(dst, blob, size, err, sizeof(err));
	if (ioctl(dst->vcpus[0].fd, KVM_GET_REGS, &regs) < 0)
		die("KVM_GET_REGS", errno);
	printf("ARCH_CAPABILITIES 0x%llx (this host's KVM gives 0x%llx): %s\n",
	       (unsigned long long)extra, (unsigned long long)can, r ? err : "restored");
	if (!r || !strstr(err, "0x10a") || !strstr(err, "ARCH_CAPABILITIES")) {
		printf("FAIL: not refused with a message naming ARCH_CAPABILITIES\n");
		bad = 1;
	}
	if (regs.rip != 0xfff0) {
		printf("FAIL: the destination's vCPU was already written (RIP 0x%llx, reset 0xfff0)\n",
		       (unsigned long long)regs.rip);
		bad = 1;
	}

	/* The value the source's KVM gave the guest, which this host's can give too. */
	blob_set_msr(blob, size, 0x10a, saved, &extra);
	r = vmm_state_restore(dst, blob, size, err, sizeof(err));
	read_msr(dst->vcpus[0].fd, 0x10a, &got);
	printf("ARCH_CAPABILITIES 0x%llx as saved: %s, the restored vCPU has 0x%llx\n",
	       (unsigned long long)saved, r ? err : "restored", (unsigned long long)got);
	if (r || got != saved)
		bad = 1;
	free(blob);
	vmm_vm_destroy(dst);
	return bad;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "pending-db"))
		return case_pending_db();
	if (argc == 2 && !strcmp(argv[1], "sipi"))
		return case_sipi();
	if (argc == 2 && !strcmp(argv[1], "kvmclock"))
		return case_kvmclock();
	if (argc == 2 && !strcmp(argv[1], "msrs"))
		return case_msrs();
	if (argc == 2 && !strcmp(argv[1], "pae-pdptrs"))
		return case_pae_pdptrs();
	if (argc == 2 && !strcmp(argv[1], "feature-msrs"))
		return case_feature_msrs();
	fprintf(stderr, "usage: vcpustate pending-db|sipi|kvmclock|msrs|pae-pdptrs|feature-msrs\n");
	return 2;
}
