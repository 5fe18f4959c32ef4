/* cpubaseline.c: kvmmig-ctl cpu-baseline: the best CPU model that every one of several hosts runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cpuidtext.h"
#include "common/cpumodel.h"
#include "ctl/commands.h"

#define MAX_HOSTS 64
#define MAX_FILE  (256 * 1024)

struct host {
	const char *name; /* the file it came from */
	struct kvm_cpuid2 *cpuid;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvmmig-ctl cpu-baseline FILE...\n"
		"  Each FILE is one host's `kvmmig-vm --print-supported-cpuid`. Prints the best\n"
		"  CPU model every one of them runs, what each lacks for the next model up, and\n"
		"  the optional features some lack.\n");
}

static int read_host(const char *path, struct host *h)
{
	struct cpuid_text t = {.cap = 256};
	char *text = malloc(MAX_FILE + 1), err[256];
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int ret = -EINVAL;

	h->name = path;
	if (!f || !text) {
		fprintf(stderr, "kvmmig-ctl: unable to read %s: %s\n", path,
			f ? strerror(ENOMEM) : strerror(errno));
		goto out;
	}
	n = fread(text, 1, MAX_FILE + 1, f);
	if (n > MAX_FILE || memchr(text, '\0', n)) {
		fprintf(stderr,
			"kvmmig-ctl: %s is not a CPUID dump: write it with kvmmig-vm "
			"--print-supported-cpuid\n",
			path);
		goto out;
	}
	text[n] = '\0';
	t.cpuid = calloc(1, sizeof(*t.cpuid) + t.cap * sizeof(t.cpuid->entries[0]));
	if (!t.cpuid)
		goto out;
	if (cpuid_text_parse(text, CPUID_TEXT_COMMENTS, &t, err, sizeof(err)) ||
	    !cpuid_find(t.cpuid, 0, 0)) {
		fprintf(stderr,
			"kvmmig-ctl: %s: %s: write it with kvmmig-vm --print-supported-cpuid\n",
			path, t.cpuid->nent ? err : "no CPUID leaf 0");
		free(t.cpuid);
		goto out;
	}
	h->cpuid = t.cpuid;
	ret = 0;
out:
	if (f)
		fclose(f);
	free(text);
	return ret;
}

/* The named models' features some hosts have and others lack: given on some, refused on others. */
static void print_optional(const struct cpu_model *m, struct host *hosts, int n)
{
	bool any = false;

	for (int w = 0; w < CPU_NWORDS; w++) {
		uint32_t some = 0, all = ~0u;

		for (int i = 0; i < n; i++) {
			some |= cpuid_word(hosts[i].cpuid, w) & m->allowed[w];
			all &= cpuid_word(hosts[i].cpuid, w) & m->allowed[w];
		}
		for (int b = 0; b < 32; b++) {
			char name[64];

			if (!((some & ~all) & CPUID_BIT(b)))
				continue;
			if (!any)
				printf("optional features some hosts lack (a guest started where "
				       "one is "
				       "cannot move where it is not):\n");
			any = true;
			cpu_bit_names(w, CPUID_BIT(b), name, sizeof(name));
			printf("  %s (leaf %s) missing on:", name, cpu_words[w].name);
			for (int i = 0; i < n; i++)
				if (!(cpuid_word(hosts[i].cpuid, w) & CPUID_BIT(b)))
					printf(" %s", hosts[i].name);
			printf("\n");
		}
	}
}

/* The models cap the guest's address width at 40 bits; a host with fewer takes fewer guests. */
static void print_phys_bits(struct host *hosts, int n)
{
	unsigned int bits[MAX_HOSTS], low = CPU_MODEL_MAX_PHYS_BITS;

	for (int i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *e = cpuid_find(hosts[i].cpuid, 0x80000008, 0);

		bits[i] = e ? e->eax & 0xff : 0;
		if (bits[i] && bits[i] < low)
			low = bits[i];
	}
	if (low == CPU_MODEL_MAX_PHYS_BITS)
		return;
	for (int i = 0; i < n; i++)
		if (bits[i] == low)
			printf("%s has %u physical address bits: guests started on hosts with more "
			       "(at most %u) cannot move there\n",
			       hosts[i].name, low, CPU_MODEL_MAX_PHYS_BITS);
}

int cpubaseline_main(int argc, char **argv)
{
	struct host hosts[MAX_HOSTS] = {{0}};
	const struct cpu_model *best = NULL;
	int n = argc - 1, ret = 1;
	char vendor0[13];

	if (n >= 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (n < 1 || n > MAX_HOSTS || argv[1][0] == '-') {
		usage(stderr);
		return 1;
	}
	for (int i = 0; i < n; i++)
		if (read_host(argv[i + 1], &hosts[i]))
			goto out;
	cpuid_vendor(hosts[0].cpuid, vendor0);
	for (int i = 1; i < n; i++) {
		char v[13];

		cpuid_vendor(hosts[i].cpuid, v);
		if (strcmp(v, vendor0)) {
			fprintf(stderr,
				"kvmmig-ctl: %s has %s CPUs, %s %s: a running guest cannot move "
				"between vendors (it chose vendor-specific code at boot): group "
				"hosts by vendor\n",
				hosts[0].name, vendor0, hosts[i].name, v);
			goto out;
		}
	}
	for (int m = 0; m < cpu_nmodels; m++) {
		bool runs = cpu_models[m].fixed;

		for (int i = 0; runs && i < n; i++) {
			const struct kvm_cpuid2 *c = hosts[i].cpuid;
			char lacks[8];

			runs = !cpu_model_missing(&cpu_models[m], &c, 1, lacks, sizeof(lacks));
		}
		if (runs)
			best = &cpu_models[m];
	}
	if (best) {
		printf("best model: %s (version %u), on %d %s host%s\n", best->name, best->version,
		       n, vendor0, n > 1 ? "s" : "");
		printf("start guests with: kvmmig-vm --cpu %s\n", best->name);
	} else {
		printf("no named model runs on every host\n");
	}
	/* What stands in the way of the next model up. */
	for (int m = best ? (int)(best - cpu_models) + 1 : 1; m < cpu_nmodels; m++) {
		printf("%s (version %u) needs:\n", cpu_models[m].name, cpu_models[m].version);
		for (int i = 0; i < n; i++) {
			const struct kvm_cpuid2 *c = hosts[i].cpuid;
			char lacks[1024];

			if (cpu_model_missing(&cpu_models[m], &c, 1, lacks, sizeof(lacks)))
				printf("  on %s: %s\n", hosts[i].name, lacks);
		}
		break;
	}
	if (best) {
		print_optional(best, hosts, n);
		print_phys_bits(hosts, n);
	}
	ret = best ? 0 : 1;
out:
	for (int i = 0; i < n && i < MAX_HOSTS; i++)
		free(hosts[i].cpuid);
	return ret;
}
