/* control.c: the control socket server of a VMM (protocol in ctlproto/ctlproto.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/cpuidtext.h"
#include "ctlproto/ctlproto.h"
#include "vmm/control.h"
#include "vmm/cpuid.h"
#include "vmm/digest.h"
#include "vmm/request.h"
#include "vmm/state.h"

/*
 * Every client is served on a thread of its own, and a request (its line
 * and any payload) must have arrived this long after the VMM began to wait
 * for it: a client that stops or trickles is dropped then, and meanwhile
 * holds nothing that another client's pause would wait for.
 */
#define REQUEST_DEADLINE_SECONDS 5
/* An answer the client does not read is given up after this long. */
#define ANSWER_TIMEOUT_SECONDS 30
/* Connections served at once; one more is told so and closed. */
#define MAX_CLIENTS 16

struct vmm_control {
	struct vmm_vm *vm;
	const char *guest_kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char image_dir[PATH_MAX]; /* the one directory save-memory writes into */
	int listen_fd;
	int stop_fd;
	pthread_t thread; /* accepts, and starts a thread per client */
	/* Requests act on the VM one at a time; reading and answering them is done outside. */
	pthread_mutex_t request_lock;
	/* The connections being served (detached threads), for vmm_control_close() to end. */
	pthread_mutex_t clients_lock;
	pthread_cond_t clients_gone;
	int client_fds[MAX_CLIENTS];
	int nclients;
	/* The connection whose "throttle" is in force, under @request_lock; NULL for none. */
	struct client *throttle_owner;
};

struct client {
	struct vmm_control *ctl;
	int fd;
	/*
	 * It holds the VM's vCPU throttle: the throttle lasts as long as this
	 * connection, and the connection may idle between requests (only this
	 * client's thread changes it).
	 */
	bool holds_throttle;
	char buf[KVMMIG_CTL_LINE_MAX];
	size_t len;		  /* bytes buffered */
	struct timespec deadline; /* of the request being read (CLOCK_MONOTONIC) */
	size_t request_bytes;	  /* of it received so far */
};

/* What a request is answered: built under the request lock, sent after it. */
struct answer {
	char head[KVMMIG_CTL_LINE_MAX]; /* "ok <length>\n" or "error <message>\n" */
	void *payload;			/* malloc'ed, @len bytes, freed once sent */
	size_t len;
	int pass_fd; /* passed with the head as SCM_RIGHTS; -1 for none */
	bool quit;
};

static int write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* "ok <len>" with @payload, which the answer now owns (NULL with @len 0). */
static int answer_ok(struct answer *a, void *payload, size_t len)
{
	snprintf(a->head, sizeof(a->head), "ok %zu\n", len);
	a->payload = payload;
	a->len = len;
	return 0;
}

/* "ok 0" and, with its first byte, @fd as SCM_RIGHTS. */
static int answer_ok_fd(struct answer *a, int fd)
{
	answer_ok(a, NULL, 0);
	a->pass_fd = fd;
	return 0;
}

static int answer_error(struct answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int answer_error(struct answer *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(a->head, sizeof(a->head), "error ");
	va_start(ap, fmt);
	vsnprintf(a->head + n, sizeof(a->head) - n - 1, fmt, ap);
	va_end(ap);
	/* One line whatever the message holds. */
	for (char *p = a->head; *p; p++)
		if (*p == '\n')
			*p = ' ';
	strcat(a->head, "\n");
	return 0;
}

/* @head and, in the same sendmsg, @fd: the client gets the descriptor with the first byte. */
static int send_with_fd(int sock, const char *head, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)head, .iov_len = strlen(head)};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = u.buf,
	    .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The descriptor went with the first byte; the rest of the line follows plainly. */
	return (size_t)n < iov.iov_len ? write_all(sock, head + n, iov.iov_len - n) : 0;
}

static int send_answer(struct client *c, struct answer *a)
{
	int err;

	if (a->pass_fd >= 0)
		return send_with_fd(c->fd, a->head, a->pass_fd);
	err = write_all(c->fd, a->head, strlen(a->head));
	if (!err && a->len)
		err = write_all(c->fd, a->payload, a->len);
	return err;
}

static void start_request(struct client *c)
{
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += REQUEST_DEADLINE_SECONDS;
	c->request_bytes = c->len; /* a client may send its next request early */
}

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t->tv_sec - now.tv_sec) * 1000LL + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/*
 * Some bytes of the request, waiting no later than its deadline: >0, 0 at
 * EOF, or -errno. A connection that holds the throttle waits for the first
 * byte of its next request as long as it likes: its hanging up is what
 * lifts the throttle.
 */
static ssize_t recv_by_deadline(struct client *c, void *dst, size_t len)
{
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		bool idle = c->holds_throttle && !c->request_bytes;
		int left = idle ? -1 : ms_until(&c->deadline), r;
		ssize_t n;

		if (!left)
			return -ETIMEDOUT;
		r = poll(&p, 1, left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = recv(c->fd, dst, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		c->request_bytes += n;
		return n;
	}
}

/* Reads one request line into @line (NUL-terminated, no newline); 0 at EOF, <0 on error. */
static int read_line(struct client *c, char *line)
{
	for (;;) {
		int r = vmm_ctl_take_line(c->buf, &c->len, line);
		ssize_t n;

		if (r)
			return r;
		n = recv_by_deadline(c, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return n;
		c->len += n;
	}
}

/* Reads exactly @len payload bytes following a request line. */
static int read_payload(struct client *c, uint8_t *dst, size_t len)
{
	size_t from_buf = c->len < len ? c->len : len;

	memcpy(dst, c->buf, from_buf);
	c->len -= from_buf;
	memmove(c->buf, c->buf + from_buf, c->len);
	for (size_t done = from_buf; done < len;) {
		ssize_t n = recv_by_deadline(c, dst + done, len - done);

		if (n <= 0)
			return n ? n : -EPIPE;
		done += n;
	}
	return 0;
}

static bool vm_is_paused(struct vmm_vm *vm)
{
	enum vmm_vm_state s = vmm_vm_get_state(vm);

	return s == VMM_VM_PAUSED || s == VMM_VM_INCOMING;
}

static int cmd_status(struct vmm_control *ctl, struct answer *a)
{
	char *text = vmm_vm_status_text(ctl->vm, ctl->guest_kind), *full = NULL;

	if (!text || asprintf(&full, "%simage-dir %s\n", text, ctl->image_dir) < 0) {
		free(text);
		return answer_error(a, "status: out of memory");
	}
	free(text);
	return answer_ok(a, full, strlen(full));
}

/*
 * "dirty-ring-reap": the tool's harvest of KVM's dirty ring, before each
 * round (dirtyring.c). Answers "pages N" (this reap) and each vCPU's pages
 * so far ("vcpuI N"): the per-vCPU dirty rates come from those.
 */
static int cmd_dirty_ring_reap(struct vmm_vm *vm, struct answer *a)
{
	char *text = NULL;
	size_t len = 0;
	uint64_t pages;
	FILE *f;
	int err;

	if (!vm->ring_entries)
		return answer_error(a, "VM '%s' has no dirty ring (kvmmig-vm --dirty-ring)", vm->name);
	err = vmm_dirty_ring_reap(vm, &pages);
	if (err == -ESTALE)
		return answer_error(a, "pages were written after kvmmig's stream ended: the migration "
				       "must not complete");
	if (err)
		return answer_error(a, "reaping the dirty ring failed: %s", strerror(-err));
	f = open_memstream(&text, &len);
	if (!f)
		return answer_error(a, "dirty-ring-reap: out of memory");
	fprintf(f, "pages %llu\n", (unsigned long long)pages);
	pthread_mutex_lock(&vm->ring_lock);
	for (int i = 0; i < vm->ncpus; i++)
		fprintf(f, "vcpu%d %llu\n", i, (unsigned long long)vm->ring_reaped[i]);
	pthread_mutex_unlock(&vm->ring_lock);
	if (fclose(f)) {
		free(text);
		return answer_error(a, "dirty-ring-reap: out of memory");
	}
	return answer_ok(a, text, len);
}

static int cmd_resume(struct vmm_vm *vm, struct answer *a)
{
	int ret = vmm_vm_resume(vm);

	if (ret == -ENODATA)
		return answer_error(a, "incoming VM has no state yet: restore-state first");
	if (ret)
		return answer_error(a, "the VM is stopping");
	return answer_ok(a, NULL, 0);
}

static int cmd_save_state(struct vmm_vm *vm, uint32_t version, struct answer *a)
{
	uint8_t *blob;
	size_t size;
	int ret;

	if (!vm_is_paused(vm))
		return answer_error(a, "save-state needs a paused VM: pause first");
	ret = vmm_state_save(vm, version, &blob, &size);
	if (ret == -ENODATA)
		return answer_error(
		    a,
		    "save-state: VM '%s' is incoming: it waits for its state and has "
		    "none to save (restore-state and resume it first)",
		    vm->name);
	if (ret == -EPROTONOSUPPORT)
		return answer_error(a,
				    "save-state: this VMM writes state versions %d to %d, not %u",
				    KVMMIG_STATE_VERSION_MIN, KVMMIG_STATE_VERSION, version);
	if (ret == -ERANGE)
		return answer_error(
		    a,
		    "save-state %u: a device's state is newer than a version-%u blob "
		    "can carry (the VMM's log names it): upgrade the destination's "
		    "kvmmig-vm",
		    version, version);
	if (ret)
		return answer_error(a, "save-state failed: %s", strerror(-ret));
	return answer_ok(a, blob, size);
}

static int cmd_restore_state(struct vmm_vm *vm, const uint8_t *blob, size_t len, struct answer *a)
{
	char err[512] = "";
	int ret;

	ret = vmm_state_restore(vm, blob, len, err, sizeof(err));
	if (ret) {
		vmm_log("restore-state rejected: %s", err[0] ? err : strerror(-ret));
		return answer_error(a, "%s", err[0] ? err : strerror(-ret));
	}
	vmm_debug("state restored (%zu bytes)", len);
	return answer_ok(a, NULL, 0);
}

/*
 * What a guest's TSC needs here: a guest promised an invariant TSC must keep
 * its rate, which only TSC scaling gives on a host whose TSC runs at
 * another (KVM tolerates 250 ppm without it). Without the promise the
 * guest runs on at this host's rate, as QEMU does (restore_vcpu() logs it).
 */
static int check_tsc(struct vmm_vm *vm, const struct cpuid_text *t, char *err, size_t len)
{
	uint64_t diff;

	if (!t->has_tsc_khz || !t->tsc_khz || vm->tsc_khz <= 0 || vm->has_tsc_control ||
	    !(cpuid_word(t->cpuid, W_E7_EDX) & CPUID_BIT(8)))
		return 0;
	diff = t->tsc_khz > (uint32_t)vm->tsc_khz ? t->tsc_khz - vm->tsc_khz
						  : vm->tsc_khz - t->tsc_khz;
	if (diff * 1000000 <= (uint64_t)vm->tsc_khz * 250)
		return 0;
	snprintf(err, len,
		 "the guest was promised an invariant TSC at %u kHz, this host's runs at %d kHz "
		 "and its KVM cannot scale it (no KVM_CAP_TSC_CONTROL): migrate to a host with "
		 "TSC scaling or the same TSC rate",
		 t->tsc_khz, vm->tsc_khz);
	return -EOPNOTSUPP;
}

/* The XSAVE area the guest's components need (leaf 0xd.0 ECX) must fit this KVM's. */
static int check_xsave_size(struct vmm_vm *vm, const struct kvm_cpuid2 *cpuid, char *err,
			    size_t len)
{
	const struct kvm_cpuid_entry2 *d0 = cpuid_find(cpuid, 0xd, 0);
	int have = vm->xsave_size ? vm->xsave_size : 0;

	if (!d0 || !(cpuid_word(cpuid, W_1_ECX) & CPUID_BIT(26)) || d0->ecx <= (uint32_t)have)
		return 0;
	snprintf(err, len,
		 "the guest's XSAVE area is %u bytes (leaf 0xd.0 ECX), this host's KVM saves %d: "
		 "it cannot hold the guest's registers",
		 d0->ecx, have);
	return -EOPNOTSUPP;
}

/*
 * check-cpuid <length>, then <length> bytes of text (common/cpuidtext.h):
 * "cpuid F I EAX EBX ECX EDX" lines as status prints them, and the
 * guest's "cpu-model" and "tsc-khz". Can this host give that guest its
 * CPU? The handshake of a migration asks before any memory moves.
 */
static int cmd_check_cpuid(struct vmm_vm *vm, char *text, size_t text_len, struct answer *a)
{
	struct cpuid_text t = {.cap = KVMMIG_STATE_MAX_CPUID};
	struct kvm_cpuid2 *own;
	char err[768] = "";
	int ret;

	if (strlen(text) != text_len)
		return answer_error(a, "check-cpuid: the CPUID text holds a NUL byte");
	t.cpuid = calloc(1, sizeof(*t.cpuid) + t.cap * sizeof(t.cpuid->entries[0]));
	own = calloc(1, sizeof(*own) + KVMMIG_STATE_MAX_CPUID * sizeof(own->entries[0]));
	if (!t.cpuid || !own) {
		free(t.cpuid), free(own);
		return answer_error(a, "check-cpuid: out of memory");
	}
	ret = cpuid_text_parse(text, 0, &t, err, sizeof(err));
	if (!ret && (!cpuid_find(t.cpuid, 0, 0) || !cpuid_find(t.cpuid, 1, 0))) {
		snprintf(err, sizeof(err), "no CPUID leaf 0 or 1: not a guest's CPUID");
		ret = -EINVAL;
	}
	if (ret) {
		free(t.cpuid), free(own);
		return answer_error(a, "check-cpuid: malformed CPUID text: %s", err);
	}
	if (t.model[0] &&
	    (strcmp(t.model, vm->cpu_model->name) || t.model_version != vm->cpu_model->version)) {
		const struct cpu_model *m = cpu_model_by_name(t.model);

		if (m && m->version == t.model_version)
			snprintf(err, sizeof(err),
				 "the guest runs CPU model %s version %u, this VM %s version %u: "
				 "start kvmmig-vm --incoming --cpu %s",
				 t.model, t.model_version, vm->cpu_model->name,
				 vm->cpu_model->version, t.model);
		else
			snprintf(err, sizeof(err),
				 "the guest runs CPU model %s version %u, which this kvmmig-vm "
				 "does not know: upgrade kvmmig on this host",
				 t.model, t.model_version);
		ret = -EOPNOTSUPP;
	}
	/* The CPUID this VMM gave vCPU 0 (no vCPU ioctl: it would wait for KVM_RUN). */
	own->nent = 0;
	if (vm->cpuid0 && vm->cpuid0->nent <= KVMMIG_STATE_MAX_CPUID) {
		own->nent = vm->cpuid0->nent;
		memcpy(own->entries, vm->cpuid0->entries, own->nent * sizeof(own->entries[0]));
	}
	if (!ret)
		ret = check_xsave_size(vm, t.cpuid, err, sizeof(err));
	if (!ret)
		ret = vmm_cpuid_check_supported(vm->kvm_fd, own, t.cpuid, err, sizeof(err));
	if (!ret)
		ret = check_tsc(vm, &t, err, sizeof(err));
	free(t.cpuid), free(own);
	if (ret)
		return answer_error(a, "%s", err[0] ? err : strerror(-ret));
	return answer_ok(a, NULL, 0);
}

/* Why openat() of a new image refused @name (errno @err), and what to do. */
static int answer_image_refused(struct vmm_control *ctl, int dir, const char *name, int err,
				struct answer *a)
{
	struct stat st;

	if (err == EEXIST && !fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		return answer_error(
		    a,
		    "save-memory: %s/%s is a symbolic link: images are never written "
		    "through one; give a new name",
		    ctl->image_dir, name);
	if (err == EEXIST)
		return answer_error(a, "save-memory: %s/%s exists: give a new name or remove it",
				    ctl->image_dir, name);
	return answer_error(a, "save-memory: unable to create %s/%s: %s", ctl->image_dir, name,
			    strerror(err));
}

/*
 * save-memory NAME: a new file NAME (request.h) in the image directory,
 * created 0600 with O_EXCL and O_NOFOLLOW: never a file that exists, never
 * through a link, never anywhere else.
 */
static int cmd_save_memory(struct vmm_control *ctl, const char *name, struct answer *a)
{
	int dir, fd, ret;

	if (!vm_is_paused(ctl->vm))
		return answer_error(a, "save-memory needs a paused VM: pause first");
	dir = open(ctl->image_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return answer_error(
		    a,
		    "save-memory: unable to open the image directory %s: %s (create "
		    "it, or start kvmmig-vm with --image-dir DIR)",
		    ctl->image_dir, strerror(errno));
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		answer_image_refused(ctl, dir, name, errno, a);
		close(dir);
		return 0;
	}
	ret = vmm_memory_save(ctl->vm, fd);
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret) {
		/* No partial image left under a name that --mem-file would load. */
		unlinkat(dir, name, 0);
		answer_error(a, "save-memory: unable to write %s/%s: %s", ctl->image_dir, name,
			     strerror(-ret));
	} else {
		answer_ok(a, NULL, 0);
	}
	close(dir);
	return 0;
}

/* After a throttle or dirty-limit request of @c: @c holds them while one is in force. */
static void hold_throttle(struct vmm_control *ctl, struct client *c)
{
	uint64_t mask;
	bool slowed = vmm_throttle_get(ctl->vm) || vmm_dirty_limit_get(ctl->vm, &mask);

	ctl->throttle_owner = slowed ? c : NULL;
	c->holds_throttle = slowed;
}

/*
 * throttle PERCENT: the vCPUs sleep PERCENT of each period (throttle.c)
 * for as long as this connection stays open; "throttle 0" or hanging up
 * lifts it. One connection holds it at a time: a migration's tool, which
 * keeps the connection for the migration, so that a tool that dies can
 * never leave its guest throttled.
 */
static int cmd_throttle(struct vmm_control *ctl, struct client *c, unsigned int pct,
			uint64_t mask, struct answer *a)
{
	enum vmm_vm_state state = vmm_vm_get_state(ctl->vm);
	int ret;

	if (ctl->throttle_owner && ctl->throttle_owner != c)
		return answer_error(a,
				    "throttle: another control connection holds the throttle "
				    "(%u%%)",
				    vmm_throttle_get(ctl->vm));
	if (pct && (state == VMM_VM_INCOMING || state == VMM_VM_STOPPING))
		return answer_error(a, "throttle: the VM is %s: nothing runs to throttle",
				    vmm_vm_state_name(state));
	if (mask != ~0ull && (ctl->vm->ncpus >= 64 || mask >> ctl->vm->ncpus))
		return answer_error(a, "throttle: the mask 0x%llx names a vCPU the VM does not have (%d)",
				    (unsigned long long)mask, ctl->vm->ncpus);
	ret = vmm_throttle_set(ctl->vm, pct, mask);
	if (ret)
		return answer_error(a, "throttle %u failed: %s", pct, strerror(-ret));
	hold_throttle(ctl, c);
	if (pct && mask != ~0ull)
		vmm_log("vCPUs 0x%llx throttled to %u%% while the control connection that asked "
			"stays open",
			(unsigned long long)mask, pct);
	else if (pct)
		vmm_log(
		    "vCPUs throttled to %u%% while the control connection that asked stays open",
		    pct);
	else
		vmm_log("vCPU throttle lifted");
	return answer_ok(a, NULL, 0);
}

/*
 * dirty-limit PAGES [MASK]: each vCPU of MASK (all if none) of a dirty-ring
 * VM may dirty PAGES pages a second, enforced where its ring fills
 * (throttle.c), for as long as this connection stays open: held as the
 * throttle is, and lifted with it.
 */
static int cmd_dirty_limit(struct vmm_control *ctl, struct client *c, uint64_t pages,
			   uint64_t mask, struct answer *a)
{
	enum vmm_vm_state state = vmm_vm_get_state(ctl->vm);
	int ret;

	if (ctl->throttle_owner && ctl->throttle_owner != c)
		return answer_error(a, "dirty-limit: another control connection holds the throttle");
	if (!ctl->vm->ring_entries)
		return answer_error(a, "dirty-limit: the VM has no dirty ring (kvmmig-vm --dirty-ring): "
				       "use throttle");
	if (pages && (state == VMM_VM_INCOMING || state == VMM_VM_STOPPING))
		return answer_error(a, "dirty-limit: the VM is %s: nothing runs to limit",
				    vmm_vm_state_name(state));
	if (mask != ~0ull && (ctl->vm->ncpus >= 64 || mask >> ctl->vm->ncpus))
		return answer_error(a,
				    "dirty-limit: the mask 0x%llx names a vCPU the VM does not have (%d)",
				    (unsigned long long)mask, ctl->vm->ncpus);
	ret = vmm_dirty_limit_set(ctl->vm, pages, mask);
	if (ret)
		return answer_error(a, "dirty-limit %llu failed: %s", (unsigned long long)pages,
				    strerror(-ret));
	hold_throttle(ctl, c);
	if (pages)
		vmm_log("vCPUs 0x%llx limited to %llu dirty pages a second while the control "
			"connection that asked stays open",
			(unsigned long long)mask, (unsigned long long)pages);
	else
		vmm_log("dirty limit lifted");
	return answer_ok(a, NULL, 0);
}

/* A connection that held the throttle is gone: so is its throttle. */
static void release_throttle(struct client *c)
{
	struct vmm_control *ctl = c->ctl;

	pthread_mutex_lock(&ctl->request_lock);
	if (ctl->throttle_owner == c) {
		vmm_throttle_set(ctl->vm, 0, 0);
		vmm_dirty_limit_set(ctl->vm, 0, 0);
		ctl->throttle_owner = NULL;
		c->holds_throttle = false;
		vmm_log("vCPU throttle lifted: the control connection that held it closed");
	}
	pthread_mutex_unlock(&ctl->request_lock);
}

static int cmd_digest(struct vmm_vm *vm, unsigned int version, struct answer *a)
{
	uint64_t digest;
	char *hex;

	if (!vm_is_paused(vm))
		return answer_error(a, "digest needs a paused or incoming VM: pause first");
	digest = version == 2 ? vmm_memory_digest2(vm) : vmm_memory_digest(vm);
	if (asprintf(&hex, "%016llx", (unsigned long long)digest) < 0)
		return answer_error(a, "digest: out of memory");
	return answer_ok(a, hex, strlen(hex));
}

/* Acts on a parsed request of @c, under the request lock; @payload is what followed its line. */
static int act(struct vmm_control *ctl, struct client *c, const struct vmm_ctl_request *req,
	       uint8_t *payload, struct answer *a)
{
	struct vmm_vm *vm = ctl->vm;
	int ret;

	switch (req->command) {
	case VMM_CTL_STATUS:
		return cmd_status(ctl, a);
	case VMM_CTL_PAUSE:
		if (vmm_vm_get_state(vm) == VMM_VM_STOPPING)
			return answer_error(a, "the VM is stopping");
		vmm_vm_pause(vm);
		return answer_ok(a, NULL, 0);
	case VMM_CTL_RESUME:
		return cmd_resume(vm, a);
	case VMM_CTL_SAVE_STATE:
		return cmd_save_state(vm, req->version, a);
	case VMM_CTL_RESTORE_STATE:
		return cmd_restore_state(vm, payload, req->payload_len, a);
	case VMM_CTL_CHECK_CPUID:
		return cmd_check_cpuid(vm, (char *)payload, req->payload_len, a);
	case VMM_CTL_SAVE_MEMORY:
		return cmd_save_memory(ctl, req->image, a);
	case VMM_CTL_DIGEST:
		return cmd_digest(vm, req->version, a);
	case VMM_CTL_DIRTY_LOG:
		ret = vmm_vm_set_dirty_logging(vm, req->on);
		if (ret)
			return answer_error(a, "KVM refused to switch dirty logging %s: %s",
					    req->on ? "on" : "off", strerror(-ret));
		return answer_ok(a, NULL, 0);
	case VMM_CTL_DIRTY_RING_REAP:
		return cmd_dirty_ring_reap(vm, a);
	case VMM_CTL_KVMMIG_FD:
		/*
		 * The authority over this VM's migrations (the /dev/kvmmig
		 * file that attached it) goes to whoever reached this 0600
		 * socket: it is already as powerful as the VMM itself.
		 */
		if (vm->kvmmig_fd < 0)
			return answer_error(a,
					    "VM '%s' is not attached to kvmmig (load the module "
					    "before starting the VMM)",
					    vm->name);
		return answer_ok_fd(a, vm->kvmmig_fd);
	case VMM_CTL_THROTTLE:
		return cmd_throttle(ctl, c, req->percent, req->vcpu_mask, a);
	case VMM_CTL_DIRTY_LIMIT:
		return cmd_dirty_limit(ctl, c, req->pages_per_s, req->vcpu_mask, a);
	case VMM_CTL_QUIT:
		a->quit = true;
		return answer_ok(a, NULL, 0);
	}
	return answer_error(a, "request not served"); /* not reached: every command is above */
}

/*
 * Parses @line, reads the payload it announces (by the request's
 * deadline), then acts under the request lock. 0 with @a to send, or
 * -errno when the connection is to be dropped.
 */
static int handle_request(struct client *c, char *line, struct answer *a)
{
	struct vmm_control *ctl = c->ctl;
	struct vmm_ctl_request req;
	uint8_t *payload = NULL;
	char err[512];
	int ret;

	if (vmm_ctl_parse_request(line, &req, err, sizeof(err)))
		return answer_error(a, "%s", err);
	if (req.command == VMM_CTL_RESTORE_STATE || req.command == VMM_CTL_CHECK_CPUID) {
		/* One byte more: check-cpuid's lines are text, NUL-terminated here. */
		payload = malloc(req.payload_len + 1);
		if (!payload) {
			/* Unread, the payload would be taken for requests: hang up instead. */
			vmm_log("control socket: no memory for a payload of %llu bytes: connection "
				"dropped",
				(unsigned long long)req.payload_len);
			return -ENOMEM;
		}
		ret = read_payload(c, payload, req.payload_len);
		if (ret) {
			free(payload);
			return ret;
		}
		payload[req.payload_len] = '\0';
	}
	pthread_mutex_lock(&ctl->request_lock);
	ret = act(ctl, c, &req, payload, a);
	pthread_mutex_unlock(&ctl->request_lock);
	free(payload);
	return ret;
}

static void serve_client(struct client *c)
{
	char *line = malloc(KVMMIG_CTL_LINE_MAX);
	bool quit = false;

	while (line && !quit) {
		struct answer a = {.pass_fd = -1};
		int r;

		start_request(c);
		r = read_line(c, line);
		if (r == 0)
			break; /* the client hung up */
		if (r == -EMSGSIZE) {
			answer_error(&a, "request line longer than %d bytes", KVMMIG_CTL_LINE_MAX);
			send_answer(c, &a);
			break;
		}
		if (r > 0)
			r = handle_request(c, line, &a);
		if (r == -ETIMEDOUT)
			vmm_log("control socket: request not complete after %d s (%zu bytes): "
				"connection dropped",
				REQUEST_DEADLINE_SECONDS, c->request_bytes);
		if (r < 0)
			break;
		r = send_answer(c, &a);
		free(a.payload);
		quit = a.quit;
		if (r)
			break;
	}
	if (quit)
		vmm_vm_request_stop(c->ctl->vm, 0, "quit requested on the control socket");
	free(line);
}

static bool remember_client(struct vmm_control *ctl, int fd)
{
	bool room;

	pthread_mutex_lock(&ctl->clients_lock);
	room = ctl->nclients < MAX_CLIENTS;
	if (room)
		ctl->client_fds[ctl->nclients++] = fd;
	pthread_mutex_unlock(&ctl->clients_lock);
	return room;
}

static void forget_client(struct vmm_control *ctl, int fd)
{
	pthread_mutex_lock(&ctl->clients_lock);
	for (int i = 0; i < ctl->nclients; i++) {
		if (ctl->client_fds[i] != fd)
			continue;
		ctl->client_fds[i] = ctl->client_fds[--ctl->nclients];
		break;
	}
	if (!ctl->nclients)
		pthread_cond_broadcast(&ctl->clients_gone);
	pthread_mutex_unlock(&ctl->clients_lock);
}

static void *client_thread(void *arg)
{
	struct client *c = arg;

	pthread_setname_np(pthread_self(), "control-client");
	serve_client(c);
	release_throttle(c);
	/* Forgotten before closed: vmm_control_close() never shuts down a reused descriptor. */
	forget_client(c->ctl, c->fd);
	close(c->fd);
	free(c);
	return NULL;
}

static void start_client(struct vmm_control *ctl, int fd)
{
	struct timeval timeout = {.tv_sec = ANSWER_TIMEOUT_SECONDS};
	struct client *c = NULL;
	pthread_attr_t attr;
	pthread_t thread;
	int err = -EBUSY;

	if (remember_client(ctl, fd)) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
		c = calloc(1, sizeof(*c));
		err = -ENOMEM;
		if (c) {
			c->ctl = ctl;
			c->fd = fd;
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			err = -pthread_create(&thread, &attr, client_thread, c);
			pthread_attr_destroy(&attr);
		}
		if (err)
			forget_client(ctl, fd);
	}
	if (err) {
		char line[128];

		snprintf(line, sizeof(line),
			 "error the VMM cannot serve another client now (%s, "
			 "at most %d at once): retry later\n",
			 strerror(-err), MAX_CLIENTS);
		send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
		vmm_log("control socket: a client was turned away: %s", strerror(-err));
		free(c);
		close(fd);
	}
}

static void *control_thread(void *arg)
{
	struct vmm_control *ctl = arg;
	struct pollfd fds[2] = {
	    {.fd = ctl->listen_fd, .events = POLLIN},
	    {.fd = ctl->stop_fd, .events = POLLIN},
	};

	pthread_setname_np(pthread_self(), "control");
	for (;;) {
		int fd;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			vmm_log("control socket: poll failed: %s", strerror(errno));
			break;
		}
		if (fds[1].revents)
			break;
		fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			start_client(ctl, fd);
	}
	return NULL;
}

/* Hangs up on every client and waits until their threads let go of the VM. */
static void end_clients(struct vmm_control *ctl)
{
	pthread_mutex_lock(&ctl->clients_lock);
	for (int i = 0; i < ctl->nclients; i++)
		shutdown(ctl->client_fds[i], SHUT_RDWR);
	while (ctl->nclients)
		pthread_cond_wait(&ctl->clients_gone, &ctl->clients_lock);
	pthread_mutex_unlock(&ctl->clients_lock);
}

/* A socket file nobody answers on is left over from a VMM that died: it may be replaced. */
static bool socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

int vmm_control_open(struct vmm_control **out, struct vmm_vm *vm, const char *path,
		     const char *image_dir, const char *guest_kind)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct vmm_control *ctl;
	char dir[sizeof(addr.sun_path)];
	int err;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->vm = vm;
	ctl->guest_kind = guest_kind;
	if (!image_dir)
		image_dir = kvmmig_ctl_run_dir();
	if (strlen(image_dir) >= sizeof(ctl->image_dir)) {
		vmm_log("unable to use the image directory %s: path too long", image_dir);
		free(ctl);
		return -ENAMETOOLONG;
	}
	strcpy(ctl->image_dir, image_dir);
	ctl->listen_fd = ctl->stop_fd = -1;
	pthread_mutex_init(&ctl->request_lock, NULL);
	pthread_mutex_init(&ctl->clients_lock, NULL);
	pthread_cond_init(&ctl->clients_gone, NULL);
	if (path) {
		if (strlen(path) >= sizeof(ctl->path)) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		strcpy(ctl->path, path);
	} else {
		err = kvmmig_ctl_socket_path(ctl->path, sizeof(ctl->path), vm->name);
		if (err)
			goto fail;
		snprintf(dir, sizeof(dir), "%s", kvmmig_ctl_run_dir());
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			vmm_log("unable to create the run directory %s: %s", dir, strerror(-err));
			goto fail;
		}
	}
	strcpy(addr.sun_path, ctl->path);
	if (socket_is_live(&addr)) {
		vmm_log("unable to bind the control socket %s: a VMM already serves it (name '%s' "
			"in use)",
			ctl->path, vm->name);
		err = -EADDRINUSE;
		goto fail;
	}
	unlink(ctl->path);

	ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->listen_fd < 0) {
		err = -errno;
		goto fail;
	}
	{
		mode_t old = umask(0077);

		err = bind(ctl->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
		umask(old);
	}
	if (err || listen(ctl->listen_fd, 8) < 0) {
		err = err ? err : -errno;
		vmm_log("unable to bind the control socket %s: %s", ctl->path, strerror(-err));
		goto fail;
	}
	ctl->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ctl->stop_fd < 0) {
		err = -errno;
		goto fail_unlink;
	}
	err = -pthread_create(&ctl->thread, NULL, control_thread, ctl);
	if (err)
		goto fail_unlink;
	vmm_debug("control socket %s", ctl->path);
	*out = ctl;
	return 0;

fail_unlink:
	unlink(ctl->path);
fail:
	if (err == -ENAMETOOLONG)
		vmm_log("unable to use control socket path for '%s': too long", vm->name);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	if (ctl->stop_fd >= 0)
		close(ctl->stop_fd);
	free(ctl);
	return err;
}

void vmm_control_close(struct vmm_control *ctl)
{
	uint64_t one = 1;

	if (!ctl)
		return;
	/* No new client after the accepting thread ends; then the current ones. */
	if (write(ctl->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(ctl->thread, NULL);
	end_clients(ctl);
	unlink(ctl->path);
	close(ctl->listen_fd);
	close(ctl->stop_fd);
	free(ctl);
}

const char *vmm_control_path(const struct vmm_control *ctl)
{
	return ctl->path;
}
