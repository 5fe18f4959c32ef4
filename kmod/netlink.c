// SPDX-License-Identifier: GPL-2.0
/*
 * netlink.c: the "kvmmig" generic netlink family: observation only (the
 * version, the attached VMs and their numbers) and events on the "events"
 * multicast group. Every operation and the group are admin-only. Nothing
 * here starts, drives or waits for a migration: sessions are driven
 * through the VM's /dev/kvmmig file (invariants 8 and 10).
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
};

enum kvmmig_mcgrp { KVMMIG_MCGRP_EVENTS_ID };

static const struct genl_multicast_group kvmmig_mcgrps[] = {
	[KVMMIG_MCGRP_EVENTS_ID] = {
		.name = KVMMIG_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static int put_stats(struct sk_buff *skb, int attr,
		     const struct kvmmig_round_stats *st)
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
	struct kvmmig_round_stats totals;
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
				const struct kvmmig_round_stats *st)
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
};

static struct genl_family kvmmig_family __ro_after_init = {
	.name = KVMMIG_GENL_NAME,
	.version = KVMMIG_GENL_VERSION,
	.maxattr = KVMMIG_A_MAX,
	.policy = kvmmig_policy,
	.module = THIS_MODULE,
	/* Our handlers lock what they touch themselves, and never wait. */
	.parallel_ops = true,
	.small_ops = kvmmig_ops,
	.n_small_ops = ARRAY_SIZE(kvmmig_ops),
	.resv_start_op = KVMMIG_CMD_MAX + 1,
	.mcgrps = kvmmig_mcgrps,
	.n_mcgrps = ARRAY_SIZE(kvmmig_mcgrps),
};

int kvmmig_netlink_init(void)
{
	return genl_register_family(&kvmmig_family);
}

void kvmmig_netlink_uninit(void)
{
	genl_unregister_family(&kvmmig_family);
}
