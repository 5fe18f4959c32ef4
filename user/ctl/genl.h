/* genl.h: talking to kvmmig.ko's generic netlink family. */
#ifndef KVMMIG_CTL_GENL_H
#define KVMMIG_CTL_GENL_H

#include <errno.h>
#include <netlink/genl/genl.h>
#include <linux/kvmmig.h>

/*
 * How long a request waits for kvmmig.ko's answer, in seconds. Its handlers
 * never wait (invariant 10): beyond this the tool reports a module bug
 * rather than hang. The environment's KVMMIG_NL_ANSWER_SECS overrides it
 * (0: no limit; tests/kmod/async.sh). The events monitor (kvmmig-ctl debug
 * monitor) waits without limit.
 */
#define KVMMIG_NL_ANSWER_SECS 30

struct kvmmig_nl {
	struct nl_sock *sk;
	int family;
	char error[256]; /* the kernel's extended-ack message, if any */
	int answer_secs; /* the answer limit in force (0: none) */
};

/* Connects and resolves the family; prints a one-line reason on failure. */
int kvmmig_nl_open(struct kvmmig_nl *nl);
void kvmmig_nl_close(struct kvmmig_nl *nl);

/* A new request for @cmd; NLM_F_DUMP in @flags for dumps. */
struct nl_msg *kvmmig_nl_msg(struct kvmmig_nl *nl, int cmd, int flags);

/*
 * Sends @msg (and frees it), calls @on_reply for each reply message with its
 * parsed top-level attributes, waits for the ack. Returns 0 or -errno; on
 * error nl->error holds the kernel's message if it gave one.
 */
int kvmmig_nl_call(struct kvmmig_nl *nl, struct nl_msg *msg,
		   int (*on_reply)(struct nlattr **attrs, void *arg), void *arg);

/* The name of an &enum kvmmig_vm_state, as list and status show it. */
const char *vm_state_name(uint32_t state);

/* Prints "kvmmig-ctl: <what>: <reason>" for an error from kvmmig_nl_call. */
void kvmmig_nl_perror(const struct kvmmig_nl *nl, const char *what, int err);

#endif /* KVMMIG_CTL_GENL_H */
