/* qemuproc.c: a QEMU's vCPU and RAM mappings, from /proc (see qemuproc.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <asm/kvm.h> /* KVM_DIRTY_LOG_PAGE_OFFSET */

#include "ctl/qemuproc.h"

struct map_line {
	uint64_t start, end, offset;
	char perms[8];
	unsigned int major, minor;
	unsigned long inode;
	char path[4096];
};

/* "start-end perms offset maj:min inode   path"; path may be empty. */
static int parse_map_line(const char *line, struct map_line *m)
{
	int n = 0;

	m->path[0] = '\0';
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %lu %n", &m->start, &m->end,
		   m->perms, &m->offset, &m->major, &m->minor, &m->inode, &n) < 7)
		return -1;
	snprintf(m->path, sizeof(m->path), "%s", line + n);
	m->path[strcspn(m->path, "\n")] = '\0';
	return 0;
}

static FILE *open_maps(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	return fopen(path, "re");
}

int qemu_proc_vcpus(pid_t pid, struct qemu_vcpus *v)
{
	uint64_t ring_offset = (uint64_t)KVM_DIRTY_LOG_PAGE_OFFSET * sysconf(_SC_PAGESIZE);
	struct map_line m;
	char line[4200];
	FILE *f = open_maps(pid);

	memset(v, 0, sizeof(*v));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (parse_map_line(line, &m) || strncmp(m.path, "anon_inode:kvm-vcpu:", 20))
			continue;
		if (m.offset == 0)
			v->mapped++;
		else if (m.offset == ring_offset)
			v->rings++;
	}
	fclose(f);
	return 0;
}

int qemu_proc_ram_file(pid_t pid, const char *path_prefix, uint64_t size, dev_t *dev, ino_t *ino)
{
	struct map_line m;
	char line[4200];
	FILE *f = open_maps(pid);
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (parse_map_line(line, &m) || m.perms[3] != 's' || m.end - m.start != size ||
		    strncmp(m.path, path_prefix, strlen(path_prefix)))
			continue;
		*dev = makedev(m.major, m.minor);
		*ino = m.inode;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static int maps_file(pid_t pid, dev_t dev, ino_t ino)
{
	struct map_line m;
	char line[4200];
	FILE *f = open_maps(pid);
	int found = 0;

	if (!f)
		return 0; /* gone, or a kernel thread */
	while (!found && fgets(line, sizeof(line), f))
		found =
		    !parse_map_line(line, &m) && m.inode == ino && makedev(m.major, m.minor) == dev;
	fclose(f);
	return found;
}

pid_t qemu_proc_other_mapper(pid_t pid, dev_t dev, ino_t ino, char *comm, size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t other = 0;

	if (!d)
		return 0;
	while (!other && (e = readdir(d))) {
		pid_t p;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		p = atoi(e->d_name);
		if (p != pid && maps_file(p, dev, ino))
			other = p;
	}
	closedir(d);
	if (other) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", (int)other);
		snprintf(comm, len, "?");
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, len, f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
	}
	return other;
}

/*
 * The fd number of the first anon_inode:kvm-vm in /proc/@pid/fd, or
 * -ENOENT; with @count, how many there are.
 */
static int find_vm_fd(pid_t pid, int *count)
{
	char dir[64], link[64 + sizeof(((struct dirent *)0)->d_name)], target[64];
	struct dirent *e;
	int found = -ENOENT, n_vm = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((count || found < 0) && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:kvm-vm"))
			continue;
		if (found < 0)
			found = atoi(e->d_name);
		n_vm++;
	}
	closedir(d);
	if (count)
		*count = n_vm;
	return found;
}

int qemu_proc_vm_fd(pid_t pid)
{
	int target = find_vm_fd(pid, NULL), pidfd, fd;

	if (target < 0)
		return target;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return -errno;
	fd = pidfd_getfd(pidfd, target, 0);
	if (fd < 0)
		fd = -errno;
	close(pidfd);
	return fd;
}

void qemu_proc_describe(pid_t pid, char *buf, size_t len)
{
	char path[64], line[256], state[64] = "?", threads[32] = "?";
	int vm_files = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(buf, len, "QEMU pid %d: %s", (int)pid, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "State:", 6))
			snprintf(state, sizeof(state), "%s", line + 6 + strspn(line + 6, " \t"));
		else if (!strncmp(line, "Threads:", 8))
			snprintf(threads, sizeof(threads), "%s", line + 8 + strspn(line + 8, " \t"));
	}
	fclose(f);
	find_vm_fd(pid, &vm_files);
	snprintf(buf, len, "QEMU pid %d: state %s, %s threads, %d VM file(s)", (int)pid, state,
		 threads, vm_files);
}
