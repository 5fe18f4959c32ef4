/*
 * qemuguard.h: a source QEMU is never left stopped by a tool that died.
 *
 * From `migrate` on, QEMU holds the guest stopped at pre-switchover until
 * the tool says `migrate-continue`, and after that the destination runs the
 * guest only on the tool's GO. A tool killed in between (SIGKILL, a crash,
 * the OOM killer) would leave the guest running nowhere. So for that span a
 * guard process waits on a pipe only the tool writes: if the tool goes away
 * without disarming it, the guard cancels QEMU's migration over QMP and
 * `cont`s the guest at the source, and says so on stderr.
 */
#ifndef KVMMIG_CTL_QEMUGUARD_H
#define KVMMIG_CTL_QEMUGUARD_H

#include <sys/types.h>

struct qemu_guard {
	pid_t pid; /* 0: not armed */
	int fd;	   /* the pipe's write end */
};

/*
 * Forks the guard for the QEMU whose QMP socket is @qmp_path; @was_running:
 * whether the guest ran before the migration (a guest the user had paused
 * stays paused). Returns 0, or -errno (nothing armed).
 */
int qemu_guard_arm(struct qemu_guard *g, const char *qmp_path, int was_running);

/* The tool takes over again: the guard exits without touching QEMU. Idempotent. */
void qemu_guard_disarm(struct qemu_guard *g);

#endif /* KVMMIG_CTL_QEMUGUARD_H */
