/* session.c: netlink requests that drive the module's migration sessions. */
#include <string.h>

#include "ctl/session.h"

static int parse_stats(struct nlattr **attrs, void *arg)
{
	struct nlattr *st[KVMMIG_STATS_A_MAX + 1];
	struct round_stats *s = arg;

	if (!s)
		return 0;
	if (!attrs[KVMMIG_A_STATS] ||
	    nla_parse_nested(st, KVMMIG_STATS_A_MAX, attrs[KVMMIG_A_STATS], NULL) < 0)
		return -EPROTO;
#define U64(a) (st[a] ? nla_get_u64(st[a]) : 0)
	s->round = st[KVMMIG_STATS_A_ROUND] ? nla_get_u32(st[KVMMIG_STATS_A_ROUND]) : 0;
	s->pages_dirty = U64(KVMMIG_STATS_A_PAGES_DIRTY);
	s->pages_sent = U64(KVMMIG_STATS_A_PAGES_SENT);
	s->pages_zero = U64(KVMMIG_STATS_A_PAGES_ZERO);
	s->bytes = U64(KVMMIG_STATS_A_BYTES);
	s->harvest_ns = U64(KVMMIG_STATS_A_HARVEST_NS);
	s->send_ns = U64(KVMMIG_STATS_A_SEND_NS);
#undef U64
	return 0;
}

static int call(struct kvmmig_nl *nl, int cmd, const char *vm, int sock, int flags,
		struct round_stats *st)
{
	struct nl_msg *msg = kvmmig_nl_msg(nl, cmd, 0);

	if (!msg)
		return -ENOMEM;
	if (nla_put_string(msg, KVMMIG_A_VM_NAME, vm) ||
	    (sock >= 0 && nla_put_u32(msg, KVMMIG_A_SOCK_FD, sock)) ||
	    (flags >= 0 && nla_put_u32(msg, KVMMIG_A_ROUND_FLAGS, flags))) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	if (st)
		memset(st, 0, sizeof(*st));
	return kvmmig_nl_call(nl, msg, parse_stats, st);
}

int session_source_start(struct kvmmig_nl *nl, const char *vm, int sock)
{
	return call(nl, KVMMIG_CMD_SOURCE_START, vm, sock, -1, NULL);
}

int session_source_round(struct kvmmig_nl *nl, const char *vm, uint32_t flags,
			 struct round_stats *st)
{
	return call(nl, KVMMIG_CMD_SOURCE_ROUND, vm, -1, flags, st);
}

int session_source_stop(struct kvmmig_nl *nl, const char *vm)
{
	return call(nl, KVMMIG_CMD_SOURCE_STOP, vm, -1, -1, NULL);
}

int session_dest_start(struct kvmmig_nl *nl, const char *vm, int sock)
{
	return call(nl, KVMMIG_CMD_DEST_START, vm, sock, -1, NULL);
}

int session_dest_receive(struct kvmmig_nl *nl, const char *vm, struct round_stats *st)
{
	return call(nl, KVMMIG_CMD_DEST_RECEIVE, vm, -1, -1, st);
}

int session_dest_stop(struct kvmmig_nl *nl, const char *vm)
{
	return call(nl, KVMMIG_CMD_DEST_STOP, vm, -1, -1, NULL);
}
