/*
 * qemuguard.c: the guard of qemuguard.h. The child keeps only the pipe's
 * read end and stderr: the tool's sockets, QMP connection and kvmmig files
 * are closed in it, so a dead tool's connections end at once for the
 * destination and for kvmmig.ko, and QEMU accepts the guard's own QMP
 * connection. It ignores SIGINT, SIGHUP and SIGTERM: a ^C that stops the
 * tool must not stop the guard that restarts the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/qemuctl.h"
#include "ctl/qemuguard.h"
#include "ctl/qmp.h"

/* How long the guard tries to reach QMP once the tool's connection is gone. */
#define GUARD_CONNECT_MS 10000

static int migration_running(const char *status)
{
	return strcmp(status, "none") && strcmp(status, "completed") &&
	       strcmp(status, "failed") && strcmp(status, "cancelled");
}

/* The tool died: the guest runs on here. Returns the guard's exit status. */
static int resume_source(const char *qmp_path, int was_running)
{
	struct timespec tick = {.tv_nsec = 100000000};
	char status[64] = "unknown";
	struct qmp q;
	int err = -1;

	for (int waited = 0; waited < GUARD_CONNECT_MS; waited += 100) {
		err = qmp_open(&q, qmp_path, 2000);
		if (!err)
			break;
		nanosleep(&tick, NULL);
	}
	if (err) {
		fprintf(stderr,
			"kvmmig-ctl: the migration tool of QEMU guest %s died with the guest "
			"stopped, and its guard cannot reach QMP (%s): `migrate_cancel` and "
			"`cont` it by hand\n",
			qmp_path, q.error);
		return 1;
	}
	/*
	 * Resumed also after "completed": the destination runs the guest only
	 * on GO, which the tool sends after disarming this guard.
	 */
	if (qemu_cancel_and_resume(&q,
				   !qemu_migrate_status(&q, status, sizeof(status), NULL) &&
				       migration_running(status),
				   was_running)) {
		fprintf(stderr,
			"kvmmig-ctl: the migration tool of QEMU guest %s died; its guard "
			"cancelled QEMU's migration but `cont` failed (%s): check QEMU\n",
			qmp_path, q.error);
		qmp_close(&q);
		return 1;
	}
	fprintf(stderr,
		"kvmmig-ctl: the migration tool of QEMU guest %s died before the destination "
		"took the guest: QEMU's migration cancelled, the guest runs on at the source\n",
		qmp_path);
	qmp_close(&q);
	return 0;
}

static void guard_main(int rfd, const char *qmp_path, int was_running)
{
	char c;
	ssize_t n;

	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	do
		n = read(rfd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0); /* disarmed */
	_exit(resume_source(qmp_path, was_running));
}

int qemu_guard_arm(struct qemu_guard *g, const char *qmp_path, int was_running)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (!pid) {
		/* Only stderr and the pipe: everything else is the tool's. */
		if (dup2(p[0], 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0);
		guard_main(3, qmp_path, was_running);
	}
	close(p[0]);
	g->pid = pid;
	g->fd = p[1];
	return 0;
}

void qemu_guard_disarm(struct qemu_guard *g)
{
	if (!g->pid)
		return;
	/* Should the guard be gone already, there is nobody left to tell. */
	ssize_t n = write(g->fd, "d", 1);

	(void)n;
	close(g->fd);
	waitpid(g->pid, NULL, 0);
	g->pid = 0;
	g->fd = -1;
}
