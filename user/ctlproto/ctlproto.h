/* ctlproto.h: the protocol of a VMM's control socket, shared by the VMM library and kvmmig-ctl. */
#ifndef KVMMIG_CTLPROTO_H
#define KVMMIG_CTLPROTO_H

/*
 * Where: a Unix stream socket at "$KVMMIG_RUN_DIR/<name>.sock", the run
 * directory defaulting to /run/kvmmig. The directory is 0700 and the socket
 * 0600: the control socket is as powerful as the VMM itself.
 *
 * Requests are one text line, "<command> [<arg>...]\n", at most
 * KVMMIG_CTL_LINE_MAX bytes including the newline. A connection may carry any
 * number of requests, one at a time: the server answers each before reading
 * the next. Up to 16 connections are served at once, each on its own; the
 * requests run one at a time in the order they are complete, so that a
 * slow client never delays another's pause. A request, its line and any
 * payload, must arrive within 5 s of the answer to the previous one (of
 * the connection, for the first): else the server logs it and hangs up.
 * Every answer starts with one text line:
 *
 *	"ok <length>\n"    followed by exactly <length> bytes of payload
 *	"error <message>\n" nothing follows; the message is for humans
 *
 * Commands (payloads are text unless said otherwise):
 *
 *	status		payload: "key value..." lines, see below.
 *	pause		every vCPU is out of KVM_RUN with pending I/O completed;
 *			idempotent. Payload empty.
 *	resume		runs the vCPUs again. In incoming mode only after a
 *			successful restore-state. Payload empty.
 *	save-state	paused only, never incoming (a VM waiting for its
 *			state has none to save). Payload: the binary state blob
 *			(user/vmm/state.h documents it).
 *	restore-state <length>
 *			incoming mode only (before the first resume). The request
 *			line is followed by exactly <length> bytes of state blob.
 *			The blob is checked whole before anything is applied.
 *	check-cpuid <length>
 *			followed by <length> (at most 65536) bytes of text: the
 *			"cpuid ..." lines as status prints them, and optionally
 *			the guest's "cpu-model NAME VERSION" and "tsc-khz KHZ"
 *			(user/common/cpuidtext.h; anything else, a leaf out of
 *			range or twice, or more than 256 leaves is refused as
 *			malformed). "ok" if this VM can take that guest: same
 *			model, same vendor, every feature bit, address width,
 *			XSAVE layout and size, TSC rate or scaling for an
 *			invariant TSC; else an error naming what differs (the
 *			leaf, register and bits for features).
 *	save-memory <name>
 *			paused only. Writes guest memory as a raw image (the
 *			memslots in slot order, each slot's bytes at its
 *			"memslot ... offset" in the file) into a new file <name>
 *			of the VMM's image directory (status: image-dir; chosen
 *			at its start, by default the run directory). <name> is
 *			a file name, not a path: 1 to 128 of [A-Za-z0-9._+-],
 *			not starting with '.', no "..". The file is created 0600
 *			with O_EXCL and O_NOFOLLOW: a name that exists, or is a
 *			symbolic link, is refused; remove it or give another.
 *	digest		paused or incoming only. Payload: 16 hex digits, a 64-bit
 *			digest of guest memory (user/vmm/digest.h), to prove two
 *			copies equal.
 *	dirty-log on|off
 *			switches KVM's dirty logging (KVM_MEM_LOG_DIRTY_PAGES)
 *			on or off for every memslot. The VMM owns its memslots:
 *			kvmmig-ctl asks for "on" before a migration and "off"
 *			when one fails; kvmmig.ko refuses to harvest a slot
 *			that is not logged. Payload empty.
 *	kvmmig-fd	answers "ok 0\n" and passes, in the same sendmsg, the
 *			VMM's /dev/kvmmig file (the one that attached the VM)
 *			as SCM_RIGHTS ancillary data: read the answer with
 *			recvmsg(). That file is the authority over the VM's
 *			migrations (include/uapi/linux/kvmmig.h, "authority"):
 *			kvmmig-ctl opens its migration session on it
 *			(KVMMIG_SESSION_OPEN), closes its copy, and cancels
 *			with it (KVMMIG_CANCEL). Whoever reaches this socket is
 *			already as powerful as the VMM. An error if the VM is
 *			not attached.
 *	throttle <percent>
 *			0 to 99: every vCPU sleeps that share of each period
 *			(kvmmig-vm: a 10 ms slice of running, then
 *			percent/(100-percent) slices asleep, as QEMU's
 *			cpu-throttle), from the next period on; 0 lifts it at
 *			once. The throttle belongs to the connection that asked:
 *			while it is open it may idle between requests (no 5 s
 *			limit), no other connection can change the throttle (an
 *			error), and when it closes the VMM lifts the throttle,
 *			so a client that dies leaves none. A pause never waits
 *			for a vCPU's sleep. kvmmig-ctl migrate --converge auto
 *			asks for it when the expected downtime stops falling.
 *			Refused by an incoming VM. Payload empty.
 *			"throttle <percent> <mask>" (0x and 1 to 16 hex
 *			digits, bit i for vCPU i) throttles only those vCPUs.
 *	dirty-limit <pages> [<mask>]
 *			A dirty-ring VM: each vCPU of <mask> (all without one)
 *			may dirty <pages> pages a second (0 to 10^12; 0 lifts
 *			it): after each reap of its ring it sleeps, at its next
 *			exit, until the pages it dirtied since the last reap fit
 *			the limit (QEMU's dirty-limit). Held, lifted and refused
 *			as the throttle is (one holder for both); refused by a
 *			VM without a dirty ring. Payload empty.
 *	quit		answers, then the VMM stops its vCPUs and exits with
 *			status 0.
 *
 * status keys, one per line, values separated by single spaces:
 *	name <name>
 *	pid <pid>
 *	state running|paused|incoming|stopping
 *	cpus <n>
 *	cpu-model <name> <version>	host, x86-64-v2, x86-64-v3 or x86-64-v4
 *	tsc-khz <kHz>		vCPU 0's TSC rate (absent if KVM cannot say)
 *	tsc-scaling yes|no	whether KVM can give a guest another TSC rate
 *	mem <bytes>
 *	memslot <slot> gpa 0x<hex> size 0x<hex> offset 0x<hex>	(one per slot)
 *	kvmmig attached|absent
 *	dirty-log on|off
 *	throttle <percent>	the vCPU throttle in force, 0 for none
 *	throttle-vcpus <mask>	the vCPUs it applies to, when not all
 *	dirty-limit <pages>	a dirty-ring VM: the dirty limit in force, 0 for none
 *	dirty-limit-vcpus <mask>	the vCPUs it applies to, while one is
 *	guest payload|linux|none
 *	cpuid <function> <index> <eax> <ebx> <ecx> <edx>	(vCPU 0, one per entry)
 *	image-dir <path>	where save-memory writes
 * Unknown keys may be added later: readers must skip them.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KVMMIG_CTL_LINE_MAX 4096
#define KVMMIG_CTL_DEFAULT_RUN_DIR "/run/kvmmig"
/* Largest blob a restore-state accepts: far above any real one. */
#define KVMMIG_CTL_MAX_PAYLOAD (64u << 20)

static inline const char *kvmmig_ctl_run_dir(void)
{
	const char *dir = getenv("KVMMIG_RUN_DIR");

	return dir && *dir ? dir : KVMMIG_CTL_DEFAULT_RUN_DIR;
}

/* Fills @buf with the control socket path of VM @name; -ENAMETOOLONG if it does not fit. */
static inline int kvmmig_ctl_socket_path(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s.sock", kvmmig_ctl_run_dir(), name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

#endif /* KVMMIG_CTLPROTO_H */
