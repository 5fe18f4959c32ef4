/*
 * dirtier.c: test helper. A KVM VM with one memslot whose vCPU (32-bit flat
 * protected mode, no paging, a few hand-assembled instructions) writes an
 * ever-growing pass counter into every STRIDE-th page of its memory and
 * exits with an OUT after each pass: the guest writes KVM's dirty log sees.
 * Attached to kvmmig as NAME. With --idle there is no vCPU: a destination
 * VM of the same shape, attached with KVMMIG_ATTACH_INCOMING.
 *
 *   dirtier NAME [--mem MiB] [--stride PAGES] [--fill] [--idle]
 *
 * Like a VMM it serves a control socket at $KVMMIG_RUN_DIR/NAME.sock
 * (default /run/kvmmig; directory 0700, socket 0600; user/ctlproto), on a
 * thread, with just what `kvmmig-ctl debug source|dest` and `cancel` ask:
 *   kvmmig-fd         "ok 0" with the /dev/kvmmig file that attached the
 *                     VM (SCM_RIGHTS): the authority over its migrations
 *   status            name, pid, state, cpus, mem, memslot 0, kvmmig
 *
 * Reads commands on stdin, answers one line each on stdout:
 *   run | pause       start / stop the vCPU ("running" / "paused passes=N")
 *   hash FILE         per-page FNV-1a hashes to FILE, "hash <total>"
 *   poke GPA VALUE    write a u64 into guest memory from userspace ("ok")
 *   mark GPA SIZE     KVMMIG_MARK_DIRTY ("ok" or "error <errno>")
 *   marks GPA:SIZE[*N],...
 *                     one KVMMIG_MARK_DIRTY_RUNS of those ranges (each
 *                     N times); "marks -" sends none ("ok" or "error ...")
 *   ubench HOST PORT ROUNDS MS
 *                     the benchmark's userspace baseline: the module's
 *                     work done from here (KVM_GET/CLEAR_DIRTY_LOG, zero
 *                     check, batched sendmsg of the same wire format) for
 *                     ROUNDS rounds MS apart; one "ubench ..." line each
 *   passes            "passes=N"
 *   stride PAGES      change the guest's stride between two passes
 *   hbench HOST PORT ROUNDS MS STRIDE[,STRIDE...]
 *                     the harvest sweep's userspace side: like ubench, but
 *                     round 0 with the vCPU paused, then for each stride
 *                     ROUNDS rounds of "run MS ms, pause at the end of a
 *                     pass, harvest + send" (exactly 1/STRIDE of memory
 *                     dirty per round); "ubench stride=S round=..." lines
 *   addslot           add a 1 MiB memslot 1 at 256 MiB (a layout change)
 *   delslot | moveslot
 *                     delete memslot 0, or move it to 512 MiB (the VMM's
 *                     own layout changes, which a migration must notice)
 *   slots             what KVM has now, probed through its ABI (it has no
 *                     memslot query): "slots gpa0 used|free gpa512m
 *                     used|free slot0-log on|off" (a 4 KiB probe slot at
 *                     each address: EEXIST means a slot covers it)
 *   protect           the VMM harvests its own dirty log: manual protect on
 *   smmslot           add a 1 MiB memslot in address space 1 (SMM memory)
 *   log on|off        dirty logging of memslot 0 (on from the start: the
 *                     VMM owns its memslots and logs them for kvmmig)
 *   attach-again NAME2
 *                     a second /dev/kvmmig file attaches the same VM fd
 *                     under NAME2 ("ok" or "error <errno name>": EALREADY
 *                     expected, one VM is attached at most once)
 *   quit
 * --fill writes a pattern into the lower half of memory first (so round 0
 * sees a long run of data pages as well as zero pages).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/kvmmig.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static uint8_t *mem;
static size_t mem_size;
static int vcpu_fd;
static struct kvm_run *run;
static atomic_ulong passes;
static atomic_int want_run, running;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/* The guest's code as loaded (load_guest, set_stride): a post mortem compares. */
static uint8_t guest_code[31];

/*
 * _exit, not exit: a thread's exit() flushes every stdio stream and waits
 * for the lock of stdin, which the main thread holds while it blocks in
 * fgets(): the process would hang instead of ending.
 */
static void die(const char *what)
{
	fprintf(stderr, "dirtier: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	_exit(2);
}

/* The guest: see the file comment. Code at gpa 0, data from page 1 on. */
static void load_guest(uint32_t stride_bytes)
{
	uint8_t code[] = {
	    0xbe, 0x00, 0x10, 0x00, 0x00,    /* mov esi, 0x1000 */
	    0xbf, 0,	0,    0,    0,	     /* mov edi, mem_size */
	    0x31, 0xc0,			     /* xor eax, eax */
	    0x40,			     /* 12: inc eax */
	    0x89, 0xf3,			     /* mov ebx, esi */
	    0x89, 0x03,			     /* 15: mov [ebx], eax */
	    0x81, 0xc3, 0,    0,    0,	  0, /* add ebx, stride */
	    0x39, 0xfb,			     /* cmp ebx, edi */
	    0x72, 0xf4,			     /* jb 15 */
	    0xe6, 0x10,			     /* out 0x10, al */
	    0xeb, 0xed,			     /* jmp 12 */
	};
	uint32_t end = mem_size;

	memcpy(code + 6, &end, 4);
	memcpy(code + 19, &stride_bytes, 4);
	_Static_assert(sizeof(code) == sizeof(guest_code), "guest_code holds the code");
	memcpy(guest_code, code, sizeof(code));
	memcpy(mem, code, sizeof(code));
}

static void setup_vcpu(int kvm, int vm)
{
	struct kvm_segment seg = {
	    .base = 0,
	    .limit = 0xffffffff,
	    .present = 1,
	    .s = 1,
	    .g = 1,
	    .db = 1,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs = {.rflags = 2, .rip = 0};
	int size;

	vcpu_fd = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0)
		die("KVM_CREATE_VCPU");
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		die("KVM_GET_SREGS");
	seg.type = 11; /* code, execute/read, accessed */
	seg.selector = 8;
	sregs.cs = seg;
	seg.type = 3; /* data, read/write, accessed */
	seg.selector = 16;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	sregs.cr0 |= 1; /* PE */
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		die("KVM_SET_SREGS");
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		die("KVM_SET_REGS");
}

/* An exit the guest never makes: what KVM says, for the test's report. */
static void report_exit(void)
{
	struct kvm_regs regs;
	unsigned long long rip = ~0ull;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) == 0)
		rip = regs.rip;
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		/*
		 * Flat segments, no paging, no IDT, interrupts off: these
		 * instructions cannot raise an exception, so a triple fault
		 * with the code intact is the CPU's (tests/retry.sh reruns on
		 * the phrase), and with the code changed something wrote it.
		 */
		fprintf(stderr, "dirtier: unexpected exit: guest shutdown (triple fault), rip now 0x%llx; %s\n",
			rip,
			memcmp(mem, guest_code, sizeof(guest_code))
			    ? "its code in memory is not what was loaded: something wrote it"
			    : "its code is in memory as loaded and cannot fault: a fault of the "
			      "emulator (QEMU TCG)");
		break;
	case KVM_EXIT_MMIO:
		fprintf(stderr, "dirtier: unexpected exit: MMIO %s at 0x%llx (outside every memslot), rip 0x%llx\n",
			run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr, rip);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "dirtier: unexpected exit: KVM internal error, suberror %u, rip 0x%llx\n",
			run->internal.suberror, rip);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "dirtier: unexpected exit: VM entry failed, reason 0x%llx, rip 0x%llx\n",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason, rip);
		break;
	default:
		fprintf(stderr, "dirtier: unexpected exit %u, rip 0x%llx\n", run->exit_reason, rip);
	}
}

static void *vcpu_thread(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		if (!want_run) {
			running = 0;
			pthread_cond_broadcast(&cond);
			while (!want_run)
				pthread_cond_wait(&cond, &lock);
		}
		/* Also when "run" came before this thread first got here. */
		if (!running) {
			running = 1;
			pthread_cond_broadcast(&cond);
		}
		pthread_mutex_unlock(&lock);
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0 && errno != EINTR)
			die("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO) {
			passes++;
		} else if (run->exit_reason != KVM_EXIT_INTR) {
			report_exit();
			fflush(stdout);
			_exit(2);
		}
	}
	return NULL;
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int send_all(int fd, struct iovec *iov, int n)
{
	while (n) {
		ssize_t w = writev(fd, iov, n > 1024 ? 1024 : n);

		if (w < 0)
			return -1;
		while (n && (size_t)w >= iov->iov_len) {
			w -= iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= w;
		}
	}
	return 0;
}

static struct kvmmig_wire_rec mkrec(int type, uint64_t gpa, uint32_t npages, uint32_t len,
				    uint32_t round)
{
	struct kvmmig_wire_rec r = {
	    .type = type, .len = len, .gpa = gpa, .npages = npages, .round = round};
	return r;
}

static void vcpu_set_running(int on)
{
	pthread_mutex_lock(&lock);
	want_run = on;
	pthread_cond_broadcast(&cond);
	while (running != on)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

/* The guest's stride (the immediate of its "add ebx, stride"), changed
 * between passes: the vCPU is paused at a pass boundary meanwhile. */
/* Is guest-physical @gpa inside a memslot? Creating a probe slot there tells. */
static const char *gpa_used(int vm, uint64_t gpa)
{
	static void *page;
	struct kvm_userspace_memory_region probe = {.slot = 5, .guest_phys_addr = gpa,
						    .memory_size = PAGE};

	if (!page)
		page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	probe.userspace_addr = (unsigned long)page;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe) < 0)
		return errno == EEXIST ? "used" : "unknown";
	probe.memory_size = 0;
	ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe);
	return "free";
}

static void print_slots(int vm)
{
	static unsigned long bitmap[(4096ul << 20) / PAGE / 64];
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
	const char *logged = ioctl(vm, KVM_GET_DIRTY_LOG, &log) < 0 ? "off" : "on";

	printf("slots gpa0 %s gpa512m %s slot0-log %s\n", gpa_used(vm, 0), gpa_used(vm, 512 << 20),
	       logged);
}

static void set_stride(uint32_t pages)
{
	int was = running;
	uint32_t bytes = pages * PAGE;

	if (was)
		vcpu_set_running(0);
	memcpy(guest_code + 19, &bytes, 4);
	memcpy(mem + 19, &bytes, 4);
	if (was)
		vcpu_set_running(1);
}

/* The userspace baseline of the benchmark (x86 is little-endian). */
struct ub {
	int vm, fd;
	size_t npages, chunk;
	uint64_t *bits;
	struct kvmmig_wire_rec *hdrs;
	struct iovec *iov;
	struct kvm_userspace_memory_region region;
};

static int ub_open(struct ub *u, int vm, const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2};
	struct kvmmig_wire_hello hello = {KVMMIG_WIRE_MAGIC, KVMMIG_WIRE_VERSION, PAGE};
	int one = 1;

	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->npages = mem_size / PAGE;
	u->chunk = 32768;
	u->bits = calloc((u->npages + 63) / 64, 8);
	u->hdrs = calloc(u->npages + 4, sizeof(*u->hdrs));
	u->iov = calloc(2 * u->npages + 8, sizeof(*u->iov));
	u->region = (struct kvm_userspace_memory_region){
	    .slot = 0,
	    .memory_size = mem_size,
	    .userspace_addr = (unsigned long)mem,
	};
	if (getaddrinfo(host, port, &hints, &ai) ||
	    (u->fd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0 ||
	    connect(u->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		printf("error connect\n");
		return -1;
	}
	freeaddrinfo(ai);
	setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
	u->region.flags = KVM_MEM_LOG_DIRTY_PAGES;
	if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0 ||
	    ioctl(vm, KVM_SET_USER_MEMORY_REGION, &u->region) < 0) {
		printf("error enabling dirty logging: %s\n", strerror(errno));
		return -1;
	}
	u->hdrs[0] = mkrec(KVMMIG_REC_HELLO, 0, 0, sizeof(hello), 0);
	u->iov[0] = (struct iovec){&u->hdrs[0], sizeof(u->hdrs[0])};
	u->iov[1] = (struct iovec){&hello, sizeof(hello)};
	return send_all(u->fd, u->iov, 2);
}

/* One round: harvest (all pages when r == 0), send; one "ubench" line with
 * TAG after "ubench". */
static int ub_round(struct ub *u, int r, const char *tag)
{
	static const uint8_t zero[PAGE];
	uint64_t harvest = 0, send = 0, bytes = 0, dirty = 0, sent = 0, zeros = 0, t, cpu0;
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = u->bits};
	size_t npages = u->npages, chunk = u->chunk;
	uint64_t *bits = u->bits;
	struct kvmmig_wire_rec *hdrs = u->hdrs;
	struct iovec *iov = u->iov;

	cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	t = now_ns(CLOCK_MONOTONIC);
	if (ioctl(u->vm, KVM_GET_DIRTY_LOG, &log) < 0) {
		printf("error KVM_GET_DIRTY_LOG: %s\n", strerror(errno));
		return -1;
	}
	harvest += now_ns(CLOCK_MONOTONIC) - t;
	for (size_t first = 0; first < npages; first += chunk) {
		size_t n = npages - first < chunk ? npages - first : chunk, p, nh = 0, ni = 0;
		struct kvm_clear_dirty_log clr = {
		    .slot = 0,
		    .num_pages = n,
		    .first_page = first,
		    .dirty_bitmap = bits + first / 64,
		};

		t = now_ns(CLOCK_MONOTONIC);
		if (ioctl(u->vm, KVM_CLEAR_DIRTY_LOG, &clr) < 0) {
			printf("error KVM_CLEAR_DIRTY_LOG: %s\n", strerror(errno));
			return -1;
		}
		harvest += now_ns(CLOCK_MONOTONIC) - t;
		t = now_ns(CLOCK_MONOTONIC);
		for (p = first; p < first + n;) {
			size_t q = p, k;
			int is_zero;

			if (r && !(bits[p / 64] >> (p % 64) & 1)) {
				p++;
				continue;
			}
			dirty++;
			is_zero = !memcmp(mem + p * PAGE, zero, PAGE);
			/* A run: same kind, dirty, at most 64 pages (as the module). */
			for (q = p + 1; q < first + n && q - p < 64 &&
					(!r || (bits[q / 64] >> (q % 64) & 1)) &&
					(!memcmp(mem + q * PAGE, zero, PAGE)) == is_zero;
			     q++)
				dirty++;
			k = q - p;
			hdrs[nh] = mkrec(is_zero ? KVMMIG_REC_ZERO : KVMMIG_REC_PAGES, p * PAGE, k,
					 is_zero ? 0 : k * PAGE, 0);
			iov[ni++] = (struct iovec){&hdrs[nh++], sizeof(hdrs[0])};
			bytes += sizeof(hdrs[0]);
			if (is_zero) {
				zeros += k;
			} else {
				iov[ni++] = (struct iovec){mem + p * PAGE, k * PAGE};
				bytes += k * PAGE;
				sent += k;
			}
			p = q;
		}
		if (send_all(u->fd, iov, ni) < 0) {
			printf("error send: %s\n", strerror(errno));
			return -1;
		}
		send += now_ns(CLOCK_MONOTONIC) - t;
	}
	hdrs[0] = mkrec(KVMMIG_REC_ROUND_END, 0, 0, 0, r);
	iov[0] = (struct iovec){&hdrs[0], sizeof(hdrs[0])};
	send_all(u->fd, iov, 1);
	printf("ubench %sround=%d dirty=%" PRIu64 " sent=%" PRIu64 " zero=%" PRIu64
	       " bytes=%" PRIu64 " harvest_ns=%" PRIu64 " send_ns=%" PRIu64 " cpu_ns=%" PRIu64 "\n",
	       tag, r, dirty, sent, zeros, bytes, harvest, send,
	       now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0);
	return 0;
}

static void ub_close(struct ub *u)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2};

	/* Leave the VM as the module expects it: logged, manual protect off. */
	ioctl(u->vm, KVM_ENABLE_CAP, &cap);
	if (u->fd > 0)
		close(u->fd);
	free(u->bits);
	free(u->hdrs);
	free(u->iov);
}

static void ubench(int vm, const char *host, const char *port, int rounds, int ms)
{
	struct ub u;

	if (!ub_open(&u, vm, host, port))
		for (int r = 0; r < rounds; r++) {
			usleep(ms * 1000);
			if (ub_round(&u, r, ""))
				break;
		}
	ub_close(&u);
}

/* The harvest sweep's userspace side: round 0 with the vCPU paused, then per
 * stride in STRIDES (comma-separated) ROUNDS rounds, each one "run, MS ms,
 * pause at a pass boundary, harvest + send": every round harvests exactly
 * the pages of whole passes, 1/stride of memory. */
static void hbench(int vm, const char *host, const char *port, int rounds, int ms,
		   char *strides)
{
	struct ub u;
	char tag[64], *s, *save = NULL;
	int r = 0;

	vcpu_set_running(0);
	if (ub_open(&u, vm, host, port) || ub_round(&u, r++, "stride=0 "))
		goto out;
	for (s = strtok_r(strides, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		set_stride(strtoul(s, NULL, 0));
		snprintf(tag, sizeof(tag), "stride=%s ", s);
		for (int i = 0; i < rounds; i++) {
			vcpu_set_running(1);
			usleep(ms * 1000);
			vcpu_set_running(0);
			if (ub_round(&u, r++, tag))
				goto out;
		}
	}
out:
	ub_close(&u);
}

static const char *errno_name(int e)
{
	switch (e) {
	case EALREADY:
		return "EALREADY";
	case EEXIST:
		return "EEXIST";
	case EINVAL:
		return "EINVAL";
	case EPERM:
		return "EPERM";
	case EBUSY:
		return "EBUSY";
	default:
		return strerror(e);
	}
}

/* The control socket: see the file comment. */
static struct {
	char name[KVMMIG_NAME_MAX];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, dev;
	int idle;
	int logged; /* dirty logging of slot 0 */
} ctl = {.listen_fd = -1, .dev = -1};

static int ctl_send(int fd, const char *text, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (pass_fd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	/* Short answers: one sendmsg carries them whole on a Unix socket. */
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

static void ctl_serve(int fd)
{
	char buf[4096], reply[4096 + 64];
	size_t len = 0;

	for (;;) {
		char *nl = memchr(buf, '\n', len);
		ssize_t n;

		if (!nl) {
			if (len == sizeof(buf))
				return;
			n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			len += n;
			continue;
		}
		*nl = '\0';
		if (!strcmp(buf, "kvmmig-fd")) {
			if (ctl_send(fd, "ok 0\n", ctl.dev))
				return;
		} else if (!strcmp(buf, "status")) {
			char text[1024];
			int tl;

			tl = snprintf(text, sizeof(text),
				      "name %s\npid %d\nstate %s\ncpus %d\nmem %zu\n"
				      "memslot 0 gpa 0x0 size 0x%zx offset 0x0\nkvmmig attached\n"
				      "dirty-log %s\nguest none\n",
				      ctl.name, (int)getpid(),
				      ctl.idle ? "incoming" : running ? "running" : "paused",
				      ctl.idle ? 0 : 1, mem_size, mem_size, ctl.logged ? "on" : "off");
			snprintf(reply, sizeof(reply), "ok %d\n%s", tl, text);
			if (ctl_send(fd, reply, -1))
				return;
		} else {
			snprintf(reply, sizeof(reply),
				 "error unknown command '%.100s' (this test VMM serves kvmmig-fd, "
				 "status)\n",
				 buf);
			if (ctl_send(fd, reply, -1))
				return;
		}
		len -= nl + 1 - buf;
		memmove(buf, nl + 1, len);
	}
}

static void *ctl_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(ctl.listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		ctl_serve(fd);
		close(fd);
	}
}

static void ctl_unlink(void)
{
	unlink(ctl.path);
}

static void ctl_open(const char *name, int dev, int idle)
{
	const char *dir = getenv("KVMMIG_RUN_DIR");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	pthread_t th;
	mode_t old;
	int n;

	if (!dir || !*dir)
		dir = "/run/kvmmig";
	snprintf(ctl.name, sizeof(ctl.name), "%s", name);
	ctl.dev = dev;
	ctl.idle = idle;
	n = snprintf(ctl.path, sizeof(ctl.path), "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= sizeof(ctl.path)) {
		errno = ENAMETOOLONG;
		die("control socket path");
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		die(dir);
	strcpy(addr.sun_path, ctl.path);
	unlink(ctl.path); /* a test VMM: whatever was there is stale */
	ctl.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl.listen_fd < 0)
		die("socket");
	old = umask(0077);
	if (bind(ctl.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die(ctl.path);
	umask(old);
	if (listen(ctl.listen_fd, 8) < 0)
		die("listen");
	atexit(ctl_unlink);
	if (pthread_create(&th, NULL, ctl_thread, NULL))
		die("pthread_create");
}

/* "marks GPA:SIZE[*N],...": one KVMMIG_MARK_DIRTY_RUNS; "-" for none. */
static void marks(int dev, char *list)
{
	static struct kvmmig_mark_dirty runs[KVMMIG_MARK_DIRTY_RUNS_MAX + 1];
	struct kvmmig_mark_dirty_runs arg = {.runs = (uintptr_t)runs};
	char *tok, *save = NULL;

	for (tok = strcmp(list, "-") ? strtok_r(list, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t gpa, size;
		unsigned int n = 1;

		if (sscanf(tok, "%" SCNi64 ":%" SCNi64 "*%u", &gpa, &size, &n) < 2 ||
		    n > KVMMIG_MARK_DIRTY_RUNS_MAX + 1 - arg.count) {
			printf("error bad list\n");
			return;
		}
		while (n--)
			runs[arg.count++] = (struct kvmmig_mark_dirty){.gpa = gpa, .size = size};
	}
	if (ioctl(dev, KVMMIG_MARK_DIRTY_RUNS, &arg) < 0)
		printf("error %s\n", errno == EINVAL ? "EINVAL" : errno == E2BIG ? "E2BIG" : strerror(errno));
	else
		printf("ok\n");
}

int main(int argc, char **argv)
{
	size_t mem_mib = 16, stride = 1;
	int fill = 0, idle = 0, kvm, vm, dev, i;
	struct kvmmig_attach attach = {.flags = 0};
	char line[256];
	pthread_t th;

	if (argc < 2) {
		fprintf(stderr,
			"usage: dirtier NAME [--mem MiB] [--stride PAGES] [--fill] [--idle]\n");
		return 2;
	}
	snprintf(attach.name, sizeof(attach.name), "%s", argv[1]);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--mem") && i + 1 < argc)
			mem_mib = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
			stride = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--fill"))
			fill = 1;
		else if (!strcmp(argv[i], "--idle"))
			idle = 1;
	}
	mem_size = mem_mib << 20;
	setvbuf(stdout, NULL, _IOLBF, 0);

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		die("KVM_CREATE_VM");
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	if (fill)
		for (size_t p = 1; p < mem_size / PAGE / 2; p++)
			memset(mem + p * PAGE, (int)(p * 7 + 1), PAGE);
	if (!idle)
		load_guest(stride * PAGE);
	struct kvm_userspace_memory_region region = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = mem_size,
	    .userspace_addr = (unsigned long)mem,
	    .flags = idle ? 0 : KVM_MEM_LOG_DIRTY_PAGES,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	if (!idle) {
		setup_vcpu(kvm, vm);
		if (pthread_create(&th, NULL, vcpu_thread, NULL))
			die("pthread_create");
	}

	attach.vm_fd = vm;
	attach.flags = idle ? KVMMIG_ATTACH_INCOMING : 0;
	dev = open("/dev/kvmmig", O_RDWR | O_CLOEXEC);
	if (dev < 0 || ioctl(dev, KVMMIG_ATTACH, &attach) < 0)
		die("attach");
	ctl.logged = !idle;
	ctl_open(attach.name, dev, idle);
	printf("attached %s\n", attach.name);

	while (fgets(line, sizeof(line), stdin)) {
		char arg[200];
		uint64_t a, b;

		if (!strncmp(line, "run", 3) && !idle) {
			vcpu_set_running(1);
			printf("running\n");
		} else if (!strncmp(line, "pause", 5) && !idle) {
			vcpu_set_running(0);
			printf("paused passes=%lu\n", (unsigned long)passes);
		} else if (sscanf(line, "stride %" SCNi64, &a) == 1 && !idle) {
			set_stride(a);
			printf("stride %" PRIu64 "\n", a);
		} else if (!strncmp(line, "addslot", 7)) {
			void *extra = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			struct kvm_userspace_memory_region r1 = {
			    .slot = 1,
			    .guest_phys_addr = 256 << 20,
			    .memory_size = 1 << 20,
			    .userspace_addr = (unsigned long)extra,
			};

			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0)
				printf("error %s\n", strerror(errno));
			else
				printf("ok\n");
		} else if (sscanf(line, "log %199s", arg) == 1) {
			region.flags = strcmp(arg, "on") ? 0 : KVM_MEM_LOG_DIRTY_PAGES;
			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
				printf("error %s\n", strerror(errno));
			} else {
				ctl.logged = !!region.flags;
				printf("ok\n");
			}
		} else if (sscanf(line, "attach-again %31s", arg) == 1) {
			struct kvmmig_attach again = {.vm_fd = vm};
			int dev2 = open("/dev/kvmmig", O_RDWR | O_CLOEXEC);

			memcpy(again.name, arg, strnlen(arg, sizeof(again.name) - 1));
			if (dev2 < 0 || ioctl(dev2, KVMMIG_ATTACH, &again) < 0)
				printf("error %s\n", errno_name(errno));
			else
				printf("ok\n");
			if (dev2 >= 0)
				close(dev2);
		} else if (!strncmp(line, "delslot", 7) || !strncmp(line, "moveslot", 8)) {
			struct kvm_userspace_memory_region r = region;

			if (line[0] == 'd')
				r.memory_size = 0; /* KVM's delete */
			else
				r.guest_phys_addr = 512 << 20;
			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
				printf("error %s\n", strerror(errno));
			else
				printf("ok\n");
		} else if (!strncmp(line, "protect", 7)) {
			struct kvm_enable_cap cap = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
						     .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE};

			if (ioctl(vm, KVM_ENABLE_CAP, &cap) < 0)
				printf("error %s\n", strerror(errno));
			else
				printf("ok\n");
		} else if (!strncmp(line, "smmslot", 7)) {
			void *extra = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			struct kvm_userspace_memory_region r = {
			    .slot = 1u << 16 | 3,
			    .guest_phys_addr = 0xa0000,
			    .memory_size = 1 << 20,
			    .userspace_addr = (unsigned long)extra,
			};

			if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
				printf("error %s\n", strerror(errno));
			else
				printf("ok\n");
		} else if (!strncmp(line, "slots", 5)) {
			print_slots(vm);
		} else if (!strncmp(line, "passes", 6)) {
			printf("passes=%lu\n", (unsigned long)passes);
		} else if (sscanf(line, "hash %199s", arg) == 1) {
			FILE *f = fopen(arg, "w");
			uint64_t total = 0xcbf29ce484222325ULL;

			if (!f)
				die(arg);
			for (size_t p = 0; p < mem_size / PAGE; p++) {
				uint64_t h = fnv(mem + p * PAGE, PAGE);

				fprintf(f, "%zu %016" PRIx64 "\n", p, h);
				total = (total ^ h) * 0x100000001b3ULL;
			}
			fclose(f);
			printf("hash %016" PRIx64 "\n", total);
		} else if (sscanf(line, "poke %" SCNi64 " %" SCNi64, &a, &b) == 2) {
			if (a + 8 > mem_size) {
				printf("error EINVAL\n");
				continue;
			}
			memcpy(mem + a, &b, 8);
			printf("ok\n");
		} else if (sscanf(line, "mark %" SCNi64 " %" SCNi64, &a, &b) == 2) {
			struct kvmmig_mark_dirty md = {.gpa = a, .size = b};

			if (ioctl(dev, KVMMIG_MARK_DIRTY, &md) < 0)
				printf("error %s\n", errno == EINVAL ? "EINVAL" : strerror(errno));
			else
				printf("ok\n");
		} else if (sscanf(line, "marks %199s", arg) == 1) {
			marks(dev, arg);
		} else if (sscanf(line, "hbench %49s %49s %d %d %99s", arg, arg + 50, &i, &fill,
				  arg + 100) == 5 && !idle) {
			hbench(vm, arg, arg + 50, i, fill, arg + 100);
			printf("hbench done\n");
		} else if (sscanf(line, "ubench %99s %99s %d %d", arg, arg + 100, &i, &fill) == 4) {
			ubench(vm, arg, arg + 100, i, fill);
			printf("ubench done\n");
		} else if (!strncmp(line, "quit", 4)) {
			break;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}
