/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KVMMIG_HOLES_H
#define KVMMIG_HOLES_H

#include <linux/types.h>

struct mm_struct;

u32 kvmmig_hole_run(struct mm_struct *mm, unsigned long uaddr, u32 npages,
		    bool *hole);

#endif /* KVMMIG_HOLES_H */
