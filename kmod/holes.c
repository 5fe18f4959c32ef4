// SPDX-License-Identifier: GPL-2.0
/*
 * holes.c: guest pages that were never allocated. Guest memory a VMM maps
 * shared from a memfd (tmpfs) has no page at all where the guest never
 * wrote: reading such a hole yields zeros, but only after a fault allocates
 * and clears a page for it. The sender would pay that to find the page is
 * zero, and the receiver to check that a ZERO record's page is zero, each
 * making a sparse guest fully resident. A hole is known without touching
 * it: the file's page cache has no entry at its index (a swapped-out page
 * leaves a swap entry, a present one its folio; either is not a hole).
 * Anonymous or other file memory is never taken for a hole.
 */
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/xarray.h>

#include "holes.h"

static bool vma_is_shared_tmpfs(struct vm_area_struct *vma)
{
	struct file *file = vma->vm_file;

	return file && (vma->vm_flags & VM_SHARED) &&
	       file_inode(file)->i_sb->s_magic == TMPFS_MAGIC;
}

/*
 * The length of the run that starts at @uaddr (at most @npages pages) whose
 * pages are all holes (*hole = true) or all not (*hole = false). The caller
 * holds @mm's mmap lock; the answer is exact for as long as nobody else
 * writes the memory (the destination) or is caught by the dirty log (the
 * source).
 */
u32 kvmmig_hole_run(struct mm_struct *mm, unsigned long uaddr, u32 npages,
		    bool *hole)
{
	struct vm_area_struct *vma = vma_lookup(mm, uaddr);
	struct address_space *mapping;
	pgoff_t index;
	u32 i;

	*hole = false;
	if (!vma || !vma_is_shared_tmpfs(vma))
		return npages;
	npages = min_t(unsigned long, npages, (vma->vm_end - uaddr) >> PAGE_SHIFT);
	mapping = vma->vm_file->f_mapping;
	index = linear_page_index(vma, uaddr);
	*hole = !xa_load(&mapping->i_pages, index);
	for (i = 1; i < npages; i++)
		if (!xa_load(&mapping->i_pages, index + i) != *hole)
			break;
	return i;
}
