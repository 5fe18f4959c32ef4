/* vmctl.c: the tests' control-socket client, and state-blob surgery for malformed blobs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../guests/dirtymem.h"
#include "vmm/state.h"

/*
 *   vmctl SOCKET COMMAND [ARG]    one request; the payload goes to stdout.
 *                                 restore-state sends stdin as the blob,
 *                                 check-cpuid as its CPUID text.
 *                                 Exit 0 on "ok", 1 on "error" (message on
 *                                 stderr), 2 on a broken connection.
 *   vmctl --records BLOB          one line per record: offset type index size
 *   vmctl --fix-crc BLOB          recomputes the header's CRC in place
 *   vmctl --poke BLOB OFFSET U32  writes a little-endian u32 at OFFSET
 *   vmctl --cpuid-or BLOB VCPU FUNCTION REG BITS
 *                                 ORs BITS into register REG (eax..edx) of
 *                                 CPUID leaf FUNCTION.0 of vCPU VCPU, fixes CRC
 *   vmctl --cpuid-get BLOB VCPU FUNCTION REG
 *                                 prints register REG of leaf FUNCTION.0 in hex,
 *                                 "none" when the leaf is absent
 *   vmctl --trickle SOCKET TEXT MS SECONDS
 *                                 a slow client: connects, sends TEXT one byte
 *                                 every MS milliseconds (all at once if 0), then
 *                                 stays silent; prints "dropped after S s" and
 *                                 exits 0 when the server closes the connection,
 *                                 "still connected after S s" and 1 otherwise
 *   vmctl --check-dirtymem IMAGE  checks a memory image of a paused dirtymem
 *                                 guest from outside (tests/guests/dirtymem.h):
 *                                 prints "cpu<c> iter <k>" lines, then
 *                                 "dirtymem image ok" or the bad pages; exit 0/1
 */

static uint8_t *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16;
	uint8_t *buf = malloc(cap);

	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len == cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + *len, cap - *len);
		if (n < 0) {
			perror("vmctl: read");
			exit(2);
		}
		if (n == 0)
			return buf;
		*len += n;
	}
}

static void write_all(int fd, const void *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			perror("vmctl: write");
			exit(2);
		}
		p = (const char *)p + n;
		len -= n;
	}
}

/* A connection to the control socket at @path, or -1 (said on stderr). */
static int connect_control(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "vmctl: unable to connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int request(const char *path, int argc, char **argv)
{
	char line[4200], head[4200];
	uint8_t *blob = NULL;
	size_t blob_len = 0, hlen = 0;
	int fd = connect_control(path);

	if (fd < 0)
		return 2;
	if (!strcmp(argv[0], "restore-state") || !strcmp(argv[0], "check-cpuid")) {
		blob = read_all(0, &blob_len);
		snprintf(line, sizeof(line), "%s %zu\n", argv[0], blob_len);
	} else {
		snprintf(line, sizeof(line), "%s%s%s\n", argv[0], argc > 1 ? " " : "",
			 argc > 1 ? argv[1] : "");
	}
	write_all(fd, line, strlen(line));
	if (blob)
		write_all(fd, blob, blob_len);

	while (hlen < sizeof(head) - 1) {
		ssize_t n = read(fd, head + hlen, 1);

		if (n <= 0) {
			fprintf(stderr, "vmctl: connection closed before an answer\n");
			return 2;
		}
		if (head[hlen++] == '\n')
			break;
	}
	head[hlen] = 0;
	if (!strncmp(head, "ok ", 3)) {
		size_t len = strtoull(head + 3, NULL, 10), done = 0;
		char buf[65536];

		while (done < len) {
			size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
			ssize_t n = read(fd, buf, want);

			if (n <= 0) {
				fprintf(stderr, "vmctl: payload cut at %zu of %zu bytes\n", done,
					len);
				return 2;
			}
			write_all(1, buf, n);
			done += n;
		}
		return 0;
	}
	fprintf(stderr, "vmctl: %s", head);
	return 1;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - t0->tv_sec + (now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Whether the server closed the connection within @ms milliseconds (whatever it said first). */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];

	while (poll(&p, 1, ms) > 0)
		if (read(fd, buf, sizeof(buf)) <= 0)
			return true;
	return false;
}

static int trickle(const char *path, const char *text, int ms, int seconds)
{
	struct timespec t0;
	size_t sent = 0, len = strlen(text);
	int fd = connect_control(path);

	if (fd < 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seconds_since(&t0) < seconds) {
		size_t n = ms ? 1 : len - sent;

		if (sent < len && send(fd, text + sent, n, MSG_NOSIGNAL) != (ssize_t)n)
			break;
		sent += sent < len ? n : 0;
		if (closed_within(fd, sent < len ? ms : 100)) {
			printf("dropped after %.1f s (%zu of %zu bytes sent)\n", seconds_since(&t0),
			       sent, len);
			return 0;
		}
	}
	printf("still connected after %.1f s (%zu of %zu bytes sent)\n", seconds_since(&t0), sent,
	       len);
	return 1;
}

static uint8_t *load_blob(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	uint8_t *b;

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	b = read_all(fd, len);
	close(fd);
	return b;
}

static void store_blob(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	write_all(fd, b, len);
	close(fd);
}

/* Rewrites header fields total_size, record_count and the CRC after records were added/dropped. */
static void fix_header(uint8_t *b, size_t len)
{
	uint64_t total = len;
	uint32_t count = 0, crc;

	for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len; count++) {
		uint32_t size;

		memcpy(&size, b + off + 8, 4);
		off += 16 + ((size + 7) & ~7u);
	}
	memcpy(b + 16, &total, 8);
	memcpy(b + 28, &count, 4);
	crc = vmm_crc32(0, b + KVMMIG_STATE_HEADER_SIZE, len - KVMMIG_STATE_HEADER_SIZE);
	memcpy(b + 24, &crc, 4);
}

/* Offset of the first record of @type (and @index); 0 if none. */
static size_t find_record(const uint8_t *b, size_t len, uint32_t type, uint32_t index)
{
	for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len;) {
		uint32_t h[4];

		memcpy(h, b + off, 16);
		if (h[0] == type && h[1] == index)
			return off;
		off += 16 + ((h[2] + 7) & ~7u);
	}
	return 0;
}

/*
 * --insert BLOB TYPE INDEX VERSION FLAGS SIZE: a record (payload SIZE bytes of 0xa5) before
 * END, its head's last word = VERSION | FLAGS << 16 (the v2 record head).
 */
static int insert_record(char **argv)
{
	uint32_t head[4] = {strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
			    strtoul(argv[7], NULL, 0),
			    strtoul(argv[5], NULL, 0) | strtoul(argv[6], NULL, 0) << 16};
	size_t len, end, add = 16 + ((head[2] + 7) & ~7u);
	uint8_t *b = load_blob(argv[2], &len), *nb;

	end = find_record(b, len, 0xffff, 0);
	nb = calloc(1, len + add);
	if (!end || !nb)
		return 2;
	memcpy(nb, b, end);
	memcpy(nb + end, head, 16);
	memset(nb + end + 16, 0xa5, head[2]);
	memcpy(nb + end + add, b + end, len - end);
	fix_header(nb, len + add);
	store_blob(argv[2], nb, len + add);
	return 0;
}

/*
 * --v1 BLOB: the blob as the version-1 writer (before record versions and flags) wrote it:
 * version 1, every record head's last word 0, only the record types version 1 had.
 */
static int to_v1(const char *path)
{
	static const uint32_t v1_types[] = {0x01, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
					    0x18, 0x19, 0x1a, 0x1b, 0x20, 0x21, 0x22, 0x30, 0xffff};
	size_t len, out = KVMMIG_STATE_HEADER_SIZE;
	uint8_t *b = load_blob(path, &len);
	uint32_t one = 1;

	for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len;) {
		uint32_t h[4];
		size_t n;
		bool known = false;

		memcpy(h, b + off, 16);
		n = 16 + ((h[2] + 7) & ~7u);
		for (size_t t = 0; t < sizeof(v1_types) / sizeof(v1_types[0]); t++)
			known |= h[0] == v1_types[t];
		if (known) {
			h[3] = 0;
			memmove(b + out, b + off, n);
			memcpy(b + out, h, 16);
			out += n;
		}
		off += n;
	}
	memcpy(b + 8, &one, 4);
	fix_header(b, out);
	store_blob(path, b, out);
	return 0;
}

/* --msr-set BLOB VCPU MSR VALUE: that vCPU's saved MSR (which must be in the blob) set to VALUE. */
static int msr_set(char **argv)
{
	uint32_t vcpu = strtoul(argv[3], NULL, 0), index = strtoul(argv[4], NULL, 0), n;
	uint64_t value = strtoull(argv[5], NULL, 0);
	size_t len, off;
	uint8_t *b = load_blob(argv[2], &len);

	off = find_record(b, len, KVMMIG_STATE_VCPU_MSRS, vcpu);
	if (!off)
		return 2;
	memcpy(&n, b + off + 16, 4);
	for (uint32_t i = 0; i < n; i++) {
		struct kvm_msr_entry e;

		memcpy(&e, b + off + 16 + 8 + i * sizeof(e), sizeof(e));
		if (e.index != index)
			continue;
		e.data = value;
		memcpy(b + off + 16 + 8 + i * sizeof(e), &e, sizeof(e));
		fix_header(b, len);
		store_blob(argv[2], b, len);
		return 0;
	}
	fprintf(stderr, "vmctl: MSR %#x not in vCPU %u's state\n", index, vcpu);
	return 1;
}

/* --msr-get BLOB VCPU MSR: that vCPU's saved MSR, or "none". */
static int msr_get(char **argv)
{
	uint32_t vcpu = strtoul(argv[3], NULL, 0), index = strtoul(argv[4], NULL, 0), n;
	size_t len, off;
	uint8_t *b = load_blob(argv[2], &len);

	off = find_record(b, len, KVMMIG_STATE_VCPU_MSRS, vcpu);
	memcpy(&n, b + off + 16, off ? 4 : 0);
	for (uint32_t i = 0; off && i < n; i++) {
		struct kvm_msr_entry e;

		memcpy(&e, b + off + 16 + 8 + i * sizeof(e), sizeof(e));
		if (e.index == index) {
			printf("%#llx\n", (unsigned long long)e.data);
			return 0;
		}
	}
	printf("none\n");
	return 0;
}

/* --kvm-feature-msr MSR: what this host's KVM can give a guest (KVM_GET_MSRS on /dev/kvm). */
static int kvm_feature_msr(const char *arg)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e;
	} one = {.head.nmsrs = 1, .e.index = strtoul(arg, NULL, 0)};
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0 || ioctl(fd, KVM_GET_MSRS, &one) != 1) {
		printf("none\n");
		return 0;
	}
	printf("%#llx\n", (unsigned long long)one.e.data);
	return 0;
}

/* A page of the iteration in progress may hold K or K + 1; every other page exactly K's value. */
static int check_dirtymem(const char *path)
{
	size_t len;
	uint8_t *mem = load_blob(path, &len);
	const struct dirtymem_status *st = (const void *)(mem + DIRTYMEM_STATUS_GPA);
	int bad = 0, ncpus = 0;

	for (int c = 0; c < 32 && st[c].magic == DIRTYMEM_STATUS_MAGIC; c++, ncpus++) {
		const struct dirtymem_status *s = &st[c];
		const uint32_t *table = (const void *)(mem + DIRTYMEM_TABLE_GPA);

		printf("cpu%d iter %llu\n", c, s->iteration);
		if (DIRTYMEM_TEST_GPA + (s->first_page + s->npages) * 4096 > len) {
			printf("cpu%d: pages beyond the image\n", c);
			return 1;
		}
		for (uint64_t q = 0; q < s->npages; q++) {
			uint64_t p = s->first_page + q;
			const uint64_t *page = (const void *)(mem + DIRTYMEM_TEST_GPA + p * 4096);
			uint64_t want = dirtymem_expected(q, s->iteration, s->rate, s->npages);
			uint64_t next = dirtymem_expected(q, s->iteration + 1, s->rate, s->npages);
			/* Stores go head, index, tail, table: a pause leaves a prefix of them new.
			 */
			uint64_t fields[4] = {page[0], page[1], page[511], table[p]};
			uint64_t old[4] = {want, want ? p : 0, want, want};
			uint64_t new[4] = {next, p, next, next};
			bool consistent = false;

			for (int split = 0; split <= 4 && !consistent; split++) {
				consistent = true;
				for (int f = 0; f < 4; f++)
					if (fields[f] != (f < split ? new[f] : old[f]))
						consistent = false;
			}
			if (!consistent && bad++ < 8)
				printf("page %llu: head %llu index %llu tail %llu table %llu, want "
				       "%llu "
				       "(or %llu)\n",
				       (unsigned long long)p, (unsigned long long)fields[0],
				       (unsigned long long)fields[1], (unsigned long long)fields[2],
				       (unsigned long long)fields[3], (unsigned long long)want,
				       (unsigned long long)next);
		}
	}
	if (!ncpus) {
		printf("no dirtymem status block in %s\n", path);
		return 1;
	}
	if (bad) {
		printf("dirtymem image bad: %d pages\n", bad);
		return 1;
	}
	printf("dirtymem image ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	size_t len;
	uint8_t *b;

	if (argc >= 3 && !strcmp(argv[1], "--records")) {
		b = load_blob(argv[2], &len);
		for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len;) {
			struct kvmmig_state_record r;

			memcpy(&r, b + off, sizeof(r));
			printf("%zu 0x%x %u %u\n", off, r.type, r.index, r.size);
			off += 16 + ((r.size + 7) & ~7u);
		}
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "--fix-crc")) {
		uint32_t crc;

		b = load_blob(argv[2], &len);
		crc = vmm_crc32(0, b + KVMMIG_STATE_HEADER_SIZE, len - KVMMIG_STATE_HEADER_SIZE);
		memcpy(b + 24, &crc, 4);
		store_blob(argv[2], b, len);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "--poke")) {
		size_t off = strtoull(argv[3], NULL, 0);
		uint32_t v = strtoul(argv[4], NULL, 0);

		b = load_blob(argv[2], &len);
		if (off + 4 > len)
			return 2;
		memcpy(b + off, &v, 4);
		store_blob(argv[2], b, len);
		return 0;
	}
	if (argc >= 6 && !strcmp(argv[1], "--cpuid-get")) {
		uint32_t vcpu = strtoul(argv[3], NULL, 0), function = strtoul(argv[4], NULL, 0);
		int reg = argv[5][1] - 'a';

		b = load_blob(argv[2], &len);
		for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len;) {
			struct kvmmig_state_record r;

			memcpy(&r, b + off, sizeof(r));
			if (r.type == KVMMIG_STATE_VCPU_CPUID && r.index == vcpu) {
				struct kvm_cpuid_entry2 *e = (void *)(b + off + 16 + 8);
				uint32_t n;

				memcpy(&n, b + off + 16, 4);
				for (uint32_t i = 0; i < n; i++, e++)
					if (e->function == function && e->index == 0) {
						printf("%#x\n", (&e->eax)[reg]);
						return 0;
					}
			}
			off += 16 + ((r.size + 7) & ~7u);
		}
		printf("none\n");
		return 0;
	}
	if (argc >= 7 && !strcmp(argv[1], "--cpuid-or")) {
		uint32_t vcpu = strtoul(argv[3], NULL, 0), function = strtoul(argv[4], NULL, 0);
		uint32_t bits = strtoul(argv[6], NULL, 0), crc;
		int reg = argv[5][1] - 'a'; /* eax ebx ecx edx */

		b = load_blob(argv[2], &len);
		for (size_t off = KVMMIG_STATE_HEADER_SIZE; off + 16 <= len;) {
			struct kvmmig_state_record r;

			memcpy(&r, b + off, sizeof(r));
			if (r.type == KVMMIG_STATE_VCPU_CPUID && r.index == vcpu) {
				struct kvm_cpuid_entry2 *e = (void *)(b + off + 16 + 8);
				uint32_t n;

				memcpy(&n, b + off + 16, 4);
				for (uint32_t i = 0; i < n; i++, e++) {
					uint32_t *regs = &e->eax;

					if (e->function == function && e->index == 0)
						regs[reg] |= bits;
				}
			}
			off += 16 + ((r.size + 7) & ~7u);
		}
		crc = vmm_crc32(0, b + KVMMIG_STATE_HEADER_SIZE, len - KVMMIG_STATE_HEADER_SIZE);
		memcpy(b + 24, &crc, 4);
		store_blob(argv[2], b, len);
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "--insert"))
		return insert_record(argv);
	if (argc >= 3 && !strcmp(argv[1], "--v1"))
		return to_v1(argv[2]);
	if (argc >= 6 && !strcmp(argv[1], "--msr-set"))
		return msr_set(argv);
	if (argc >= 5 && !strcmp(argv[1], "--msr-get"))
		return msr_get(argv);
	if (argc >= 3 && !strcmp(argv[1], "--kvm-feature-msr"))
		return kvm_feature_msr(argv[2]);
	if (argc >= 6 && !strcmp(argv[1], "--trickle"))
		return trickle(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
	if (argc >= 3 && !strcmp(argv[1], "--check-dirtymem"))
		return check_dirtymem(argv[2]);
	if (argc < 3) {
		fprintf(stderr,
			"usage: vmctl SOCKET COMMAND [ARG] | --records BLOB | --fix-crc BLOB"
			" | --poke BLOB OFFSET U32\n");
		return 2;
	}
	return request(argv[1], argc - 2, argv + 2);
}
