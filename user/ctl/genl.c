/* genl.c: requests to kvmmig.ko over generic netlink, with real errnos. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netlink/genl/ctrl.h>
#include <linux/netlink.h>

#include "ctl/genl.h"

#define LOAD_HINT "load it with 'modprobe kvmmig' (or 'insmod kvmmig.ko' from a build)"

/* KVMMIG_NL_ANSWER_SECS, or the environment's (genl.h). */
static int answer_secs(void)
{
	const char *env = getenv("KVMMIG_NL_ANSWER_SECS");
	char *end;
	long secs;

	if (!env || !*env)
		return KVMMIG_NL_ANSWER_SECS;
	secs = strtol(env, &end, 10);
	return *end || secs < 0 || secs > 3600 ? KVMMIG_NL_ANSWER_SECS : (int)secs;
}

int kvmmig_nl_open(struct kvmmig_nl *nl)
{
	int one = 1;
	int ret;

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		fprintf(stderr, "kvmmig-ctl: unable to allocate a netlink socket\n");
		return -ENOMEM;
	}
	ret = genl_connect(nl->sk);
	if (ret < 0) {
		fprintf(stderr, "kvmmig-ctl: unable to connect to generic netlink: %s\n",
			nl_geterror(ret));
		goto err;
	}
	/* Ask for the kernel's own words along with errors. */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	/* kvmmig's handlers never wait (invariant 10): a silent module is a bug, not a wait. */
	nl->answer_secs = answer_secs();
	setsockopt(nl_socket_get_fd(nl->sk), SOL_SOCKET, SO_RCVTIMEO,
		   &(struct timeval){.tv_sec = nl->answer_secs}, sizeof(struct timeval));

	nl->family = genl_ctrl_resolve(nl->sk, KVMMIG_GENL_NAME);
	if (nl->family < 0) {
		if (nl->family == -NLE_OBJ_NOTFOUND)
			fprintf(stderr, "kvmmig-ctl: the kvmmig kernel module is not loaded: %s\n",
				LOAD_HINT);
		else
			fprintf(stderr,
				"kvmmig-ctl: unable to find the kvmmig netlink family: %s\n",
				nl_geterror(nl->family));
		ret = -ENOENT;
		goto err;
	}
	return 0;
err:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return ret < 0 ? ret : -EIO;
}

void kvmmig_nl_close(struct kvmmig_nl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

struct nl_msg *kvmmig_nl_msg(struct kvmmig_nl *nl, int cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags, cmd,
			 KVMMIG_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct call_ctx {
	struct kvmmig_nl *nl;
	int (*on_reply)(struct nlattr **attrs, void *arg);
	void *arg;
	int err; /* -errno from the kernel or a reply handler */
	int done;
};

static int on_valid(struct nl_msg *msg, void *data)
{
	struct call_ctx *ctx = data;
	struct nlattr *attrs[KVMMIG_A_MAX + 1];
	int ret;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, attrs, KVMMIG_A_MAX, NULL);
	if (ret < 0) {
		ctx->err = -EPROTO;
		return NL_STOP;
	}
	if (ctx->on_reply) {
		ret = ctx->on_reply(attrs, ctx->arg);
		if (ret < 0) {
			ctx->err = ret;
			return NL_STOP;
		}
	}
	return NL_OK;
}

/* Keeps the errno and the extended-ack message (NLMSGERR_ATTR_MSG). */
static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *data)
{
	struct call_ctx *ctx = data;
	struct nlmsghdr *hdr = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);

	(void)nla;
	ctx->err = e->error;
	ctx->done = 1;
	if (hdr->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(hdr->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if (hdr->nlmsg_len >= NLMSG_HDRLEN + off &&
		    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
			      hdr->nlmsg_len - NLMSG_HDRLEN - off, NULL) == 0 &&
		    tb[NLMSGERR_ATTR_MSG])
			snprintf(ctx->nl->error, sizeof(ctx->nl->error), "%s",
				 (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	}
	return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *data)
{
	struct call_ctx *ctx = data;

	(void)msg;
	ctx->done = 1;
	return NL_STOP;
}

int kvmmig_nl_call(struct kvmmig_nl *nl, struct nl_msg *msg,
		   int (*on_reply)(struct nlattr **attrs, void *arg), void *arg)
{
	struct call_ctx ctx = {.nl = nl, .on_reply = on_reply, .arg = arg};
	struct nl_cb *cb;
	int ret;

	nl->error[0] = '\0';
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_finish, &ctx);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, &ctx);

	nlmsg_hdr(msg)->nlmsg_flags |= NLM_F_ACK;
	ret = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		nl_cb_put(cb);
		return -EIO;
	}
	while (!ctx.done && !ctx.err) {
		ret = nl_recvmsgs(nl->sk, cb);
		if (ret < 0 && !ctx.err) {
			ctx.err = ret == -NLE_PERM ? -EPERM : ret == -NLE_AGAIN ? -ETIMEDOUT : -EIO;
			if (ctx.err == -ETIMEDOUT)
				snprintf(nl->error, sizeof(nl->error),
					 "kvmmig.ko did not answer in %d s (a module bug: its kernel "
					 "log and 'echo w > /proc/sysrq-trigger' show where it waits)",
					 nl->answer_secs);
			break;
		}
	}
	nl_cb_put(cb);
	return ctx.err;
}

void kvmmig_nl_perror(const struct kvmmig_nl *nl, const char *what, int err)
{
	const char *reason = nl->error[0] ? nl->error : strerror(-err);

	if (err == -EPERM)
		fprintf(stderr, "kvmmig-ctl: %s: %s (kvmmig is driven by root only: run as root)\n",
			what, reason);
	else
		fprintf(stderr, "kvmmig-ctl: %s: %s\n", what, reason);
}
