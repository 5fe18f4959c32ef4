/*
 * qemuproc.h: what QMP does not say about a QEMU on this host, read from
 * /proc (root, or QEMU's own user): KVM's dirty ring is in use when a vCPU
 * file is mapped at KVM_DIRTY_LOG_PAGE_OFFSET (QEMU maps the ring there only
 * when KVM enabled it: the kernel's word, not QEMU's command line), and who
 * else maps guest RAM (a vhost-user backend, or anything else that writes
 * it behind KVM's dirty log).
 */
#ifndef KVMMIG_CTL_QEMUPROC_H
#define KVMMIG_CTL_QEMUPROC_H

#include <stdint.h>
#include <sys/types.h>

struct qemu_vcpus {
	unsigned int mapped; /* vCPU files mapped (kvm_run) */
	unsigned int rings;  /* of which with a dirty ring mapped */
};

/* Reads /proc/@pid/maps. Returns 0, or -errno (no such process, no access). */
int qemu_proc_vcpus(pid_t pid, struct qemu_vcpus *v);

/*
 * The file behind a guest RAM backend of @size bytes in QEMU @pid: the
 * shared mapping of that size whose path starts with @path_prefix
 * ("/memfd:memory-backend-memfd", or the backend's mem-path). Returns 0
 * with its device and inode, -ENOENT when there is none.
 */
int qemu_proc_ram_file(pid_t pid, const char *path_prefix, uint64_t size, dev_t *dev, ino_t *ino);

/*
 * The first process other than @pid that maps the file (@dev, @ino):
 * returns its pid and copies its name (comm) to @comm, or 0 when none does.
 */
pid_t qemu_proc_other_mapper(pid_t pid, dev_t dev, ino_t ino, char *comm, size_t len);

/*
 * QEMU's KVM VM file, taken from process @pid with pidfd_getfd() (root, or
 * ptrace access to QEMU): the fd shown as anon_inode:kvm-vm in
 * /proc/@pid/fd. Returns the new fd (close-on-exec), -ENOENT when QEMU has
 * none, or -errno (EPERM: no ptrace access).
 */
int qemu_proc_vm_fd(pid_t pid);

/*
 * For a failure that says QEMU is gone or going: "QEMU pid N: State: ...,
 * Threads: N, VM files: N" from /proc/@pid, or "QEMU pid N: no such
 * process", in @buf.
 */
void qemu_proc_describe(pid_t pid, char *buf, size_t len);

#endif /* KVMMIG_CTL_QEMUPROC_H */
