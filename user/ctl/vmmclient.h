/* vmmclient.h: kvmmig-ctl's side of a VMM's control socket (user/ctlproto). */
#ifndef KVMMIG_CTL_VMMCLIENT_H
#define KVMMIG_CTL_VMMCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMM_MAX_SLOTS 32

struct vmm_memslot {
	uint32_t slot;
	uint64_t gpa, size;
};

struct vmm_status {
	char state[32]; /* running, paused, incoming, stopping */
	unsigned int cpus;
	uint64_t mem;
	unsigned int nslots;
	struct vmm_memslot slots[VMM_MAX_SLOTS];
	int attached;	   /* kvmmig attached */
	int dirty_log;	   /* the VMM logs its memslots now ("dirty-log on") */
	unsigned int state_version; /* newest state blob version it reads and writes (1 if unsaid) */
	unsigned int digest_version; /* newest memory digest it computes (1 if unsaid) */
	char cpuid[16384]; /* vCPU 0's "cpuid ..." lines, as the VMM prints them */
	char cpu_model[64]; /* "x86-64-v3 1": the model's name and version; "" if unsaid */
	unsigned int tsc_khz; /* vCPU 0's TSC rate; 0 if unsaid */
	unsigned int throttle; /* the vCPU throttle in force (percent); 0 for none or unsaid */
	unsigned int dirty_ring; /* entries per vCPU of KVM's dirty ring; 0: the bitmap */
};

/*
 * A VMM serves one control client at a time and drops idle ones, so each
 * request gets a connection of its own: a migration never holds the VMM
 * for minutes, and `status` works while one runs.
 */
struct vmm_conn {
	int fd;		 /* only during a request, or while a vmm_request_held() holds */
	char path[108];	 /* the control socket */
	char error[768]; /* the VMM's "error ..." message, if any */
};

/* Checks that VM @name's control socket answers; prints a one-line reason if not. */
int vmm_connect(struct vmm_conn *c, const char *name);
void vmm_close(struct vmm_conn *c);
/* The VMM's control socket is gone or refuses: the VMM process has exited. */
bool vmm_gone(struct vmm_conn *c);

/*
 * Sends @line (and @out_len bytes of @out after it), reads the answer. On
 * "ok" the payload is returned in *@in (malloc'ed, NUL-terminated) and its
 * length in *@in_len; on "error" returns -EREMOTEIO with c->error set.
 */
int vmm_request(struct vmm_conn *c, const char *line, const void *out, size_t out_len, char **in,
		size_t *in_len);

/*
 * "kvmmig-fd": the VMM's /dev/kvmmig file (the authority over its VM's
 * migrations), received with SCM_RIGHTS, close-on-exec, in *@fd. Returns 0
 * or -errno; -EREMOTEIO with c->error set when the VMM refused (not
 * attached, or a VMM that does not know the command).
 */
int vmm_kvmmig_fd(struct vmm_conn *c, int *fd);

/*
 * A request on a connection that stays open after it (c->fd), for state
 * the VMM keeps only while the connection lasts ("throttle"): the first
 * call connects, vmm_close() hangs up. On a refusal (-EREMOTEIO, c->error
 * set) the connection stays open; on any other error it is closed.
 */
int vmm_request_held(struct vmm_conn *c, const char *line);

/* Shorthands for requests without payloads. */
int vmm_simple(struct vmm_conn *c, const char *cmd);
int vmm_status(struct vmm_conn *c, struct vmm_status *st);

#endif /* KVMMIG_CTL_VMMCLIENT_H */
