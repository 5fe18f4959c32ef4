/* ramverify.c: per-page keyed digests of a RAM file and the repair of differing pages. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ramverify.h"
#include "ctl/wire.h"

#define PAGE 4096u
/* Pages per RAM_PAGES message: 1 MiB of pages and their offsets. */
#define REPAIR_BATCH 256u

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

/*
 * SipHash-2-4 of one page (a whole number of 8-byte words). Keyed, so a
 * guest cannot craft two pages that collide: it never learns the key.
 */
static uint64_t siphash_page(const uint8_t key[RAM_KEY_BYTES], const uint8_t *p)
{
	uint64_t k0, k1, v0, v1, v2, v3, m, b = (uint64_t)PAGE << 56;
	unsigned int i;

	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	k0 = le64toh(k0);
	k1 = le64toh(k1);
	v0 = k0 ^ 0x736f6d6570736575ull;
	v1 = k1 ^ 0x646f72616e646f6dull;
	v2 = k0 ^ 0x6c7967656e657261ull;
	v3 = k1 ^ 0x7465646279746573ull;
	for (i = 0; i < PAGE; i += 8) {
		memcpy(&m, p + i, 8);
		m = le64toh(m);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct map_line {
	uint64_t start, end, offset;
	char perms[8];
	char path[4096];
};

int ram_file_open(pid_t pid, uint64_t size, int writable, struct ram_file *rf, char *why,
		  size_t len)
{
	char path[96], line[4200];
	struct map_line m;
	FILE *f;
	int n, found = 0;

	rf->fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, len, "cannot read QEMU's mappings (%s): %s", path, strerror(errno));
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		n = 0;
		m.path[0] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %*u %n", &m.start,
			   &m.end, m.perms, &m.offset, &n) < 4 ||
		    !n)
			continue;
		snprintf(m.path, sizeof(m.path), "%s", line + n);
		m.path[strcspn(m.path, "\n")] = '\0';
		found = m.perms[3] == 's' && m.offset == 0 && m.end - m.start == size &&
			(!strncmp(m.path, "/memfd:", 7) || !strncmp(m.path, "/dev/shm/", 9));
	}
	fclose(f);
	if (!found) {
		snprintf(why, len,
			 "QEMU (pid %d) maps no shared memfd or /dev/shm file of %" PRIu64
			 " bytes: its guest RAM is not where qemu-check found it",
			 (int)pid, size);
		return -ENOENT;
	}
	/* The very file QEMU maps, whatever its name (a memfd has none). */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m.start,
		 m.end);
	rf->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (rf->fd < 0) {
		snprintf(why, len, "cannot open QEMU's RAM file (%s): %s: run as root", path,
			 strerror(errno));
		return -errno;
	}
	rf->size = size;
	rf->start = m.start;
	return 0;
}

void ram_file_close(struct ram_file *rf)
{
	if (rf->fd >= 0)
		close(rf->fd);
	rf->fd = -1;
}

/* One thread's share of ram_digests(): the pages of [from, to). */
struct digest_range {
	const struct ram_file *rf;
	const uint8_t *key;
	uint64_t *d, zero_digest, from, to;
	int err;
	pthread_t thread;
};

static void *digest_range(void *arg)
{
	struct digest_range *r = arg;
	uint64_t pos = r->from;
	uint8_t *buf = malloc(REPAIR_BATCH * PAGE);

	if (!buf) {
		r->err = ENOMEM;
		return NULL;
	}
	/*
	 * Holes (pages never written) read as zeros; a read would allocate
	 * them, so they are known from SEEK_DATA/SEEK_HOLE without one. (The
	 * threads share the file offset lseek() moves; only its result is used.)
	 */
	while (pos < r->to) {
		off_t data = lseek(r->rf->fd, pos, SEEK_DATA), hole;

		if (data < 0 && errno != ENXIO)
			goto fail;
		if (data < 0 || (uint64_t)data > r->to)
			data = r->to;
		for (; pos < (uint64_t)data; pos += PAGE)
			r->d[pos / PAGE] = r->zero_digest;
		if (pos >= r->to)
			break;
		hole = lseek(r->rf->fd, pos, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > r->to)
			hole = r->to;
		while (pos < (uint64_t)hole) {
			uint64_t want = (uint64_t)hole - pos, i;
			ssize_t n;

			if (want > REPAIR_BATCH * PAGE)
				want = REPAIR_BATCH * PAGE;
			n = pread(r->rf->fd, buf, want, pos);
			if (n <= 0 || n % PAGE) {
				if (n >= 0)
					errno = EIO;
				goto fail;
			}
			for (i = 0; i < (uint64_t)n; i += PAGE)
				r->d[(pos + i) / PAGE] = siphash_page(r->key, buf + i);
			pos += n;
		}
	}
	free(buf);
	return NULL;
fail:
	r->err = errno;
	free(buf);
	return NULL;
}

int ram_digests_threads(const struct ram_file *rf, const uint8_t key[RAM_KEY_BYTES],
			unsigned int threads, uint64_t **out)
{
	static const uint8_t zero[PAGE];
	uint64_t npages = rf->size / PAGE, zero_digest = siphash_page(key, zero);
	uint64_t *d = malloc(npages * sizeof(*d));
	struct digest_range *r;
	unsigned int t, started;
	int err = 0;

	if (threads < 1)
		threads = 1;
	if (threads > npages)
		threads = npages ? npages : 1;
	r = calloc(threads, sizeof(*r));
	if (!d || !r) {
		free(d);
		free(r);
		return -ENOMEM;
	}
	for (t = 0; t < threads; t++)
		r[t] = (struct digest_range){.rf = rf,
					     .key = key,
					     .d = d,
					     .zero_digest = zero_digest,
					     .from = npages * t / threads * PAGE,
					     .to = npages * (t + 1) / threads * PAGE};
	/* The last range runs on this thread; so does any a thread could not take. */
	for (started = 0; started + 1 < threads; started++)
		if (pthread_create(&r[started].thread, NULL, digest_range, &r[started]))
			break;
	for (t = started; t < threads; t++)
		digest_range(&r[t]);
	for (t = 0; t < started; t++)
		pthread_join(r[t].thread, NULL);
	for (t = 0; t < threads && !err; t++)
		err = r[t].err;
	free(r);
	if (err) {
		free(d);
		return -err;
	}
	*out = d;
	return 0;
}

int ram_digests(const struct ram_file *rf, const uint8_t key[RAM_KEY_BYTES], uint64_t **out)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t per = RAM_DIGEST_MIN_BYTES, threads = (rf->size + per - 1) / per;

	if (cpus < 1)
		cpus = 1;
	if (threads > (uint64_t)cpus)
		threads = cpus;
	if (threads > RAM_DIGEST_MAX_THREADS)
		threads = RAM_DIGEST_MAX_THREADS;
	return ram_digests_threads(rf, key, threads, out);
}

int ram_repair_send(int sock, const struct ram_file *rf, const uint64_t *mine, const void *theirs,
		    uint64_t *repaired)
{
	uint64_t npages = rf->size / PAGE, i, le;
	size_t rec = 8 + PAGE, used = 0;
	uint8_t *msg = malloc(REPAIR_BATCH * rec);
	char done[64];
	int ret = 0;

	*repaired = 0;
	if (!msg)
		return -ENOMEM;
	for (i = 0; i < npages && !ret; i++) {
		memcpy(&le, (const uint8_t *)theirs + i * 8, 8);
		if (le64toh(le) == mine[i])
			continue;
		le = htole64(i * PAGE);
		memcpy(msg + used, &le, 8);
		if (pread(rf->fd, msg + used + 8, PAGE, i * PAGE) != PAGE) {
			ret = -EIO;
			break;
		}
		used += rec;
		(*repaired)++;
		if (used == REPAIR_BATCH * rec) {
			ret = wire_send(sock, WIRE_RAM_PAGES, msg, used);
			used = 0;
		}
	}
	if (!ret && used)
		ret = wire_send(sock, WIRE_RAM_PAGES, msg, used);
	free(msg);
	snprintf(done, sizeof(done), "pages %" PRIu64, *repaired);
	return ret ? ret : wire_send_text(sock, WIRE_RAM_DONE, done);
}

int ram_repair_receive(int sock, const struct ram_file *rf, uint64_t *repaired, char *why,
		       size_t len)
{
	size_t rec = 8 + PAGE, n, i;
	enum wire_type type;
	uint64_t off, announced;
	char *payload;
	int ret;

	*repaired = 0;
	for (;;) {
		ret = wire_recv(sock, &type, &payload, &n);
		if (ret) {
			snprintf(why, len, "the connection broke off during the RAM repair");
			return ret;
		}
		if (type == WIRE_RAM_DONE) {
			ret = !payload || sscanf(payload, "pages %" SCNu64, &announced) != 1 ||
			      announced != *repaired;
			free(payload);
			if (ret) {
				snprintf(why, len, "the source's RAM repair count does not match");
				return -EPROTO;
			}
			return 0;
		}
		if (type != WIRE_RAM_PAGES || !n || n % rec) {
			free(payload);
			snprintf(why, len, "expected RAM repair pages, got %s",
				 wire_type_name(type));
			return -EPROTO;
		}
		for (i = 0; i < n; i += rec) {
			memcpy(&off, payload + i, 8);
			off = le64toh(off);
			if (off % PAGE || off >= rf->size) {
				free(payload);
				snprintf(why, len, "a repaired page lies outside the RAM file");
				return -ERANGE;
			}
			if (pwrite(rf->fd, payload + i + 8, PAGE, off) != PAGE) {
				free(payload);
				snprintf(why, len, "cannot write QEMU's RAM file: %s",
					 strerror(errno));
				return -EIO;
			}
			(*repaired)++;
		}
		free(payload);
	}
}
