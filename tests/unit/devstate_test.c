/*
 * devstate_test.c: per-device state versions in the state blob, against the
 * fake VM of tests/fuzz/state_fake.h (user/vmm/state.c itself, no KVM): a
 * device writes its version, reads every version from the first it wrote,
 * and a blob with a version it does not read is refused naming the device
 * and the versions before anything is applied (or skipped, if optional).
 */
#include "../fuzz/state_fake.h"

static int failures;

static void check(const char *name, int ok, const char *got)
{
	if (ok)
		printf("PASS: %s\n", name);
	else
		printf("FAIL: %s: got '%s'\n", name, got);
	failures += !ok;
}

/* A blob of the fake VM whose serial0 writes state version @writes. */
static void blob_with_serial(uint16_t writes, uint32_t blob_version, uint8_t **blob, size_t *size)
{
	const struct vmm_device_ops serial = {"serial0", writes, 1, fake_save, fake_load};
	struct vmm_vm vm;

	fake_vm_init(&vm);
	vm.devices[0].ops = &serial;
	if (fake_blob(&vm, true, blob_version, blob, size)) {
		printf("FAIL: fake blob with serial0 of state version %u written\n", writes);
		exit(1);
	}
}

/* Parses @blob into the fake VM whose serial0 reads @first to @version; 0 or -errno. */
static int parse_with_serial(uint16_t first, uint16_t version, const uint8_t *blob, size_t size,
			     char *err, size_t err_size)
{
	const struct vmm_device_ops serial = {"serial0", version, first, fake_save, fake_load};
	static struct parsed_state p;
	struct vmm_vm vm;

	fake_vm_init(&vm);
	vm.devices[0].ops = &serial;
	fake_serial_dev.loads = 0;
	fake_serial_dev.loaded_version = 0;
	err[0] = '\0';
	return parse_state(&vm, blob, size, &p, err, err_size);
}

/* The offset of the record of @type and @index in @blob (one the writer wrote: it is there). */
static size_t record_at(const uint8_t *blob, size_t size, uint32_t type, uint32_t index)
{
	size_t off = KVMMIG_STATE_HEADER_SIZE;

	while (off < size) {
		struct kvmmig_state_record r;

		memcpy(&r, blob + off, sizeof(r));
		if (r.type == type && r.index == index)
			return off;
		off += sizeof(r) + ALIGN8((size_t)r.size);
	}
	printf("FAIL: record 0x%x index %u in the fake blob\n", type, index);
	exit(1);
}

/* serial0's DEVICE record made optional (flags 0), the CRC made right again. */
static void make_serial_optional(uint8_t *blob, size_t size)
{
	size_t off = record_at(blob, size, KVMMIG_STATE_DEVICE, 0);
	uint16_t flags = 0;
	uint32_t crc;

	memcpy(blob + off + offsetof(struct kvmmig_state_record, flags), &flags, sizeof(flags));
	crc = vmm_crc32(0, blob + KVMMIG_STATE_HEADER_SIZE, size - KVMMIG_STATE_HEADER_SIZE);
	memcpy(blob + offsetof(struct kvmmig_state_header, crc32), &crc, sizeof(crc));
}

static void check_versions_valid(void)
{
	const struct vmm_device_ops ok1 = {"a", 1, 1, fake_save, fake_load},
				    ok2 = {"a", 2, 1, fake_save, fake_load},
				    zero = {"a", 0, 0, fake_save, fake_load},
				    first0 = {"a", 2, 0, fake_save, fake_load},
				    reversed = {"a", 1, 2, fake_save, fake_load};

	check("device versions 1..1 and 1..2 register; 0, first 0 and first > version do not",
	      vmm_device_versions_valid(&ok1) && vmm_device_versions_valid(&ok2) &&
		  !vmm_device_versions_valid(&zero) && !vmm_device_versions_valid(&first0) &&
		  !vmm_device_versions_valid(&reversed),
	      "a wrong verdict");
}

/* debugcon's DEVICE record renamed serial0: serial0's state twice, in two records. */
static void check_device_twice(void)
{
	uint8_t *blob;
	size_t size, off;
	uint32_t crc;
	char err[512];
	int ret;

	blob_with_serial(1, KVMMIG_STATE_VERSION, &blob, &size);
	off = record_at(blob, size, KVMMIG_STATE_DEVICE, 1) + KVMMIG_STATE_RECORD_HEAD_SIZE;
	memset(blob + off, 0, sizeof(struct kvmmig_state_device_head));
	strcpy((char *)blob + off, "serial0");
	crc = vmm_crc32(0, blob + KVMMIG_STATE_HEADER_SIZE, size - KVMMIG_STATE_HEADER_SIZE);
	memcpy(blob + offsetof(struct kvmmig_state_header, crc32), &crc, sizeof(crc));
	ret = parse_with_serial(1, 1, blob, size, err, sizeof(err));
	check("a device's state in two records is refused naming the device",
	      ret == -EINVAL && strstr(err, "state of device 'serial0' appears twice"), err);
	make_serial_optional(blob, size);
	ret = parse_with_serial(2, 2, blob, size, err, sizeof(err));
	check("... also when one of them is skipped (optional, of a version it does not read)",
	      ret == -EINVAL && strstr(err, "state of device 'serial0' appears twice"), err);
	free(blob);
}

/* A version-1 blob's reader takes every record as version 1: a newer device state cannot go in. */
static void check_v1_blob_refuses_newer_device(void)
{
	const struct vmm_device_ops serial = {"serial0", 2, 1, fake_save, fake_load};
	struct vmm_vm vm;
	uint8_t *blob = NULL;
	size_t size;
	char got[32];
	int ret;

	fake_vm_init(&vm);
	vm.devices[0].ops = &serial;
	ret = fake_blob(&vm, true, 1, &blob, &size);
	snprintf(got, sizeof(got), "%d", ret);
	check("a device's version-2 state is not written into a version-1 blob (-ERANGE)",
	      ret == -ERANGE, got);
	if (!ret)
		free(blob);
}

int main(void)
{
	char err[512], got[600];
	uint8_t *blob;
	size_t size;
	int ret;

	check_versions_valid();

	/* Upgraded: serial0 now writes version 2 and still reads the 1 it wrote before. */
	blob_with_serial(1, KVMMIG_STATE_VERSION, &blob, &size);
	ret = parse_with_serial(1, 2, blob, size, err, sizeof(err));
	snprintf(got, sizeof(got), "%d '%s', load() given version %u", ret, err,
		 fake_serial_dev.loaded_version);
	check("a device bumped to version 2 reads its version-1 record, and load() is told 1",
	      !ret && fake_serial_dev.loads == 1 && fake_serial_dev.loaded_version == 1, got);

	/* Downgraded: a destination whose serial0 reads version 1 only. */
	ret = parse_with_serial(2, 3, blob, size, err, sizeof(err));
	check("a version-1 record is refused by a device that reads 2 to 3, naming both",
	      ret == -EINVAL &&
		  strstr(err, "device 'serial0' state version 1, which this "
			      "kvmmig-vm reads in versions 2 to 3") &&
		  !fake_serial_dev.loads,
	      err);
	free(blob);

	blob_with_serial(2, KVMMIG_STATE_VERSION, &blob, &size);
	ret = parse_with_serial(1, 1, blob, size, err, sizeof(err));
	check("a version-2 record is refused by a device that reads 1 to 1, in one line naming "
	      "device and versions, before load() sees it",
	      ret == -EINVAL &&
		  strstr(err,
			 "device 'serial0' state version 2, which this kvmmig-vm reads in "
			 "versions 1 to 1: restore it with a kvmmig-vm as new as the source's") &&
		  !strchr(err, '\n') && !fake_serial_dev.loads,
	      err);
	ret = parse_with_serial(1, 2, blob, size, err, sizeof(err));
	snprintf(got, sizeof(got), "%d '%s', load() given version %u", ret, err,
		 fake_serial_dev.loaded_version);
	check("a version-2 record reaches a device that reads 1 to 2 as version 2",
	      !ret && fake_serial_dev.loaded_version == 2, got);

	make_serial_optional(blob, size);
	ret = parse_with_serial(1, 1, blob, size, err, sizeof(err));
	snprintf(got, sizeof(got), "%d '%s', %d loads", ret, err, fake_serial_dev.loads);
	check("an optional record of a version the device does not read is skipped: the device "
	      "keeps its reset state",
	      !ret && !fake_serial_dev.loads, got);
	free(blob);

	/* Version-1 blobs (before record versions): every record is version 1. */
	blob_with_serial(1, 1, &blob, &size);
	ret = parse_with_serial(1, 2, blob, size, err, sizeof(err));
	snprintf(got, sizeof(got), "%d '%s', load() given version %u", ret, err,
		 fake_serial_dev.loaded_version);
	check("a version-1 blob's device state is read as version 1",
	      !ret && fake_serial_dev.loaded_version == 1, got);
	free(blob);

	check_v1_blob_refuses_newer_device();
	check_device_twice();
	return failures ? 1 : 0;
}
