/*
 * ctl_fuzz.c: libFuzzer target for the control protocol's request parser.
 * Builds the VMM's own user/vmm/request.c and plays the server: the input
 * is what a client sends, taken in pieces as recv() might deliver it, cut
 * into lines, each line parsed; the payload a request announces is
 * skipped, and check-cpuid's is parsed as the VMM parses it
 * (user/common/cpuidtext.c): what it accepts must be in range, each leaf
 * once, within the cap; what it refuses, refused in one line. Buffers are
 * sized exactly, so ASan sees any read or write past them.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude/uapi -Iuser \
 *         tests/fuzz/ctl_fuzz.c -o build/tests/ctl_fuzz
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "../../user/common/cpuidtext.c"
#include "../../user/vmm/request.c"

#define CPUID_CAP 8

static void check_parsed(const char *line, size_t line_len, const struct vmm_ctl_request *req)
{
	assert(req->command <= VMM_CTL_QUIT);
	assert(req->payload_len <= KVMMIG_CTL_MAX_PAYLOAD);
	if (req->payload_len)
		assert(req->command == VMM_CTL_RESTORE_STATE ||
		       req->command == VMM_CTL_CHECK_CPUID);
	if (req->command == VMM_CTL_SAVE_MEMORY) {
		/* A file name in the image directory, never a way out of it. */
		assert(req->image > line && req->image < line + line_len);
		assert(*req->image && *req->image != '.' &&
		       strlen(req->image) <= VMM_CTL_IMAGE_NAME_MAX);
		assert(!strchr(req->image, '/') && !strstr(req->image, ".."));
	}
	/* A vCPU throttle is a share of time: never all of it. */
	assert(req->command == VMM_CTL_THROTTLE ? req->percent <= 99 : !req->percent);
}

static void parse_cpuid_payload(const uint8_t *data, size_t len)
{
	char *text = malloc(len + 1);
	struct kvm_cpuid2 *cpuid = malloc(sizeof(*cpuid) + CPUID_CAP * sizeof(cpuid->entries[0]));

	struct cpuid_text t = {.cpuid = cpuid, .cap = CPUID_CAP};
	char err[256] = "";

	memcpy(text, data, len);
	text[len] = '\0';
	if (cpuid_text_parse(text, data[0] & 1 ? CPUID_TEXT_COMMENTS : 0, &t, err, sizeof(err))) {
		assert(err[0] && !strchr(err, '\n'));
	} else {
		assert(cpuid->nent <= CPUID_CAP);
		assert(strlen(t.model) < CPUID_TEXT_MODEL_MAX && (!t.model[0] || t.model_version));
		for (uint32_t i = 0; i < cpuid->nent; i++) {
			uint32_t f = cpuid->entries[i].function & 0xffffff00u;

			assert(f == 0 || f == 0x40000000u || f == 0x80000000u || f == 0xc0000000u);
			assert(cpuid->entries[i].index <= 255);
			for (uint32_t j = 0; j < i; j++)
				assert(cpuid->entries[j].function != cpuid->entries[i].function ||
				       cpuid->entries[j].index != cpuid->entries[i].index);
		}
	}
	free(text);
	free(cpuid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(KVMMIG_CTL_LINE_MAX), *line = malloc(KVMMIG_CTL_LINE_MAX);
	size_t off = 1, len = 0, piece;

	if (!size)
		goto out;
	/* The first byte says how much each recv() delivers: 1 to 256 bytes. */
	piece = (size_t)data[0] + 1;
	while (off < size || len) {
		size_t n = size - off < piece ? size - off : piece;
		struct vmm_ctl_request req;
		char err[512] = "";
		int r;

		if (n > KVMMIG_CTL_LINE_MAX - len)
			n = KVMMIG_CTL_LINE_MAX - len;
		memcpy(buf + len, data + off, n);
		len += n;
		off += n;
		r = vmm_ctl_take_line(buf, &len, line);
		if (r == -EMSGSIZE)
			break; /* the server answers "line too long" and hangs up */
		if (r == 0) {
			if (off == size)
				break; /* the client stopped mid-line */
			continue;
		}
		assert(r == 1 && len < KVMMIG_CTL_LINE_MAX && !memchr(line, '\n', strlen(line)));
		if (vmm_ctl_parse_request(line, &req, err, sizeof(err))) {
			assert(err[0] && !strchr(err, '\n'));
			continue;
		}
		check_parsed(line, KVMMIG_CTL_LINE_MAX, &req);
		if (req.payload_len) {
			/* The payload: what is buffered first, then the rest of the input. */
			uint8_t *payload = malloc(req.payload_len);
			size_t have = len < req.payload_len ? len : req.payload_len, more;

			memcpy(payload, buf, have);
			len -= have;
			memmove(buf, buf + have, len);
			more = size - off < req.payload_len - have ? size - off
								   : req.payload_len - have;
			memcpy(payload + have, data + off, more);
			off += more;
			if (req.command == VMM_CTL_CHECK_CPUID && have + more)
				parse_cpuid_payload(payload, have + more);
			free(payload);
		}
	}
out:
	free(buf);
	free(line);
	return 0;
}
