/* qemuconfig.c: the configuration check of a QEMU guest (see qemuconfig.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/magic.h>

#include "ctl/peertext.h"
#include "ctl/qemuconfig.h"
#include "ctl/qemuproc.h"

#define SHM_HINT                                                                                   \
	"-object memory-backend-file,id=mem,mem-path=/dev/shm/NAME,size=SIZE,share=on -machine "   \
	"memory-backend=mem"

static void refuse(struct qemu_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (cfg->nrefusals == QEMU_MAX_REFUSALS)
		return;
	va_start(ap, fmt);
	vsnprintf(cfg->refusals[cfg->nrefusals++], sizeof(cfg->refusals[0]), fmt, ap);
	va_end(ap);
}

/* qom-get of @property of /objects/@id; a new reference, NULL on error. */
static json_t *qom_get(struct qmp *q, const char *path, const char *property)
{
	json_t *v;

	if (qmp_execute(q, "qom-get", json_pack("{s:s, s:s}", "path", path, "property", property),
			&v))
		return NULL;
	return v;
}

/* QEMU 8.1 and later ignore only named files (memory-backend-file). */
static int named_files_only(const struct qmp *q)
{
	return q->major > 8 || (q->major == 8 && q->minor >= 1);
}

static int check_backend(struct qmp *q, struct qemu_config *cfg, const char *id, const char *type)
{
	char path[300], name[160], mem_path[512] = "", shown_path[600], hint[600];
	json_t *share, *size, *v;
	const char *prefix = NULL;
	struct statfs fs;
	dev_t dev;
	ino_t ino;
	pid_t other;

	peer_text(name, sizeof(name), id);
	snprintf(path, sizeof(path), "/objects/%s", id);
	share = qom_get(q, path, "share");
	size = qom_get(q, path, "size");
	if (!json_is_boolean(share) || !json_is_integer(size)) {
		if (share && size)
			snprintf(q->error, sizeof(q->error),
				 "QEMU's memory backend '%s' has no boolean share or integer size",
				 name);
		json_decref(share);
		json_decref(size);
		return -EPROTO;
	}
	cfg->nbackends++;
	cfg->ram_bytes += json_integer_value(size);
	snprintf(hint, sizeof(hint), "use %s", SHM_HINT);

	if (!strcmp(type, "memory-backend-file")) {
		v = qom_get(q, path, "mem-path");
		if (json_is_string(v))
			snprintf(mem_path, sizeof(mem_path), "%s", json_string_value(v));
		json_decref(v);
		peer_text(shown_path, sizeof(shown_path), mem_path);
		prefix = mem_path;
		if (!json_is_true(share)) {
			refuse(cfg,
			       "guest RAM backend '%s' (memory-backend-file) is not shared, so "
			       "x-ignore-shared would not skip it: add share=on",
			       name);
		} else if (statfs(mem_path, &fs)) {
			refuse(cfg,
			       "guest RAM backend '%s': cannot check its mem-path %s (%s): run "
			       "kvmmig-ctl on QEMU's host, as root",
			       name, shown_path, strerror(errno));
		} else if (fs.f_type != TMPFS_MAGIC) {
			refuse(cfg,
			       "guest RAM backend '%s' has mem-path %s, which is not on tmpfs%s: "
			       "kvmmig moves shared memory files only; %s",
			       name, shown_path,
			       fs.f_type == HUGETLBFS_MAGIC ? " (hugetlbfs: huge pages)" : "",
			       hint);
			prefix = NULL;
		}
	} else if (!strcmp(type, "memory-backend-memfd")) {
		prefix = "/memfd:memory-backend-memfd";
		v = qom_get(q, path, "hugetlb");
		if (json_is_true(v)) {
			refuse(cfg,
			       "guest RAM backend '%s' is a memfd with hugetlb=on: kvmmig does not "
			       "move huge pages; %s",
			       name, hint);
			prefix = NULL;
		} else if (named_files_only(q)) {
			refuse(
			    cfg,
			    "guest RAM backend '%s' is memory-backend-memfd: QEMU %d.%d copies it "
			    "itself even with x-ignore-shared (since 8.1 it skips only "
			    "memory-backend-file); %s",
			    name, q->major, q->minor, hint);
			prefix = NULL;
		} else if (!json_is_true(share)) {
			refuse(cfg,
			       "guest RAM backend '%s' (memory-backend-memfd) has share=off: drop "
			       "share=off",
			       name);
			prefix = NULL;
		}
		json_decref(v);
	} else if (!strcmp(type, "memory-backend-ram")) {
		refuse(cfg,
		       "guest RAM backend '%s' is private anonymous memory "
		       "(memory-backend-ram%s): QEMU would copy it itself; %s",
		       name, strcmp(id, "pc.ram") ? "" : ", QEMU's default for -m", hint);
	} else {
		char t[80];

		refuse(cfg, "guest RAM backend '%s' is %s, which kvmmig does not move; %s", name,
		       peer_text(t, sizeof(t), type), hint);
	}

	/* Anyone else mapping that file writes guest RAM where no dirty log sees it. */
	if (prefix && json_is_true(share) && q->pid &&
	    !qemu_proc_ram_file(q->pid, prefix, json_integer_value(size), &dev, &ino)) {
		char comm[64], c[64];

		other = qemu_proc_other_mapper(q->pid, dev, ino, comm, sizeof(comm));
		if (other)
			refuse(cfg,
			       "guest RAM backend '%s' is also mapped by process %d (%s), e.g. a "
			       "vhost-user backend: its writes reach no dirty log; stop it or "
			       "use an in-QEMU device",
			       name, (int)other, peer_text(c, sizeof(c), comm));
	}
	json_decref(share);
	json_decref(size);
	return 0;
}

static int check_memory(struct qmp *q, struct qemu_config *cfg)
{
	json_t *objects, *o;
	size_t i;
	int ret;

	ret = qmp_execute(q, "qom-list", json_pack("{s:s}", "path", "/objects"), &objects);
	if (ret)
		return ret;
	json_array_foreach(objects, i, o)
	{
		const char *name, *type;
		char backend[128];

		if (json_unpack(o, "{s:s, s:s}", "name", &name, "type", &type) ||
		    sscanf(type, "child<%127[^>]>", backend) != 1 ||
		    strncmp(backend, "memory-backend-", 15))
			continue;
		ret = check_backend(q, cfg, name, backend);
		if (ret)
			break;
	}
	json_decref(objects);
	if (!ret && !cfg->nbackends)
		refuse(cfg, "QEMU shows no memory backend for guest RAM: %s", SHM_HINT);
	return ret;
}

static int check_migration(struct qmp *q, struct qemu_config *cfg)
{
	int ignore_shared = 0, ret;
	const char *status = NULL;
	json_t *caps, *c, *mig;
	size_t i;

	ret = qmp_execute(q, "query-migrate", NULL, &mig);
	if (ret)
		return ret;
	json_unpack(mig, "{s?s}", "status", &status);
	if (status && strcmp(status, "completed") && strcmp(status, "failed") &&
	    strcmp(status, "cancelled") && strcmp(status, "none")) {
		char s[40];

		refuse(cfg, "QEMU is migrating already (status %s): wait for it or migrate_cancel",
		       peer_text(s, sizeof(s), status));
	}
	json_decref(mig);

	ret = qmp_execute(q, "query-migrate-capabilities", NULL, &caps);
	if (ret)
		return ret;
	json_array_foreach(caps, i, c)
	{
		const char *name;
		int state;

		if (json_unpack(c, "{s:s, s:b}", "capability", &name, "state", &state))
			continue;
		if (!strcmp(name, "x-ignore-shared"))
			ignore_shared = 1;
		if (!strcmp(name, "postcopy-ram") && state)
			refuse(cfg,
			       "migration capability postcopy-ram is on: pages would move after "
			       "the switchover; migrate-set-capabilities postcopy-ram off");
	}
	json_decref(caps);
	if (!ignore_shared)
		refuse(cfg,
		       "QEMU %d.%d has no migration capability x-ignore-shared: use QEMU 7.2 "
		       "or later",
		       q->major, q->minor);
	return 0;
}

static int check_kvm(struct qmp *q, struct qemu_config *cfg)
{
	struct qemu_vcpus v;
	int enabled = 0, ret, fd;
	json_t *kvm;

	ret = qmp_execute(q, "query-kvm", NULL, &kvm);
	if (ret)
		return ret;
	json_unpack(kvm, "{s:b}", "enabled", &enabled);
	json_decref(kvm);
	if (!enabled) {
		refuse(cfg, "QEMU does not run the guest with KVM: start it with -accel kvm");
		return 0;
	}
	if (!q->pid || qemu_proc_vcpus(q->pid, &v)) {
		refuse(cfg,
		       "cannot read QEMU's mappings (/proc/%d/maps) to rule out KVM's dirty "
		       "ring: run kvmmig-ctl on QEMU's host, as root",
		       (int)q->pid);
		return 0;
	}
	if (!v.mapped) {
		refuse(cfg,
		       "process %d behind the QMP socket maps no KVM vCPU: is it QEMU, on "
		       "this host?",
		       (int)q->pid);
		return 0;
	}
	/* kvmmig-ctl will attach QEMU's VM by this file: can it take it? */
	fd = qemu_proc_vm_fd(q->pid);
	if (fd < 0)
		refuse(cfg,
		       "cannot take QEMU's KVM VM file (pidfd_getfd of anon_inode:kvm-vm in "
		       "/proc/%d/fd: %s): run kvmmig-ctl as root, with ptrace access to QEMU",
		       (int)q->pid, strerror(-fd));
	else
		close(fd);
	if (v.rings)
		refuse(cfg,
		       "QEMU uses KVM's dirty ring (%u of %u vCPUs): kvmmig harvests the dirty "
		       "bitmap; start QEMU without -accel kvm,dirty-ring-size",
		       v.rings, v.mapped);
	return 0;
}

/*
 * System Management Mode: with it, KVM gets SMRAM memslots in address space
 * 1, which kvmmig.ko refuses (their writes are not harvested). QEMU's
 * x86_machine_is_smm_enabled(): "auto" is on when KVM offers SMM.
 */
static int check_smm(struct qmp *q, struct qemu_config *cfg)
{
	const char *smm;
	json_t *v;
	int on, fd;

	if (qmp_execute(q, "qom-get",
			json_pack("{s:s, s:s}", "path", "/machine", "property", "smm"), &v))
		return 0; /* not an x86 machine: no SMM */
	smm = json_string_value(v);
	on = !smm || strcmp(smm, "off");
	if (on && smm && !strcmp(smm, "auto")) {
		fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			refuse(cfg,
			       "the machine has smm=auto and /dev/kvm does not say whether KVM "
			       "offers System Management Mode (%s): run as root, or add smm=off to "
			       "-machine",
			       strerror(errno));
			on = 0;
		} else {
			on = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_X86_SMM) > 0;
			close(fd);
		}
	}
	if (on)
		refuse(cfg,
		       "the machine has System Management Mode (smm=%s): KVM then holds SMRAM in "
		       "address space 1, which kvmmig does not move; add smm=off to -machine",
		       smm && !strcmp(smm, "on") ? "on" : "auto");
	json_decref(v);
	return 0;
}

/* Devices in QEMU's QOM tree whose type names vhost-user. */
static int check_vhost_user(struct qmp *q, struct qemu_config *cfg)
{
	static const char *const containers[] = {"/machine/peripheral", "/machine/peripheral-anon"};
	json_t *list, *o, *hmp;
	size_t i, k;
	int ret;

	for (k = 0; k < 2; k++) {
		ret = qmp_execute(q, "qom-list", json_pack("{s:s}", "path", containers[k]), &list);
		if (ret == -EREMOTEIO)
			continue; /* no such container: no device of that kind */
		if (ret)
			return ret;
		json_array_foreach(list, i, o)
		{
			const char *name, *type;
			char n[80], t[80], device[128];

			if (!json_unpack(o, "{s:s, s:s}", "name", &name, "type", &type) &&
			    sscanf(type, "child<%127[^>]>", device) == 1 &&
			    strstr(device, "vhost-user"))
				refuse(
				    cfg,
				    "device '%s' is %s: a vhost-user backend writes guest RAM "
				    "from another process, where no dirty log sees it; remove it",
				    peer_text(n, sizeof(n), name), peer_text(t, sizeof(t), device));
			else if (!json_unpack(o, "{s:s, s:s}", "name", &name, "type", &type) &&
				 sscanf(type, "child<%127[^>]>", device) == 1 &&
				 strstr(device, "vfio"))
				refuse(cfg,
				       "device '%s' is %s: a passed-through device writes guest RAM "
				       "by DMA, which no tracker sees and which runs on after QEMU "
				       "stops; remove it",
				       peer_text(n, sizeof(n), name), peer_text(t, sizeof(t), device));
		}
		json_decref(list);
	}
	/* Netdevs are no QOM objects: HMP's "info network" names their types. */
	ret = qmp_execute(q, "human-monitor-command",
			  json_pack("{s:s}", "command-line", "info network"), &hmp);
	if (ret)
		return ret;
	if (json_is_string(hmp) && strstr(json_string_value(hmp), "type=vhost-user"))
		refuse(cfg, "a netdev is vhost-user: its backend writes guest RAM from another "
			    "process, where no dirty log sees it; use -netdev tap");
	json_decref(hmp);
	return 0;
}

int qemu_config_check(struct qmp *q, struct qemu_config *cfg)
{
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = check_kvm(q, cfg);
	if (!ret)
		ret = check_migration(q, cfg);
	if (!ret)
		ret = check_memory(q, cfg);
	if (!ret)
		ret = check_smm(q, cfg);
	if (!ret)
		ret = check_vhost_user(q, cfg);
	return ret ? ret : (int)cfg->nrefusals;
}
