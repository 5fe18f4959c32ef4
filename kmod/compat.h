/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h: every kernel-version difference kvmmig.ko knows about, and the
 * only place allowed to test LINUX_VERSION_CODE. Force-included into every
 * file by Kbuild; core code tests the KVMMIG_HAVE_* feature flags below.
 */
#ifndef KVMMIG_COMPAT_H
#define KVMMIG_COMPAT_H

#include <linux/version.h>

/*
 * Supported: 6.1 (Debian 12), 6.12 (Debian 13, bookworm-backports), 7.x
 * (trixie-backports' 7.3, sid's 7.2). 6.2..6.11 and other 7.x build but are
 * not tested. Below 6.1 the module lacks what it needs
 * (Documentation/kvmmig.rst, "Kernel facts"); 8.0 and later are refused
 * until someone checks them.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(8, 0, 0)
#error "kvmmig supports Linux 6.1 to 7.x (Debian 12's 6.1, Debian 13's 6.12, trixie-backports' 7.3); see README.md, supported kernels"
#endif

/*
 * The module reaches KVM only through the VM file's ioctl op and KVM's
 * public structures: no vfs_ioctl() (7.x no longer exports it) and no
 * file_is_kvm() (7.x exports it to kvm-amd/kvm-intel only) on any kernel.
 * It tells a VM file by its anon-inode name and owner instead: KVM sets the
 * owner of its files' fops to the vendor module (kvm_amd, kvm_intel) since
 * upstream's "KVM: Set file_operations.owner appropriately for all such
 * structures" (6.10); before, it left it NULL. Seen in test hosts: NULL on
 * 6.1, kvm_amd on 6.12 and 7.3. (No header shows it: by version.)
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define KVMMIG_KVM_FOPS_OWNED 1
#else
#define KVMMIG_KVM_FOPS_OWNED 0
#endif

/*
 * Zero-copy page send. 6.5 removed kernel_sendpage() in favour of
 * sendmsg(MSG_SPLICE_PAGES) with a bvec iterator. Debian's 6.1 stable
 * defines MSG_SPLICE_PAGES too, but its TCP silently copies such a bvec, so
 * the flag's presence proves nothing: decide by version, here only.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define KVMMIG_HAVE_SPLICE_PAGES 1
#else
#define KVMMIG_HAVE_KERNEL_SENDPAGE 1
#endif

#ifdef KVMMIG_HAVE_KERNEL_SENDPAGE
#include <net/inet_connection_sock.h>
/*
 * Whether 6.1's kernel_sendpage() may carry a run of pages with
 * MSG_SENDPAGE_NOTLAST: on plain TCP yes; on kernel TLS (a ULP socket) no.
 * There tls_push_sg() hands a record that just filled to do_tcp_sendpages()
 * with the caller's flags, NOTLAST keeps TCP from pushing it, and
 * tls_sw_do_sendpage() then sleeps in sk_stream_wait_memory() without
 * pushing: with sk_sndbuf below what TCP holds back (memory pressure
 * shrinks it: sk_stream_moderate_sndbuf()) and every byte sent already
 * acknowledged, no ACK ever wakes it. Without NOTLAST every page would end
 * its own record (four times the records to encrypt, push, receive and
 * decrypt), so kernel TLS on 6.1 takes the pages through the copying
 * kernel_sendmsg() instead, whose 16 KiB records are pushed when they
 * fill, as 6.5+ does for spliced pages.
 */
static inline bool kvmmig_sendpage_safe(struct sock *sk)
{
	return !inet_csk_has_ulp(sk);
}
#endif

/* get_user_pages_remote() lost its vmas argument in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define kvmmig_gup_remote(mm, addr, nr, flags, pages, locked) \
	get_user_pages_remote(mm, addr, nr, flags, pages, locked)
#else
#define kvmmig_gup_remote(mm, addr, nr, flags, pages, locked) \
	get_user_pages_remote(mm, addr, nr, flags, pages, NULL, locked)
#endif

/*
 * Memslot address spaces (x86: 1 is SMM). KVM_ADDRESS_SPACE_NUM became
 * KVM_MAX_NR_ADDRESS_SPACES in 6.8; both come from <linux/kvm_host.h> and
 * expand where used.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define KVMMIG_NR_ADDRESS_SPACES KVM_MAX_NR_ADDRESS_SPACES
#else
#define KVMMIG_NR_ADDRESS_SPACES KVM_ADDRESS_SPACE_NUM
#endif

#endif /* KVMMIG_COMPAT_H */
