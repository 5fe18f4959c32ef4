/*
 * state_fuzz.c: libFuzzer target for the state-blob parser. Builds the
 * VMM's own user/vmm/state.c and parses each input as a restore-state
 * would, against a fake 2-vCPU VM with two devices: no /dev/kvm, nothing
 * applied. The header's total size and CRC are fixed up first, so that
 * mutations reach the records instead of dying at the CRC.
 *
 * The fake host and VM, and the seed blobs' writer, are tests/fuzz/state_fake.h's:
 * the CPUID and feature-MSR checks are the real ones against a fake host.
 *
 * A blob the parser accepts must be one a restore can apply whole: every
 * required record present, each irqchip once under its own chip id, each
 * device's state once, of a version the device reads. A refused blob must
 * say why, in one line.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude/uapi -Iuser \
 *         tests/fuzz/state_fuzz.c -o build/tests/state_fuzz
 * Built with -DSTATE_FUZZ_WRITE_SEEDS (and without -fsanitize=fuzzer) it is
 * instead a program that writes valid seed blobs into the directory argv[1].
 */
#include "state_fake.h"

static void check_accepted(const struct vmm_vm *vm, const struct parsed_state *p)
{
	assert(p->info.data && p->pit.data && p->clock.data);
	for (int i = 0; i < vm->ncpus; i++) {
		assert(p->vcpu[i][V_REGS].data && p->vcpu[i][V_MSRS].data);
		assert(!p->vcpu[i][V_FPU].data != !p->vcpu[i][V_XSAVE].data);
	}
	for (uint32_t c = 0; c < 3; c++) {
		struct kvm_irqchip chip;

		assert(p->irqchip[c].data && p->irqchip[c].size == sizeof(chip));
		memcpy(&chip, p->irqchip[c].data, sizeof(chip));
		assert(chip.chip_id == c); /* else KVM sets one chip twice, another never */
	}
	for (int d = 0; d < vm->ndevices; d++) {
		const struct vmm_device_ops *ops = vm->devices[d].ops;

		assert(p->device[d].data || p->device_skipped[d]);
		assert(!p->device[d].data || (p->device[d].version >= ops->first_version &&
					      p->device[d].version <= ops->version));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct parsed_state p;
	struct vmm_vm *vm = malloc(sizeof(*vm));
	uint8_t *blob = malloc(size ? size : 1);
	char err[512] = "";
	int ret;

	fake_vm_init(vm);
	memcpy(blob, data, size);
	if (size >= KVMMIG_STATE_HEADER_SIZE) {
		uint64_t total = size;
		uint32_t crc =
		    vmm_crc32(0, blob + KVMMIG_STATE_HEADER_SIZE, size - KVMMIG_STATE_HEADER_SIZE);

		memcpy(blob + offsetof(struct kvmmig_state_header, total_size), &total,
		       sizeof(total));
		memcpy(blob + offsetof(struct kvmmig_state_header, crc32), &crc, sizeof(crc));
	}
	ret = parse_state(vm, blob, size, &p, err, sizeof(err));
	if (ret) {
		assert(ret == -EINVAL || ret == -ENOMEM || ret == -EOPNOTSUPP);
		assert(ret == -ENOMEM || (err[0] && !strchr(err, '\n')));
	} else {
		check_accepted(vm, &p);
	}
	free(blob);
	free(vm);
	return 0;
}

#ifdef STATE_FUZZ_WRITE_SEEDS
/* A valid blob of the fake VM (fake_blob()), which the parser must take, into @dir/@name. */
static void write_seed(const char *dir, const char *name, bool xsave, uint32_t version)
{
	static struct parsed_state p;
	struct vmm_vm vm;
	char path[4096], err[512] = "";
	uint8_t *blob;
	size_t size;
	FILE *f;

	fake_vm_init(&vm);
	if (fake_blob(&vm, xsave, version, &blob, &size)) {
		fprintf(stderr, "state_fuzz: seed %s not written\n", name);
		exit(1);
	}
	/* The seed must be one the parser takes, or it seeds nothing. */
	if (parse_state(&vm, blob, size, &p, err, sizeof(err))) {
		fprintf(stderr, "state_fuzz: seed %s refused: %s\n", name, err);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(blob, 1, size, f) != size || fclose(f)) {
		perror(path);
		exit(1);
	}
	free(blob);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: state_fuzz_seeds DIR\n");
		return 2;
	}
	write_seed(argv[1], "valid-xsave", true, KVMMIG_STATE_VERSION);
	write_seed(argv[1], "valid-fpu", false, KVMMIG_STATE_VERSION);
	write_seed(argv[1], "valid-v1", false, 1);
	return 0;
}
#endif
