/* qemuctl.c: a QEMU's VM attached to kvmmig, and its migration over QMP (qemuctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/kvmmig.h>

#include "ctl/qemuctl.h"
#include "ctl/qemuproc.h"

int qemu_attach(const struct qmp *q, int incoming, char *why, size_t len)
{
	struct kvmmig_attach attach = {.flags = incoming ? KVMMIG_ATTACH_INCOMING : 0};
	int vm_fd, fd, err;

	if (!q->pid) {
		snprintf(why, len,
			 "QEMU's pid is unknown (the QMP socket gave no peer credentials)");
		return -ESRCH;
	}
	vm_fd = qemu_proc_vm_fd(q->pid);
	if (vm_fd < 0) {
		snprintf(why, len,
			 "cannot take QEMU's VM file (pid %d, pidfd_getfd): %s: run as root",
			 (int)q->pid, strerror(-vm_fd));
		return vm_fd;
	}
	fd = open("/dev/" KVMMIG_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		close(vm_fd);
		snprintf(why, len, "cannot open /dev/" KVMMIG_DEVICE_NAME " (%s): modprobe kvmmig",
			 strerror(-err));
		return err;
	}
	attach.vm_fd = vm_fd;
	snprintf(attach.name, sizeof(attach.name), "qemu-%d", (int)q->pid);
	if (ioctl(fd, KVMMIG_ATTACH, &attach) < 0) {
		err = -errno;
		close(fd);
		close(vm_fd);
		snprintf(why, len, "kvmmig refused QEMU's VM (pid %d): %s", (int)q->pid,
			 err == -EALREADY ? "it is attached already (another migration?)"
					  : strerror(-err));
		return err;
	}
	/* The module holds the VM file from here on; the authority is @fd. */
	close(vm_fd);
	return fd;
}

/*
 * Both sides: x-ignore-shared (guest RAM is kvmmig's). The source:
 * pause-before-switchover (kvmmig's final round and the verify pass run
 * there). The destination: late-block-activate, so that its QEMU takes its
 * disks (their locks, their writes) only at `cont` on GO, not on loading
 * the state: a source that resumes after the destination loaded (no
 * LOADED or no GO came through, wire.h) gets its disks back. Not return-path,
 * which would let the source's QEMU complete only once the destination's
 * had loaded the device state: after a migration with it was cancelled
 * (the tool's guard, a link cut in the final round), the same QEMU exited
 * at its next migration, 7.2 and 10.0 alike ("Unable to write to socket:
 * Bad file descriptor", "Unable to shutdown socket": tests/kmod/qemu.sh,
 * December 2026), the guest with it.
 */
int qemu_set_caps(struct qmp *q, int source)
{
	json_t *caps = json_pack("[{s:s, s:b}]", "capability", "x-ignore-shared", "state", 1);

	json_array_append_new(caps, json_pack("{s:s, s:b}", "capability",
					      source ? "pause-before-switchover"
						     : "late-block-activate",
					      "state", 1));
	return qmp_execute(q, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps),
			   NULL);
}

int qemu_migrate_status(struct qmp *q, char *status, size_t len, unsigned long long *ram_total)
{
	json_t *r = NULL, *ram;
	const char *s = "none";
	int err = qmp_execute(q, "query-migrate", NULL, &r);

	if (err)
		return err;
	if (json_is_string(json_object_get(r, "status")))
		s = json_string_value(json_object_get(r, "status"));
	snprintf(status, len, "%s", s);
	if (ram_total) {
		ram = json_object_get(json_object_get(r, "ram"), "total");
		*ram_total = json_is_integer(ram) ? json_integer_value(ram) : 0;
	}
	json_decref(r);
	return 0;
}

int qemu_wait_status(struct qmp *q, const char *want, unsigned int timeout_ms, char *status,
		     size_t len)
{
	struct timespec tick = {.tv_nsec = 2000000};
	unsigned int waited_us = 0;
	int err;

	for (;;) {
		err = qemu_migrate_status(q, status, len, NULL);
		if (err)
			return err;
		if (!strcmp(status, want))
			return 0;
		if (!strcmp(status, "failed") || !strcmp(status, "cancelled") ||
		    !strcmp(status, "completed"))
			return -EIO;
		if (waited_us / 1000 >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&tick, NULL);
		waited_us += tick.tv_nsec / 1000;
	}
}

int qemu_run_state(struct qmp *q, char *status, size_t len)
{
	json_t *r = NULL;
	int err = qmp_execute(q, "query-status", NULL, &r);

	if (err)
		return err;
	snprintf(status, len, "%s",
		 json_is_string(json_object_get(r, "status"))
		     ? json_string_value(json_object_get(r, "status"))
		     : "unknown");
	json_decref(r);
	return 0;
}

int qemu_cancel_and_resume(struct qmp *q, int cancel, int was_running)
{
	char status[64], state[64];

	if (cancel) {
		qmp_execute(q, "migrate_cancel", NULL, NULL);
		qemu_wait_status(q, "cancelled", 10000, status, sizeof(status));
	}
	if (!was_running || qemu_run_state(q, state, sizeof(state)) || !strcmp(state, "running"))
		return 0;
	return qmp_execute(q, "cont", NULL, NULL);
}

int qemu_exited(const struct qmp *q)
{
	char path[64], line[512], *paren;
	int exited;
	FILE *f;

	if (q->pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)q->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT;
	/* "pid (comm) S ...": the state follows the last parenthesis. */
	exited = fgets(line, sizeof(line), f) && (paren = strrchr(line, ')')) &&
		 (paren[1] == ' ') && (paren[2] == 'Z' || paren[2] == 'X');
	fclose(f);
	return exited;
}

/* query-dirty-rate: 1 while measuring in dirty-bitmap mode, with the seconds left; else 0. */
static int measuring(struct qmp *q, int *left_s)
{
	json_t *r = NULL;
	const char *status = "", *mode = "";
	json_int_t start = 0, calc = 0, now;
	struct timespec mono;
	int ret;

	ret = qmp_execute(q, "query-dirty-rate", NULL, &r);
	if (ret)
		return ret;
	json_unpack(r, "{s?s, s?s, s?I, s?I}", "status", &status, "mode", &mode, "start-time",
		    &start, "calc-time", &calc);
	ret = !strcmp(status, "measuring") && !strcmp(mode, "dirty-bitmap");
	/*
	 * start-time, in seconds: QEMU 10.0's is the wall clock, 7.2's its
	 * QEMU_CLOCK_REALTIME, which is CLOCK_MONOTONIC (this host's: ours).
	 */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	now = time(NULL);
	if (start < now - 86400LL * 365)
		now = mono.tv_sec;
	*left_s = (int)(start + calc - now);
	if (ret && (*left_s < 0 || *left_s > calc))
		*left_s = 0; /* a clock we cannot read: too late to count on it */
	json_decref(r);
	return ret;
}

int qemu_dirty_logging_on(struct qmp *q, int calc_s, int min_left_s, int *left_s)
{
	int ret, i;

	ret =
	    qmp_execute(q, "calc-dirty-rate",
			json_pack("{s:i, s:s}", "calc-time", calc_s, "mode", "dirty-bitmap"), NULL);
	if (ret == -EREMOTEIO && measuring(q, left_s) == 1) {
		if (*left_s >= min_left_s)
			return 0;
		/* Too short to count on: let it end, then start one of our own. */
		for (i = 0; i <= calc_s + 5 && measuring(q, left_s) == 1; i++)
			sleep(1);
		ret = qmp_execute(
		    q, "calc-dirty-rate",
		    json_pack("{s:i, s:s}", "calc-time", calc_s, "mode", "dirty-bitmap"), NULL);
	}
	if (ret)
		return ret;
	for (i = 0; i < 500; i++) {
		ret = measuring(q, left_s);
		if (ret < 0)
			return ret;
		if (ret) {
			*left_s = calc_s; /* just started: its start-time has second granularity */
			return 0;
		}
		usleep(10000);
	}
	snprintf(q->error, sizeof(q->error), "QEMU's calc-dirty-rate did not start measuring");
	return -ETIMEDOUT;
}
