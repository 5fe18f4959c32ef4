/*
 * nl-drop.c: an LD_PRELOAD library that loses every generic netlink request
 * but the controller's (family lookups), as a module that never answers
 * would: tests/kmod/async.sh proves with it that kvmmig-ctl gives up after
 * its answer limit (KVMMIG_NL_ANSWER_SECS) instead of hanging, and hangs
 * with the limit off. Built as build/tests/nl-drop.so.
 */
#include <dlfcn.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* A request to a generic netlink family other than nlctrl on @fd. */
static int lost(int fd, const void *buf, size_t len)
{
	const struct nlmsghdr *h = buf;
	int proto = -1;
	socklen_t plen = sizeof(proto);

	if (len < sizeof(*h) || getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) ||
	    proto != NETLINK_GENERIC)
		return 0;
	return h->nlmsg_type != GENL_ID_CTRL;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	size_t len = 0;

	if (!real)
		real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		len += msg->msg_iov[i].iov_len;
	if (msg->msg_iovlen && lost(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len))
		return (ssize_t)len;
	return real(fd, msg, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *,
				    socklen_t))dlsym(RTLD_NEXT, "sendto");
	if (lost(fd, buf, len))
		return (ssize_t)len;
	return real(fd, buf, len, flags, to, tolen);
}
