// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c: the "kvmmig" generic netlink family: commands from kvmmig-ctl,
 * replies, and events on the "events" multicast group. Every operation and
 * the multicast group are admin-only.
 */
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <net/genetlink.h>

#include "netlink.h"
#include "registry.h"
#include "session.h"
#include "version.h"

static struct genl_family kvmmig_family;

static const struct nla_policy kvmmig_policy[KVMMIG_A_MAX + 1] = {
	[KVMMIG_A_VM_NAME] = { .type = NLA_NUL_STRING, .len = KVMMIG_NAME_MAX - 1 },
	[KVMMIG_A_SOCK_FD] = { .type = NLA_U32 },
	[KVMMIG_A_ROUND_FLAGS] = NLA_POLICY_MASK(NLA_U32, KVMMIG_ROUND_FLAGS_ALL),
};

enum kvmmig_mcgrp { KVMMIG_MCGRP_EVENTS_ID };

static const struct genl_multicast_group kvmmig_mcgrps[] = {
	[KVMMIG_MCGRP_EVENTS_ID] = {
		.name = KVMMIG_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static int put_stats(struct sk_buff *skb, int attr,
		     const struct kvmmig_stats *st)
{
	struct nlattr *nest = nla_nest_start(skb, attr);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, KVMMIG_STATS_A_ROUND, st->round) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_PAGES_DIRTY, st->pages_dirty,
			      KVMMIG_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_PAGES_SENT, st->pages_sent,
			      KVMMIG_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_PAGES_ZERO, st->pages_zero,
			      KVMMIG_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_BYTES, st->bytes,
			      KVMMIG_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_HARVEST_NS, st->harvest_ns,
			      KVMMIG_STATS_A_PAD) ||
	    nla_put_u64_64bit(skb, KVMMIG_STATS_A_SEND_NS, st->send_ns,
			      KVMMIG_STATS_A_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int put_vm(struct sk_buff *skb, struct kvmmig_vm *vm)
{
	struct kvmmig_vm_geometry geo;
	struct kvmmig_stats totals;
	struct nlattr *nest;
	bool has_totals;
	u32 state;

	kvmmig_vm_geometry(vm, &geo);
	spin_lock(&vm->stat_lock);
	state = vm->state;
	has_totals = vm->has_totals;
	totals = vm->totals;
	spin_unlock(&vm->stat_lock);

	nest = nla_nest_start(skb, KVMMIG_A_VM);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_string(skb, KVMMIG_VM_A_NAME, vm->name) ||
	    nla_put_u32(skb, KVMMIG_VM_A_PID, vm->tgid) ||
	    nla_put_u64_64bit(skb, KVMMIG_VM_A_MEM_BYTES, geo.mem_bytes,
			      KVMMIG_VM_A_PAD) ||
	    nla_put_u32(skb, KVMMIG_VM_A_MEMSLOTS, geo.memslots) ||
	    nla_put_u32(skb, KVMMIG_VM_A_STATE, state) ||
	    (has_totals && put_stats(skb, KVMMIG_VM_A_STATS, &totals))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int cmd_get_version(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kvmmig_family, 0,
				KVMMIG_CMD_GET_VERSION);
	if (!hdr)
		goto nospace;
	if (nla_put_string(msg, KVMMIG_A_VERSION, KVMMIG_VERSION) ||
	    nla_put_u32(msg, KVMMIG_A_PROTOCOL, KVMMIG_PROTOCOL_VERSION))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* GET_VM as a "do": one VM, named by KVMMIG_A_VM_NAME. */
static int cmd_get_vm(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmmig_vm *vm;
	struct sk_buff *msg;
	void *hdr;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, KVMMIG_A_VM_NAME))
		return -EINVAL;
	vm = kvmmig_vm_lookup(nla_data(info->attrs[KVMMIG_A_VM_NAME]));
	if (!vm) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KVMMIG_A_VM_NAME],
				    "no VM of that name is attached");
		return -ENOENT;
	}

	ret = -ENOMEM;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		goto out_put;
	ret = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &kvmmig_family, 0, KVMMIG_CMD_GET_VM);
	if (!hdr || put_vm(msg, vm)) {
		nlmsg_free(msg);
		goto out_put;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
out_put:
	kvmmig_vm_put(vm);
	return ret;
}

struct dump_ctx {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int dump_one_vm(struct kvmmig_vm *vm, void *arg)
{
	struct dump_ctx *ctx = arg;
	void *hdr;

	hdr = genlmsg_put(ctx->skb, NETLINK_CB(ctx->cb->skb).portid,
			  ctx->cb->nlh->nlmsg_seq, &kvmmig_family, NLM_F_MULTI,
			  KVMMIG_CMD_GET_VM);
	if (!hdr)
		return -EMSGSIZE;
	if (put_vm(ctx->skb, vm)) {
		genlmsg_cancel(ctx->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(ctx->skb, hdr);
	return 0;
}

/* GET_VM as a dump: every attached VM; cb->args[0] is the resume position. */
static int dump_get_vm(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_ctx ctx = { .skb = skb, .cb = cb };
	unsigned long pos = cb->args[0];
	int ret;

	ret = kvmmig_registry_walk(&pos, dump_one_vm, &ctx);
	cb->args[0] = pos;
	/* A full skb ends this part of the dump; the rest comes next call. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ? ret : skb->len;
}

void kvmmig_netlink_vm_event(struct kvmmig_vm *vm, u32 event)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&kvmmig_family, &init_net, KVMMIG_MCGRP_EVENTS_ID))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kvmmig_family, 0, KVMMIG_CMD_VM_EVENT);
	if (!hdr || nla_put_u32(msg, KVMMIG_A_EVENT, event) || put_vm(msg, vm)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&kvmmig_family, msg, 0, KVMMIG_MCGRP_EVENTS_ID,
			  GFP_KERNEL);
}

void kvmmig_netlink_round_event(struct kvmmig_vm *vm,
				const struct kvmmig_stats *st)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&kvmmig_family, &init_net, KVMMIG_MCGRP_EVENTS_ID))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &kvmmig_family, 0, KVMMIG_CMD_ROUND_EVENT);
	if (!hdr || nla_put_string(msg, KVMMIG_A_VM_NAME, vm->name) ||
	    put_stats(msg, KVMMIG_A_STATS, st)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&kvmmig_family, msg, 0, KVMMIG_MCGRP_EVENTS_ID,
			  GFP_KERNEL);
}

void kvmmig_extack_msg(struct netlink_ext_ack *extack, const char *msg)
{
	if (extack)
		extack->_msg = msg;
}

/* Looks up the VM a request names; sets extack and returns NULL if none. */
static struct kvmmig_vm *request_vm(struct genl_info *info)
{
	struct kvmmig_vm *vm;

	if (GENL_REQ_ATTR_CHECK(info, KVMMIG_A_VM_NAME))
		return NULL;
	vm = kvmmig_vm_lookup(nla_data(info->attrs[KVMMIG_A_VM_NAME]));
	if (!vm)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KVMMIG_A_VM_NAME],
				    "no VM of that name is attached");
	return vm;
}

static int session_start(struct genl_info *info, bool source)
{
	struct kvmmig_vm *vm;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, KVMMIG_A_SOCK_FD))
		return -EINVAL;
	vm = request_vm(info);
	if (!vm)
		return info->attrs[KVMMIG_A_VM_NAME] ? -ENOENT : -EINVAL;
	ret = kvmmig_session_start(vm, source,
				   nla_get_u32(info->attrs[KVMMIG_A_SOCK_FD]),
				   genl_info_net(info), info->snd_portid,
				   info->extack);
	kvmmig_vm_put(vm);
	return ret;
}

static int cmd_source_start(struct sk_buff *skb, struct genl_info *info)
{
	return session_start(info, true);
}

static int cmd_dest_start(struct sk_buff *skb, struct genl_info *info)
{
	return session_start(info, false);
}

static int reply_stats(struct genl_info *info, u8 cmd,
		       const struct kvmmig_stats *st)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &kvmmig_family, 0, cmd);
	if (!hdr || put_stats(msg, KVMMIG_A_STATS, st)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int cmd_source_round(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmmig_stats st;
	struct kvmmig_vm *vm;
	u32 flags = 0;
	int ret;

	vm = request_vm(info);
	if (!vm)
		return info->attrs[KVMMIG_A_VM_NAME] ? -ENOENT : -EINVAL;
	if (info->attrs[KVMMIG_A_ROUND_FLAGS])
		flags = nla_get_u32(info->attrs[KVMMIG_A_ROUND_FLAGS]);
	ret = kvmmig_session_round(vm, flags, &st, info->extack);
	kvmmig_vm_put(vm);
	return ret ? ret : reply_stats(info, KVMMIG_CMD_SOURCE_ROUND, &st);
}

static int session_stop(struct genl_info *info, enum kvmmig_stop_kind kind)
{
	struct kvmmig_vm *vm;
	int ret;

	vm = request_vm(info);
	if (!vm)
		return info->attrs[KVMMIG_A_VM_NAME] ? -ENOENT : -EINVAL;
	ret = kvmmig_session_stop(vm, kind, false);
	if (ret)
		kvmmig_extack_msg(info->extack, kind == KVMMIG_STOP_SOURCE ?
			       "no source migration session for this VM" :
			       "no destination migration session for this VM");
	kvmmig_vm_put(vm);
	return ret;
}

static int cmd_source_stop(struct sk_buff *skb, struct genl_info *info)
{
	return session_stop(info, KVMMIG_STOP_SOURCE);
}

static int cmd_dest_stop(struct sk_buff *skb, struct genl_info *info)
{
	return session_stop(info, KVMMIG_STOP_DEST);
}

static int cmd_dest_receive(struct sk_buff *skb, struct genl_info *info)
{
	struct kvmmig_stats st;
	struct kvmmig_vm *vm;
	int ret;

	vm = request_vm(info);
	if (!vm)
		return info->attrs[KVMMIG_A_VM_NAME] ? -ENOENT : -EINVAL;
	ret = kvmmig_session_receive(vm, &st, info->extack);
	kvmmig_vm_put(vm);
	return ret ? ret : reply_stats(info, KVMMIG_CMD_DEST_RECEIVE, &st);
}

/* A tool that exits (or is killed) takes the sessions it started along. */
static int netlink_release_event(struct notifier_block *nb,
				 unsigned long event, void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    n->portid)
		kvmmig_session_release_owner(n->net, n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block kvmmig_netlink_notifier = {
	.notifier_call = netlink_release_event,
};

static const struct genl_small_ops kvmmig_ops[] = {
	{
		.cmd = KVMMIG_CMD_GET_VERSION,
		.doit = cmd_get_version,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_GET_VM,
		.doit = cmd_get_vm,
		.dumpit = dump_get_vm,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_SOURCE_START,
		.doit = cmd_source_start,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_SOURCE_ROUND,
		.doit = cmd_source_round,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_SOURCE_STOP,
		.doit = cmd_source_stop,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_DEST_START,
		.doit = cmd_dest_start,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_DEST_RECEIVE,
		.doit = cmd_dest_receive,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = KVMMIG_CMD_DEST_STOP,
		.doit = cmd_dest_stop,
		.flags = GENL_ADMIN_PERM,
	},
};

static struct genl_family kvmmig_family __ro_after_init = {
	.name = KVMMIG_GENL_NAME,
	.version = KVMMIG_GENL_VERSION,
	.maxattr = KVMMIG_A_MAX,
	.policy = kvmmig_policy,
	.module = THIS_MODULE,
	/*
	 * Rounds and DEST_RECEIVE block for as long as the network takes:
	 * under genl_mutex they would stall every generic netlink user of
	 * the host (and our own SOURCE_START on loopback). Our handlers
	 * lock what they touch themselves.
	 */
	.parallel_ops = true,
	.small_ops = kvmmig_ops,
	.n_small_ops = ARRAY_SIZE(kvmmig_ops),
	.resv_start_op = KVMMIG_CMD_MAX + 1,
	.mcgrps = kvmmig_mcgrps,
	.n_mcgrps = ARRAY_SIZE(kvmmig_mcgrps),
};

int kvmmig_netlink_init(void)
{
	int ret;

	ret = genl_register_family(&kvmmig_family);
	if (ret)
		return ret;
	ret = netlink_register_notifier(&kvmmig_netlink_notifier);
	if (ret)
		genl_unregister_family(&kvmmig_family);
	return ret;
}

void kvmmig_netlink_uninit(void)
{
	netlink_unregister_notifier(&kvmmig_netlink_notifier);
	genl_unregister_family(&kvmmig_family);
}
