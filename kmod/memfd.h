/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KVMMIG_MEMFD_H
#define KVMMIG_MEMFD_H

#include <linux/types.h>

struct file;
struct mm_struct;

u32 kvmmig_hole_run(struct mm_struct *mm, unsigned long uaddr, u32 npages,
		    u32 max_data, bool *hole);
struct file *kvmmig_memfd_range(struct mm_struct *mm, unsigned long uaddr,
				size_t len, loff_t *pos);
bool kvmmig_maps_file_whole(struct mm_struct *mm, struct file *file,
			    unsigned long base);

#endif /* KVMMIG_MEMFD_H */
