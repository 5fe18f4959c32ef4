/*
 * qemuctl.h: what migrate --qemu and incoming --qemu ask of a QEMU: its VM
 * attached to kvmmig, migration capabilities, the migration's status.
 */
#ifndef KVMMIG_CTL_QEMUCTL_H
#define KVMMIG_CTL_QEMUCTL_H

#include <stddef.h>

#include "ctl/qmp.h"

/*
 * Takes QEMU's VM file (pidfd_getfd) and attaches it to kvmmig (as
 * incoming for an empty destination): returns the /dev/kvmmig fd that is
 * the authority over it, or -errno with @why.
 */
int qemu_attach(const struct qmp *q, int incoming, char *why, size_t len);

/* migrate-set-capabilities: x-ignore-shared, and pause-before-switchover at the source. */
int qemu_set_caps(struct qmp *q, int source);

/*
 * query-migrate's status into @status ("none" before any); with @ram_total
 * not NULL, its ram.total (0 when absent). 0 or -errno (q->error).
 */
int qemu_migrate_status(struct qmp *q, char *status, size_t len, unsigned long long *ram_total);

/*
 * Polls query-migrate until the status is @want or one that ends the
 * migration (failed, cancelled, completed when not wanted), for up to
 * @timeout_ms. 0 when @want was reached; -EIO (status in @status) or
 * -ETIMEDOUT otherwise.
 */
int qemu_wait_status(struct qmp *q, const char *want, unsigned int timeout_ms, char *status,
		     size_t len);

/*
 * KVM dirty logging on, through QEMU (which owns its memslots):
 * calc-dirty-rate in dirty-bitmap mode for @calc_s seconds, or the one
 * already measuring so (a migration tried and given up a moment ago) if
 * at least @min_left_s seconds of it are left (else it waits for that one
 * to end and starts its own). Returns 0 once QEMU measures, with the
 * seconds left of it in *@left_s.
 */
int qemu_dirty_logging_on(struct qmp *q, int calc_s, int min_left_s, int *left_s);

/* query-status' status ("running", "paused", "inmigrate", ...). 0 or -errno. */
int qemu_run_state(struct qmp *q, char *status, size_t len);

/*
 * A source QEMU whose migration failed or was abandoned: with @cancel,
 * migrate_cancel and up to 10 s for QEMU to end its migration; then, if
 * the guest ran before (@was_running) and does not now, `cont`. Returns 0,
 * or -errno with q->error set when `cont` failed.
 */
int qemu_cancel_and_resume(struct qmp *q, int cancel, int was_running);

/*
 * 1 if the QEMU at the other end of @q (its pid from SO_PEERCRED) has
 * exited, a zombie or reaped: a guest that is running nowhere. 0 when it
 * lives or its pid is unknown.
 */
int qemu_exited(const struct qmp *q);

#endif /* KVMMIG_CTL_QEMUCTL_H */
