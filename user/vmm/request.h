/* request.h: the control protocol's requests, parsed from their text (protocol in
 * ctlproto/ctlproto.h). */
#ifndef KVMMIG_VMM_REQUEST_H
#define KVMMIG_VMM_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

enum vmm_ctl_command {
	VMM_CTL_STATUS,
	VMM_CTL_PAUSE,
	VMM_CTL_RESUME,
	VMM_CTL_SAVE_STATE,
	VMM_CTL_RESTORE_STATE,
	VMM_CTL_CHECK_CPUID,
	VMM_CTL_SAVE_MEMORY,
	VMM_CTL_DIGEST,
	VMM_CTL_DIRTY_LOG,
	VMM_CTL_DIRTY_RING_REAP,
	VMM_CTL_KVMMIG_FD,
	VMM_CTL_THROTTLE,
	VMM_CTL_DIRTY_LIMIT,
	VMM_CTL_QUIT,
};

struct vmm_ctl_request {
	enum vmm_ctl_command command;
	uint64_t payload_len; /* restore-state, check-cpuid: bytes that follow the line */
	uint32_t version;     /* save-state: the blob version asked for, 0 for the newest;
			       * digest: 1 or 2 */
	bool on;	      /* dirty-log */
	uint32_t percent;     /* throttle: 0 to 99 */
	uint64_t vcpu_mask;   /* throttle, dirty-limit: the vCPUs it applies to (bit i: vCPU i) */
	uint64_t pages_per_s; /* dirty-limit: 0 to 10^12 */
	const char *image;    /* save-memory: a file name (see below), points into the line */
};

/*
 * save-memory names a new file in the VMM's image directory, never a path:
 * 1 to VMM_CTL_IMAGE_NAME_MAX of [A-Za-z0-9._+-], not starting with '.'
 * and without "..".
 */
#define VMM_CTL_IMAGE_NAME_MAX 128
/* check-cpuid's text: 256 leaves of status lines fit four times over. */
#define VMM_CTL_CHECK_CPUID_MAX 65536

/*
 * Takes the first complete line out of @buf (@len bytes buffered) into
 * @line, NUL-terminated without its newline, and moves the rest to the
 * front. @line must hold KVMMIG_CTL_LINE_MAX bytes. 1 if a line was taken,
 * 0 if more bytes are needed, -EMSGSIZE if @buf is full without a newline.
 */
int vmm_ctl_take_line(char *buf, size_t *len, char *line);
/*
 * Parses one request line (modified in place; @req points into it). 0, or
 * -EINVAL with @err saying what is wrong in one line, ready for "error".
 */
int vmm_ctl_parse_request(char *line, struct vmm_ctl_request *req, char *err, size_t err_size);

#endif /* KVMMIG_VMM_REQUEST_H */
