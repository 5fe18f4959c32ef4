/* control.c: the control socket server of a VMM (protocol in ctlproto/ctlproto.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlproto/ctlproto.h"
#include "vmm/control.h"
#include "vmm/cpuid.h"
#include "vmm/digest.h"
#include "vmm/request.h"
#include "vmm/state.h"

/* A client that stops mid-request is dropped after this long: the VMM never waits on it forever. */
#define CLIENT_TIMEOUT_SECONDS 30

struct vmm_control {
	struct vmm_vm *vm;
	const char *guest_kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	int stop_fd;
	int client_fd; /* the connection being served, -1 if none */
	pthread_t thread;
};

struct client {
	int fd;
	char buf[KVMMIG_CTL_LINE_MAX];
	size_t len; /* bytes buffered */
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

static int reply_ok(struct client *c, const void *payload, size_t len)
{
	char head[32];
	int err;

	snprintf(head, sizeof(head), "ok %zu\n", len);
	err = write_all(c->fd, head, strlen(head));
	if (!err && len)
		err = write_all(c->fd, payload, len);
	return err;
}

/*
 * "ok 0\n" and, in the same sendmsg, @fd as SCM_RIGHTS: the client gets the
 * descriptor with the first byte of the answer.
 */
static int reply_ok_fd(struct client *c, int fd)
{
	static const char head[] = "ok 0\n";
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)head, .iov_len = sizeof(head) - 1};
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
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The descriptor went with the first byte; the rest of the line follows plainly. */
	return (size_t)n < iov.iov_len ? write_all(c->fd, head + n, iov.iov_len - n) : 0;
}

static int reply_error(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int reply_error(struct client *c, const char *fmt, ...)
{
	char line[KVMMIG_CTL_LINE_MAX];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "error ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	/* One line whatever the message holds. */
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	strcat(line, "\n");
	return write_all(c->fd, line, strlen(line));
}

/* Reads one request line into @line (NUL-terminated, no newline); 0 at EOF, <0 on error. */
static int read_line(struct client *c, char *line)
{
	for (;;) {
		int r = vmm_ctl_take_line(c->buf, &c->len, line);
		ssize_t n;

		if (r)
			return r;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
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
		ssize_t n = recv(c->fd, dst + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		done += n;
	}
	return 0;
}

static bool vm_is_paused(struct vmm_vm *vm)
{
	enum vmm_vm_state s = vmm_vm_get_state(vm);

	return s == VMM_VM_PAUSED || s == VMM_VM_INCOMING;
}

static int cmd_restore_state(struct vmm_control *ctl, struct client *c, uint64_t len)
{
	char err[512] = "";
	uint8_t *blob;
	int ret;

	blob = malloc(len ? len : 1);
	if (!blob)
		return reply_error(c, "restore-state: out of memory");
	ret = read_payload(c, blob, len);
	if (ret) {
		free(blob);
		return ret; /* the client went away: nothing to answer */
	}
	ret = vmm_state_restore(ctl->vm, blob, len, err, sizeof(err));
	free(blob);
	if (ret) {
		vmm_log("restore-state rejected: %s", err[0] ? err : strerror(-ret));
		return reply_error(c, "%s", err[0] ? err : strerror(-ret));
	}
	vmm_debug("state restored (%llu bytes)", (unsigned long long)len);
	return reply_ok(c, NULL, 0);
}

/*
 * check-cpuid <length>, then <length> bytes of "cpuid F I EAX EBX ECX EDX"
 * lines (as status prints them): can this host give a guest that CPUID?
 * The handshake of a migration asks before any memory moves.
 */
static int cmd_check_cpuid(struct vmm_control *ctl, struct client *c, uint64_t len)
{
	struct kvm_cpuid2 *cpuid, *own;
	char err[512] = "", *text;
	int ret;

	text = malloc(len + 1);
	cpuid = calloc(1, sizeof(*cpuid) + KVMMIG_STATE_MAX_CPUID * sizeof(cpuid->entries[0]));
	own = calloc(1, sizeof(*own) + KVMMIG_STATE_MAX_CPUID * sizeof(own->entries[0]));
	if (!text || !cpuid || !own) {
		free(text), free(cpuid), free(own);
		return reply_error(c, "check-cpuid: out of memory");
	}
	ret = read_payload(c, (uint8_t *)text, len);
	if (ret) {
		free(text), free(cpuid), free(own);
		return ret;
	}
	text[len] = '\0';
	vmm_ctl_parse_cpuid_lines(text, cpuid, KVMMIG_STATE_MAX_CPUID);
	/* The CPUID this VMM gave vCPU 0 (no vCPU ioctl: it would wait for KVM_RUN). */
	own->nent = 0;
	if (ctl->vm->cpuid0 && ctl->vm->cpuid0->nent <= KVMMIG_STATE_MAX_CPUID) {
		own->nent = ctl->vm->cpuid0->nent;
		memcpy(own->entries, ctl->vm->cpuid0->entries,
		       own->nent * sizeof(own->entries[0]));
	}
	ret = vmm_cpuid_check_supported(ctl->vm->kvm_fd, own, cpuid, err, sizeof(err));
	free(text), free(cpuid), free(own);
	if (ret)
		return reply_error(c, "%s", err[0] ? err : strerror(-ret));
	return reply_ok(c, NULL, 0);
}

static int handle_request(struct vmm_control *ctl, struct client *c, char *line, bool *quit)
{
	struct vmm_vm *vm = ctl->vm;
	struct vmm_ctl_request req;
	char err[512];
	int ret;

	if (vmm_ctl_parse_request(line, &req, err, sizeof(err)))
		return reply_error(c, "%s", err);
	switch (req.command) {
	case VMM_CTL_STATUS: {
		char *text = vmm_vm_status_text(vm, ctl->guest_kind);

		if (!text)
			return reply_error(c, "status: out of memory");
		ret = reply_ok(c, text, strlen(text));
		free(text);
		return ret;
	}
	case VMM_CTL_PAUSE:
		if (vmm_vm_get_state(vm) == VMM_VM_STOPPING)
			return reply_error(c, "the VM is stopping");
		vmm_vm_pause(vm);
		return reply_ok(c, NULL, 0);
	case VMM_CTL_RESUME:
		ret = vmm_vm_resume(vm);
		if (ret == -ENODATA)
			return reply_error(c, "incoming VM has no state yet: restore-state first");
		if (ret)
			return reply_error(c, "the VM is stopping");
		return reply_ok(c, NULL, 0);
	case VMM_CTL_SAVE_STATE: {
		uint8_t *blob;
		size_t size;

		if (!vm_is_paused(vm))
			return reply_error(c, "save-state needs a paused VM: pause first");
		ret = vmm_state_save(vm, req.version, &blob, &size);
		if (ret == -ENODATA)
			return reply_error(c,
					   "save-state: VM '%s' is incoming: it waits for its state and "
					   "has none to save (restore-state and resume it first)",
					   vm->name);
		if (ret == -EPROTONOSUPPORT)
			return reply_error(c, "save-state: this VMM writes state versions %d to %d, not %u",
					   KVMMIG_STATE_VERSION_MIN, KVMMIG_STATE_VERSION, req.version);
		if (ret)
			return reply_error(c, "save-state failed: %s", strerror(-ret));
		ret = reply_ok(c, blob, size);
		free(blob);
		return ret;
	}
	case VMM_CTL_RESTORE_STATE:
		return cmd_restore_state(ctl, c, req.payload_len);
	case VMM_CTL_CHECK_CPUID:
		return cmd_check_cpuid(ctl, c, req.payload_len);
	case VMM_CTL_SAVE_MEMORY:
		if (!vm_is_paused(vm))
			return reply_error(c, "save-memory needs a paused VM: pause first");
		ret = vmm_memory_save(vm, req.path);
		if (ret)
			return reply_error(c, "unable to save memory to %s: %s", req.path,
					   strerror(-ret));
		return reply_ok(c, NULL, 0);
	case VMM_CTL_DIGEST: {
		char hex[24];

		if (!vm_is_paused(vm))
			return reply_error(c, "digest needs a paused or incoming VM: pause first");
		snprintf(hex, sizeof(hex), "%016llx",
			 (unsigned long long)vmm_memory_digest(vm));
		return reply_ok(c, hex, strlen(hex));
	}
	case VMM_CTL_DIRTY_LOG:
		ret = vmm_vm_set_dirty_logging(vm, req.on);
		if (ret)
			return reply_error(c, "KVM refused to switch dirty logging %s: %s",
					   req.on ? "on" : "off", strerror(-ret));
		return reply_ok(c, NULL, 0);
	case VMM_CTL_KVMMIG_FD:
		/*
		 * The authority over this VM's migrations (the /dev/kvmmig
		 * file that attached it) goes to whoever reached this 0600
		 * socket: it is already as powerful as the VMM itself.
		 */
		if (vm->kvmmig_fd < 0)
			return reply_error(c,
					   "VM '%s' is not attached to kvmmig (load the module "
					   "before starting the VMM)",
					   vm->name);
		return reply_ok_fd(c, vm->kvmmig_fd);
	case VMM_CTL_QUIT:
		*quit = true;
		return reply_ok(c, NULL, 0);
	}
	return reply_error(c, "request not served"); /* not reached: every command is above */
}

static void serve_client(struct vmm_control *ctl, int fd)
{
	struct timeval timeout = {.tv_sec = CLIENT_TIMEOUT_SECONDS};
	struct client *c = calloc(1, sizeof(*c));
	char *line = malloc(KVMMIG_CTL_LINE_MAX);
	bool quit = false;

	if (!c || !line)
		goto out;
	c->fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	while (!quit) {
		int r = read_line(c, line);

		if (r == -EMSGSIZE) {
			reply_error(c, "request line longer than %d bytes", KVMMIG_CTL_LINE_MAX);
			break;
		}
		if (r <= 0)
			break;
		if (handle_request(ctl, c, line, &quit) < 0)
			break;
	}
	if (quit)
		vmm_vm_request_stop(ctl->vm, 0, "quit requested on the control socket");
out:
	free(line);
	free(c);
	close(fd);
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
		if (fd < 0)
			continue;
		__atomic_store_n(&ctl->client_fd, fd, __ATOMIC_SEQ_CST);
		serve_client(ctl, fd);
		__atomic_store_n(&ctl->client_fd, -1, __ATOMIC_SEQ_CST);
	}
	return NULL;
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
		     const char *guest_kind)
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
	ctl->listen_fd = ctl->stop_fd = ctl->client_fd = -1;
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

	int client;

	if (!ctl)
		return;
	/* An idle client must not hold the exit up. */
	client = __atomic_load_n(&ctl->client_fd, __ATOMIC_SEQ_CST);
	if (client >= 0)
		shutdown(client, SHUT_RDWR);
	if (write(ctl->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(ctl->thread, NULL);
	unlink(ctl->path);
	close(ctl->listen_fd);
	close(ctl->stop_fd);
	free(ctl);
}

const char *vmm_control_path(const struct vmm_control *ctl)
{
	return ctl->path;
}
