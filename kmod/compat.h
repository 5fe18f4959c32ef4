/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h: every kernel-version difference kvmmig.ko knows about, and the
 * only place allowed to test LINUX_VERSION_CODE. Force-included into every
 * file by Kbuild; core code tests the KVMMIG_HAVE_* feature flags below.
 */
#ifndef KVMMIG_COMPAT_H
#define KVMMIG_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "kvmmig supports Linux 6.1 to 6.12 (Debian 12 and bookworm-backports)"
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

/* get_user_pages_remote() lost its vmas argument in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define kvmmig_gup_remote(mm, addr, nr, flags, pages, locked) \
	get_user_pages_remote(mm, addr, nr, flags, pages, locked)
#else
#define kvmmig_gup_remote(mm, addr, nr, flags, pages, locked) \
	get_user_pages_remote(mm, addr, nr, flags, pages, NULL, locked)
#endif

#endif /* KVMMIG_COMPAT_H */
