// SPDX-License-Identifier: GPL-2.0
/*
 * memfd.c: guest memory a VMM maps shared from a memfd (tmpfs), as
 * kvmmig-vm does, handled through its file rather than its mapping.
 *
 * Holes: a page the guest never wrote has no page at all. Reading it
 * through the mapping yields zeros, but only after a fault allocates and
 * clears a page for it: the sender would pay that to find the page is zero,
 * and the receiver to check that a ZERO record's page is zero, each making
 * a sparse guest fully resident. A hole is known without touching it: the
 * file's page cache has no entry at its index (a swapped-out page leaves a
 * swap entry, a present one its folio; either is not a hole).
 *
 * Writes: a received page copied into the mapping first faults in a page
 * and clears it, then overwrites it. Written through the file, tmpfs
 * allocates the page without clearing what the write fills, and no fault
 * is taken.
 *
 * Anonymous or other file memory is never treated either way: callers fall
 * back to the mapping.
 */
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/xarray.h>

#include "memfd.h"

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

/*
 * The memfd behind [@uaddr, @uaddr + @len), with a reference, and the file
 * offset of @uaddr in *@pos; NULL unless the whole range is one shared
 * tmpfs mapping the VMM may write, inside the file's size (a write there
 * must never grow the file). The caller holds @mm's mmap lock and fput()s
 * the file.
 */
struct file *kvmmig_memfd_range(struct mm_struct *mm, unsigned long uaddr,
				size_t len, loff_t *pos)
{
	struct vm_area_struct *vma = vma_lookup(mm, uaddr);

	if (!vma || !vma_is_shared_tmpfs(vma) || !(vma->vm_flags & VM_WRITE) ||
	    len > vma->vm_end - uaddr)
		return NULL;
	*pos = (loff_t)linear_page_index(vma, uaddr) << PAGE_SHIFT;
	*pos += offset_in_page(uaddr);
	if (*pos + len > i_size_read(file_inode(vma->vm_file)))
		return NULL;
	return get_file(vma->vm_file);
}
