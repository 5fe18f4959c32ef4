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
 * hugetlbfs (kvmmig-vm --hugepages: a memfd with MFD_HUGETLB) tells its
 * holes the same way, at huge-page granularity; it has no write_iter, so
 * received pages go through the mapping. Its page-cache index of an
 * address is linear_page_index() on every kernel: until 6.7 that counted
 * huge pages for a hugetlb VMA (linear_hugepage_index()), since upstream's
 * "mm/filemap: remove hugetlb special casing in filemap.c" both count base
 * pages, a huge folio filling 2^order slots. Only shared mappings: the
 * pages of a private one are anonymous copies the page cache never sees.
 *
 * Anonymous or other file memory is never treated either way: callers fall
 * back to the mapping.
 */
#include <linux/fs.h>
#include <linux/hugetlb.h>
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

/* A shared mapping whose file's page cache holds every page written. */
static bool vma_tells_holes(struct vm_area_struct *vma)
{
	return vma_is_shared_tmpfs(vma) ||
	       (is_vm_hugetlb_page(vma) && vma->vm_file &&
		(vma->vm_flags & VM_SHARED));
}

static bool is_hole(struct address_space *mapping,
		    struct vm_area_struct *vma, unsigned long uaddr)
{
	return !xa_load(&mapping->i_pages, linear_page_index(vma, uaddr));
}

/*
 * The length of the run that starts at @uaddr whose pages are all holes
 * (*hole = true, at most @npages pages) or all not (*hole = false, at most
 * @max_data pages: the caller's batch; scanning further would be repeated
 * for every batch of a long run). The caller holds @mm's mmap lock; the
 * answer is exact for as long as nobody else writes the memory (the
 * destination) or is caught by the dirty log (the source).
 */
u32 kvmmig_hole_run(struct mm_struct *mm, unsigned long uaddr, u32 npages,
		    u32 max_data, bool *hole)
{
	struct vm_area_struct *vma = vma_lookup(mm, uaddr);
	struct address_space *mapping;
	u32 i;

	*hole = false;
	if (!vma || !vma_tells_holes(vma))
		return min(npages, max_data);
	npages = min_t(unsigned long, npages, (vma->vm_end - uaddr) >> PAGE_SHIFT);
	mapping = vma->vm_file->f_mapping;
	*hole = is_hole(mapping, vma, uaddr);
	/*
	 * A run of tmpfs holes ends at the next entry the page cache holds
	 * (base-page indices): one search, not a lookup per page (a sparse
	 * 64 GiB guest is 16 million of them).
	 */
	if (*hole && vma_is_shared_tmpfs(vma)) {
		pgoff_t index = linear_page_index(vma, uaddr), next = index + 1;

		if (npages == 1 ||
		    !xa_find(&mapping->i_pages, &next, index + npages - 1, XA_PRESENT))
			return npages;
		return clamp_t(pgoff_t, next - index, 1, npages);
	}
	if (!*hole)
		npages = min(npages, max_data);
	for (i = 1; i < npages; i++)
		if (is_hole(mapping, vma, uaddr + ((unsigned long)i << PAGE_SHIFT)) != *hole)
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

/*
 * RAM-file mode (KVMMIG_SESSION_RAM_FILE): does @mm map the whole of
 * @file's inode at @base, from offset 0, shared and writable? The
 * destination writes file offset X at @base + X only while it does. The
 * caller holds @mm's mmap lock.
 */
bool kvmmig_maps_file_whole(struct mm_struct *mm, struct file *file,
			    unsigned long base)
{
	struct vm_area_struct *vma = vma_lookup(mm, base);
	loff_t size = PAGE_ALIGN(i_size_read(file_inode(file)));

	return vma && vma_is_shared_tmpfs(vma) && (vma->vm_flags & VM_WRITE) &&
	       file_inode(vma->vm_file) == file_inode(file) &&
	       linear_page_index(vma, base) == 0 && size &&
	       vma->vm_end - base >= size;
}
