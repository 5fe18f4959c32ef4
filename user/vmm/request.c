/* request.c: the control protocol's requests, parsed from their text (protocol in
 * ctlproto/ctlproto.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto/ctlproto.h"
#include "vmm/digest.h"
#include "vmm/request.h"

int vmm_ctl_take_line(char *buf, size_t *len, char *line)
{
	char *nl = memchr(buf, '\n', *len);
	size_t llen;

	if (!nl)
		return *len == KVMMIG_CTL_LINE_MAX ? -EMSGSIZE : 0;
	llen = nl - buf;
	memcpy(line, buf, llen);
	line[llen] = '\0';
	*len -= llen + 1;
	memmove(buf, nl + 1, *len);
	return 1;
}

static const struct {
	const char *name;
	enum vmm_ctl_command command;
} commands[] = {
    {"status", VMM_CTL_STATUS},
    {"pause", VMM_CTL_PAUSE},
    {"resume", VMM_CTL_RESUME},
    {"save-state", VMM_CTL_SAVE_STATE},
    {"restore-state", VMM_CTL_RESTORE_STATE},
    {"check-cpuid", VMM_CTL_CHECK_CPUID},
    {"save-memory", VMM_CTL_SAVE_MEMORY},
    {"digest", VMM_CTL_DIGEST},
    {"dirty-log", VMM_CTL_DIRTY_LOG},
    {"dirty-ring-reap", VMM_CTL_DIRTY_RING_REAP},
    {"kvmmig-fd", VMM_CTL_KVMMIG_FD},
    {"throttle", VMM_CTL_THROTTLE},
    {"dirty-limit", VMM_CTL_DIRTY_LIMIT},
    {"quit", VMM_CTL_QUIT},
};

static int parse_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int parse_error(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A payload length: decimal digits only, at most KVMMIG_CTL_MAX_PAYLOAD. */
static bool parse_length(const char *arg, uint64_t *len)
{
	unsigned long long v;
	char *end;

	if (!arg || *arg < '0' || *arg > '9')
		return false;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v > KVMMIG_CTL_MAX_PAYLOAD)
		return false;
	*len = v;
	return true;
}

static bool image_name_is_valid(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > VMM_CTL_IMAGE_NAME_MAX || name[0] == '.' || strstr(name, ".."))
		return false;
	for (; *name; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._+-", c)))
			return false;
	}
	return true;
}

static int parse_argument(char *arg, struct vmm_ctl_request *req, char *err, size_t err_size)
{
	unsigned int version = 0;
	char end;

	switch (req->command) {
	case VMM_CTL_SAVE_STATE:
		/* "save-state [VERSION]": an older reader's version (status: blob-versions). */
		if (arg && sscanf(arg, "%u%c", &version, &end) != 1)
			return parse_error(err, err_size, "save-state: bad version '%.64s'", arg);
		req->version = version;
		return 0;
	case VMM_CTL_DIGEST:
		/* "digest [VERSION]": 1 (the default) or 2 (status: digest-versions). */
		if (arg && (sscanf(arg, "%u%c", &version, &end) != 1 || version < 1 ||
			    version > VMM_DIGEST_VERSION))
			return parse_error(err, err_size, "digest: no version '%.64s' (1 to %d)",
					   arg, VMM_DIGEST_VERSION);
		req->version = version ? version : 1;
		return 0;
	case VMM_CTL_RESTORE_STATE:
		if (!arg)
			return parse_error(err, err_size, "restore-state needs the blob length");
		if (!parse_length(arg, &req->payload_len))
			return parse_error(err, err_size,
					   "restore-state: bad length '%.64s' (at most %u)", arg,
					   KVMMIG_CTL_MAX_PAYLOAD);
		return 0;
	case VMM_CTL_CHECK_CPUID:
		if (!parse_length(arg, &req->payload_len) ||
		    req->payload_len > VMM_CTL_CHECK_CPUID_MAX)
			return parse_error(err, err_size,
					   "check-cpuid needs the length of its CPUID lines (at "
					   "most %u)",
					   VMM_CTL_CHECK_CPUID_MAX);
		return 0;
	case VMM_CTL_SAVE_MEMORY:
		if (!arg)
			return parse_error(err, err_size,
					   "save-memory needs a file name (a new file in the image "
					   "directory)");
		if (!image_name_is_valid(arg))
			return parse_error(
			    err, err_size,
			    "save-memory: '%.64s' is not a file name: name a new file in "
			    "the image directory (1 to %d of A-Z a-z 0-9 . _ + -, not "
			    "starting with '.', no '..')",
			    arg, VMM_CTL_IMAGE_NAME_MAX);
		req->image = arg;
		return 0;
	case VMM_CTL_DIRTY_LOG:
		req->on = arg && !strcmp(arg, "on");
		if (!arg || (!req->on && strcmp(arg, "off")))
			return parse_error(err, err_size, "dirty-log needs on or off");
		return 0;
	case VMM_CTL_THROTTLE:
	case VMM_CTL_DIRTY_LIMIT: {
		/*
		 * "throttle PERCENT [MASK]": 0 to 99; "dirty-limit PAGES [MASK]":
		 * pages a second, 0 to 10^12; decimal digits only. MASK, 0x and 1
		 * to 16 hex digits, the vCPUs it applies to (all if none: a dirty
		 * ring's per-vCPU rates let the tool name only the vCPUs that
		 * dirty too fast).
		 */
		const char *name = req->command == VMM_CTL_THROTTLE ? "throttle" : "dirty-limit";
		size_t max_digits = req->command == VMM_CTL_THROTTLE ? 2 : 13;
		char *mask = arg ? strchr(arg, ' ') : NULL;
		size_t digits;

		if (mask)
			*mask++ = '\0';
		if (!arg || !*arg || strspn(arg, "0123456789") != strlen(arg) ||
		    strlen(arg) > max_digits ||
		    (req->command == VMM_CTL_DIRTY_LIMIT && strtoull(arg, NULL, 10) > 1000000000000ull))
			return parse_error(err, err_size, "%s needs %s, not '%.64s'", name,
					   req->command == VMM_CTL_THROTTLE
					       ? "a percentage from 0 to 99"
					       : "pages a second from 0 to 10^12",
					   arg ? arg : "");
		req->percent = req->command == VMM_CTL_THROTTLE ? atoi(arg) : 0;
		req->pages_per_s = req->command == VMM_CTL_DIRTY_LIMIT ? strtoull(arg, NULL, 10) : 0;
		req->vcpu_mask = ~0ull;
		if (!mask)
			return 0;
		digits = strlen(mask) - 2;
		if (strncmp(mask, "0x", 2) || !digits || digits > 16 ||
		    strspn(mask + 2, "0123456789abcdefABCDEF") != digits ||
		    !(req->vcpu_mask = strtoull(mask, NULL, 16)))
			return parse_error(err, err_size,
					   "%s: the vCPU mask is 0x and 1 to 16 hex digits, not "
					   "'%.64s'",
					   name, mask);
		return 0;
	}
	default:
		return 0; /* the others take no argument; extra words are ignored */
	}
}

int vmm_ctl_parse_request(char *line, struct vmm_ctl_request *req, char *err, size_t err_size)
{
	char *save, *cmd = strtok_r(line, " ", &save), *arg = strtok_r(NULL, "", &save);

	memset(req, 0, sizeof(*req));
	if (!cmd)
		return parse_error(err, err_size, "empty request");
	if (arg && !*arg)
		arg = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(cmd, commands[i].name))
			continue;
		req->command = commands[i].command;
		return parse_argument(arg, req, err, err_size);
	}
	return parse_error(err, err_size,
			   "unknown command '%.64s' (status, pause, resume, save-state, "
			   "restore-state, check-cpuid, save-memory, digest, dirty-log, dirty-ring-reap, "
			   "kvmmig-fd, "
			   "throttle, dirty-limit, quit)",
			   cmd);
}
