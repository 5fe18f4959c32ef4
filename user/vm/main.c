/* main.c: kvmmig-vm, the reference VMM: options, VM setup, the main loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/kvmmig-vm.h"
#include "vmm/attach.h"
#include "vmm/control.h"
#include "vmm/cpuid.h"
#include "vmm/vmm.h"

struct options {
	char name[KVMMIG_NAME_MAX];
	uint64_t mem_bytes;
	uint64_t hugepage_bytes;
	uint32_t dirty_ring;
	bool unsafe_dirty_ring_drop;
	int ncpus;
	const struct cpu_model *cpu_model;
	const char *kernel;
	const char *initrd;
	const char *append;
	const char *payload;
	const char *console;
	const char *control;
	const char *mem_file;
	const char *image_dir;
	bool incoming;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: kvmmig-vm [--name NAME] [--mem SIZE] [--hugepages 2M|1G] [--cpus N] [--cpu MODEL]\n"
	    "                 [--dirty-ring ENTRIES]\n"
	    "                 (--payload FILE | --kernel BZIMAGE [--initrd FILE]) [--append TEXT]\n"
	    "                 [--console stdio|none|file:PATH] [--control PATH] [--image-dir DIR]\n"
	    "                 [-v]\n"
	    "       kvmmig-vm --incoming [--mem-file IMAGE] [--name NAME] [--mem SIZE]\n"
	    "                 [--hugepages 2M|1G] [--cpus N] [--cpu MODEL] [--console ...]\n"
	    "                 [--control PATH]\n"
	    "                 [--image-dir DIR] [-v]\n"
	    "       kvmmig-vm --print-supported-cpuid\n"
	    "MODEL: host (the default), x86-64-v2, x86-64-v3, x86-64-v4.\n"
	    "See kvmmig-vm(8).\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'G':
	case 'g':
		v <<= 10;
		/* fallthrough */
	case 'M':
	case 'm':
		v <<= 10;
		/* fallthrough */
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 0:
		v <<= 20; /* plain numbers are MiB, as in kvmtool and QEMU */
		break;
	default:
		return -EINVAL;
	}
	if (*end || v == 0 || v % 4096)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool is_directory(const char *path)
{
	struct stat st;

	errno = 0;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* kvmmig-vm --print-supported-cpuid: this host's part of kvmmig-ctl cpu-baseline. */
static int print_supported_cpuid(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), err;

	if (fd < 0) {
		vmm_log("unable to open /dev/kvm: %s (is KVM enabled and are you in group kvm?)",
			strerror(errno));
		return 1;
	}
	err = vmm_cpuid_print_supported(fd, stdout);
	close(fd);
	if (!err && fflush(stdout))
		err = -errno;
	if (err)
		vmm_log("unable to print KVM's supported CPUID: %s", strerror(-err));
	return err ? 1 : 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_KERNEL = 256,
		OPT_INITRD,
		OPT_APPEND,
		OPT_PAYLOAD,
		OPT_CONSOLE,
		OPT_CPU,
		OPT_INCOMING,
		OPT_MEM_FILE,
		OPT_CONTROL,
		OPT_IMAGE_DIR,
		OPT_PRINT_SUPPORTED_CPUID,
		OPT_HUGEPAGES,
		OPT_DIRTY_RING,
		OPT_UNSAFE_DIRTY_RING_DROP
	};
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"mem", required_argument, NULL, 'm'},
	    {"hugepages", required_argument, NULL, OPT_HUGEPAGES},
	    {"dirty-ring", required_argument, NULL, OPT_DIRTY_RING},
	    {"unsafe-dirty-ring-drop", no_argument, NULL, OPT_UNSAFE_DIRTY_RING_DROP},
	    {"cpus", required_argument, NULL, 'c'},
	    {"kernel", required_argument, NULL, OPT_KERNEL},
	    {"initrd", required_argument, NULL, OPT_INITRD},
	    {"append", required_argument, NULL, OPT_APPEND},
	    {"payload", required_argument, NULL, OPT_PAYLOAD},
	    {"console", required_argument, NULL, OPT_CONSOLE},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"incoming", no_argument, NULL, OPT_INCOMING},
	    {"mem-file", required_argument, NULL, OPT_MEM_FILE},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"image-dir", required_argument, NULL, OPT_IMAGE_DIR},
	    {"print-supported-cpuid", no_argument, NULL, OPT_PRINT_SUPPORTED_CPUID},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	snprintf(o->name, sizeof(o->name), "vm-%d", (int)getpid());
	o->mem_bytes = 256ull << 20;
	o->ncpus = 1;
	o->cpu_model = cpu_model_by_name("host");
	while ((c = getopt_long(argc, argv, "n:m:c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!vmm_name_is_valid(optarg)) {
				vmm_log("invalid --name '%s': use 1 to %d of [A-Za-z0-9_.-]",
					optarg, KVMMIG_NAME_MAX - 1);
				return -EINVAL;
			}
			snprintf(o->name, sizeof(o->name), "%s", optarg);
			break;
		case 'm':
			if (parse_size(optarg, &o->mem_bytes)) {
				vmm_log(
				    "invalid --mem '%s': a size like 256M or 2G, a multiple of 4K",
				    optarg);
				return -EINVAL;
			}
			break;
		case 'c': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > VMM_MAX_VCPUS) {
				vmm_log("invalid --cpus '%s': 1 to %d", optarg, VMM_MAX_VCPUS);
				return -EINVAL;
			}
			o->ncpus = n;
			break;
		}
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_INITRD:
			o->initrd = optarg;
			break;
		case OPT_APPEND:
			o->append = optarg;
			break;
		case OPT_PAYLOAD:
			o->payload = optarg;
			break;
		case OPT_CONSOLE:
			o->console = optarg;
			break;
		case OPT_CPU:
			if (!strcmp(optarg, "baseline")) {
				/* Kept for scripts written before models; it never meant a fixed CPUID. */
				vmm_log("--cpu baseline is deprecated and now means x86-64-v2 (version "
					"1), which keeps SMEP/SMAP and the speculation controls the "
					"old baseline dropped: say --cpu x86-64-v2");
				optarg = "x86-64-v2";
			}
			o->cpu_model = cpu_model_by_name(optarg);
			if (!o->cpu_model) {
				vmm_log("invalid --cpu '%s': one of %s", optarg, cpu_model_names());
				return -EINVAL;
			}
			break;
		case OPT_PRINT_SUPPORTED_CPUID:
			exit(print_supported_cpuid());
		case OPT_INCOMING:
			o->incoming = true;
			break;
		case OPT_MEM_FILE:
			o->mem_file = optarg;
			break;
		case OPT_HUGEPAGES:
			if (!strcmp(optarg, "2M")) {
				o->hugepage_bytes = 2ull << 20;
			} else if (!strcmp(optarg, "1G")) {
				o->hugepage_bytes = 1ull << 30;
			} else {
				vmm_log("invalid --hugepages '%s': 2M or 1G", optarg);
				return -EINVAL;
			}
			break;
		case OPT_DIRTY_RING: {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			/* A power of two in KVM's range: vmm_dirty_ring_enable() checks and says. */
			if (errno || end == optarg || *end || !n || n > UINT32_MAX) {
				vmm_log("invalid --dirty-ring '%s': entries per vCPU, a number",
					optarg);
				return -EINVAL;
			}
			o->dirty_ring = n;
			break;
		}
		case OPT_UNSAFE_DIRTY_RING_DROP:
			o->unsafe_dirty_ring_drop = true;
			break;
		case OPT_CONTROL:
			o->control = optarg;
			break;
		case OPT_IMAGE_DIR:
			if (!is_directory(optarg)) {
				vmm_log("invalid --image-dir '%s': %s (give an existing directory)",
					optarg, errno ? strerror(errno) : "not a directory");
				return -EINVAL;
			}
			o->image_dir = optarg;
			break;
		case 'v':
			vmm_verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (o->hugepage_bytes && o->mem_bytes % o->hugepage_bytes) {
		vmm_log("--mem must be a multiple of the huge page size with --hugepages %s",
			o->hugepage_bytes == 2ull << 20 ? "2M" : "1G");
		return -EINVAL;
	}
	if (optind < argc) {
		vmm_log("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (o->incoming) {
		if (o->kernel || o->payload || o->initrd) {
			vmm_log(
			    "--incoming takes its guest from a saved state: no --kernel, --initrd "
			    "or --payload");
			return -EINVAL;
		}
	} else {
		if (!!o->kernel == !!o->payload) {
			vmm_log("give exactly one of --kernel and --payload (or --incoming)");
			usage(stderr);
			return -EINVAL;
		}
		if (o->initrd && !o->kernel) {
			vmm_log("--initrd needs --kernel");
			return -EINVAL;
		}
		if (o->mem_file) {
			vmm_log("--mem-file is for --incoming");
			return -EINVAL;
		}
	}
	return 0;
}

/* Waits for the VM to stop, a signal, or console input; returns the exit status. */
static int main_loop(struct vmm_vm *vm)
{
	struct pollfd fds[3];
	sigset_t sigs;
	int sfd, nfds = 2, in_fd = console_input_fd();

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0) {
		vmm_log("unable to watch for signals: %s", strerror(errno));
		return 1;
	}
	fds[0] = (struct pollfd){.fd = vm->stop_fd, .events = POLLIN};
	fds[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	if (in_fd >= 0)
		fds[nfds++] = (struct pollfd){.fd = in_fd, .events = POLLIN};

	for (;;) {
		if (poll(fds, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			vmm_log("poll failed: %s", strerror(errno));
			close(sfd);
			return 1;
		}
		if (fds[0].revents) {
			close(sfd);
			pthread_mutex_lock(&vm->lock);
			int status = vm->stop_status;
			pthread_mutex_unlock(&vm->lock);
			if (status)
				vmm_log("VM stopped: %s", vm->stop_reason);
			else
				vmm_debug("VM stopped: %s", vm->stop_reason);
			return status;
		}
		if (fds[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				vmm_debug("stopping on signal %u", si.ssi_signo);
				close(sfd);
				return 128 + si.ssi_signo;
			}
		}
		if (nfds > 2 && fds[2].revents) {
			uint8_t buf[64];
			ssize_t n = read(in_fd, buf, sizeof(buf));

			if (n > 0)
				serial_receive(buf, n);
			else if (n == 0 || errno != EINTR)
				nfds = 2; /* input closed: output goes on */
		}
	}
}

int main(int argc, char **argv)
{
	struct vmm_vm_config config = {.exit_ops = &vm_exit_ops};
	struct vmm_control *control = NULL;
	struct vmm_vm *vm = NULL;
	struct options o = {0};
	const char *guest_kind;
	sigset_t sigs;
	int err, status = 1;

	if (parse_options(argc, argv, &o))
		return 2;
	/* Signals arrive through the main loop's signalfd; threads inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	guest_kind = o.payload ? "payload" : o.kernel ? "linux" : "none";
	config.name = o.name;
	config.mem_bytes = o.mem_bytes;
	config.hugepage_bytes = o.hugepage_bytes;
	config.dirty_ring_entries = o.dirty_ring;
	config.unsafe_dirty_ring_drop = o.unsafe_dirty_ring_drop;
	config.ncpus = o.ncpus;
	config.cpu_model = o.cpu_model;
	config.incoming = o.incoming;
	if (console_open(o.console))
		return 1;
	err = vmm_vm_create(&vm, &config);
	if (err)
		goto out;
	err = devices_init(vm);
	if (err) {
		vmm_log("unable to set up the devices: %s", strerror(-err));
		goto out;
	}

	if (o.incoming) {
		if (o.mem_file) {
			err = vmm_memory_load(vm, o.mem_file);
			if (err) {
				vmm_log("unable to load memory image %s: %s", o.mem_file,
					strerror(-err));
				goto out;
			}
		}
	} else if (o.payload) {
		err = payload_load(vm, o.payload, o.append);
	} else {
		err = linux_load(vm, o.kernel, o.initrd, o.append);
	}
	if (err)
		goto out;

	err = vmm_attach(vm);
	if (err)
		goto out;
	err = vmm_control_open(&control, vm, o.control, o.image_dir, guest_kind);
	if (err)
		goto out;
	err = vmm_vm_start(vm);
	if (err)
		goto out;
	vmm_debug("VM '%s' %s: %d vCPUs, %llu MiB, CPU model %s, control %s", vm->name,
		  o.incoming ? "waiting for its state" : "running", vm->ncpus,
		  (unsigned long long)(vm->mem_bytes >> 20), vm->cpu_model->name,
		  vmm_control_path(control));

	status = main_loop(vm);
	vmm_vm_pause(vm);
	devices_flush(vm);
out:
	vmm_control_close(control);
	if (vm) {
		vmm_vcpus_kick_and_join(vm);
		for (int i = 0; i < vm->ncpus; i++)
			free(vm->vcpus[i].priv);
		vmm_vm_destroy(vm);
	}
	console_close();
	return err ? 1 : status;
}
