/* shape.c: what must match between source and destination before any page moves. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl/shape.h"
#include "ctl/wire.h"

int shape_describe(const struct vmm_status *st, char *buf, size_t len)
{
	size_t n;
	unsigned int i;

	n = snprintf(buf, len, "protocol %d\npage-size %ld\ncpus %u\n", WIRE_PROTOCOL,
		     sysconf(_SC_PAGESIZE), st->cpus);
	for (i = 0; i < st->nslots && n < len; i++)
		n += snprintf(buf + n, len - n, "memslot %u 0x%" PRIx64 " 0x%" PRIx64 "\n",
			      st->slots[i].slot, st->slots[i].gpa, st->slots[i].size);
	/* Before the CPUID lines: a destination kvmmig-ctl of before models forwards only those. */
	if (n < len && st->cpu_model[0])
		n += snprintf(buf + n, len - n, "cpu-model %s\n", st->cpu_model);
	if (n < len && st->tsc_khz)
		n += snprintf(buf + n, len - n, "tsc-khz %u\n", st->tsc_khz);
	if (n < len)
		n += snprintf(buf + n, len - n, "%s", st->cpuid);
	return n < len ? 0 : -1;
}

int shape_cpu_text(const char *hello, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const char *line = hello; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t llen = nl ? (size_t)(nl - line) : strlen(line);

		if (!strncmp(line, "cpuid ", 6) || !strncmp(line, "cpu-model ", 10) ||
		    !strncmp(line, "tsc-khz ", 8)) {
			if (n + llen + 2 > len)
				return -1;
			memcpy(buf + n, line, llen);
			n += llen;
			buf[n++] = '\n';
			buf[n] = '\0';
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int shape_check(const char *hello, const struct vmm_status *st, char *why, size_t len)
{
	unsigned int protocol = 0, cpus = 0, nslots = 0, i;
	long page_size = 0;
	struct vmm_memslot slots[VMM_MAX_SLOTS];
	const char *line;

	for (line = hello; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		struct vmm_memslot s;

		if (sscanf(line, "protocol %u", &protocol) == 1 ||
		    sscanf(line, "page-size %ld", &page_size) == 1 ||
		    sscanf(line, "cpus %u", &cpus) == 1)
			continue;
		if (sscanf(line, "memslot %u %" SCNx64 " %" SCNx64, &s.slot, &s.gpa, &s.size) ==
		    3) {
			if (nslots == VMM_MAX_SLOTS) {
				snprintf(why, len, "the source describes more than %d memslots",
					 VMM_MAX_SLOTS);
				return -1;
			}
			slots[nslots++] = s;
		}
	}
	if (protocol != WIRE_PROTOCOL) {
		snprintf(why, len,
			 "protocol version %u, this kvmmig-ctl speaks %d: install the same kvmmig "
			 "version on both hosts",
			 protocol, WIRE_PROTOCOL);
		return -1;
	}
	if (page_size != sysconf(_SC_PAGESIZE)) {
		snprintf(why, len, "page size %ld, this host uses %ld", page_size,
			 sysconf(_SC_PAGESIZE));
		return -1;
	}
	if (cpus != st->cpus) {
		snprintf(why, len,
			 "the guest has %u vCPUs, the destination VM %u: start kvmmig-vm "
			 "--incoming --cpus %u",
			 cpus, st->cpus, cpus);
		return -1;
	}
	if (nslots != st->nslots)
		goto layout;
	for (i = 0; i < nslots; i++)
		if (slots[i].slot != st->slots[i].slot || slots[i].gpa != st->slots[i].gpa ||
		    slots[i].size != st->slots[i].size)
			goto layout;
	return 0;
layout : {
	uint64_t src_mem = 0;

	for (i = 0; i < nslots; i++)
		src_mem += slots[i].size;
	snprintf(why, len,
		 "memory layout differs: the guest has %u memslots, %" PRIu64
		 " MiB; the destination VM %u memslots, %" PRIu64
		 " MiB: start kvmmig-vm --incoming --mem %" PRIu64 "M",
		 nslots, src_mem >> 20, st->nslots, st->mem >> 20, src_mem >> 20);
	return -1;
}
}
