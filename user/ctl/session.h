/* session.h: the module's source and destination sessions, as calls. */
#ifndef KVMMIG_CTL_SESSION_H
#define KVMMIG_CTL_SESSION_H

#include <stdint.h>

#include "ctl/genl.h"

struct round_stats {
	uint32_t round;
	uint64_t pages_dirty, pages_sent, pages_zero, bytes, harvest_ns, send_ns;
};

/* Each returns 0 or -errno; nl->error carries the kernel's reason. */
int session_source_start(struct kvmmig_nl *nl, const char *vm, int sock);
int session_source_round(struct kvmmig_nl *nl, const char *vm, uint32_t flags,
			 struct round_stats *st);
int session_source_stop(struct kvmmig_nl *nl, const char *vm);
int session_dest_start(struct kvmmig_nl *nl, const char *vm, int sock);
int session_dest_receive(struct kvmmig_nl *nl, const char *vm, struct round_stats *st);
int session_dest_stop(struct kvmmig_nl *nl, const char *vm);

#endif /* KVMMIG_CTL_SESSION_H */
