/*
 * sshdest.h: `kvmmig-ctl migrate NAME ssh://[USER@]HOST[:SSHPORT]`. The
 * source starts the destination's `kvmmig-ctl incoming NAME --listen :0
 * --key -` over SSH, hands it a fresh random migration key on the SSH
 * channel (encrypted and authenticated by SSH), and reads back the port it
 * listens on. The data connection then goes straight to HOST:that port and
 * runs the usual handshake and kernel TLS with the key: SSH only sets up,
 * guest memory never goes through it. The destination's VMM must be
 * waiting (kvmmig-vm --incoming --name NAME), as for a plain migration.
 */
#ifndef KVMMIG_CTL_SSHDEST_H
#define KVMMIG_CTL_SSHDEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "ctl/keyfile.h"

struct ssh_dest {
	pid_t pid;  /* the ssh client, 0 when none */
	FILE *out;  /* the remote incoming's stdout */
	char data[300]; /* "HOST:PORT" of the data connection */
	int json;	/* print the remote side's lines as --json events */
};

static inline int is_ssh_url(const char *dest)
{
	return !strncmp(dest, "ssh://", 6);
}

/*
 * Starts the remote side in @d, which the caller zeroed (and set .json in).
 * @ssh is the ssh command (words split by the shell, e.g. "ssh -F cfg");
 * @remote_ctl the remote kvmmig-ctl;
 * @progress_ms, when not 0, its --progress-timeout (the same bound on both
 * sides). Returns 0 with @d->data set, or -1 with a one-line reason in @why.
 */
int ssh_dest_start(struct ssh_dest *d, const char *url, const char *name, const char *ssh,
		   const char *remote_ctl, uint32_t progress_ms, const struct migration_key *key,
		   char *why, size_t len);

/*
 * Prints what the remote side said ("destination: ...", or --json events
 * {"event":"destination","text":...}; through peer_text()), waits up to
 * @timeout_s for it to exit (then kills it). Returns its exit status, or -1.
 */
int ssh_dest_finish(struct ssh_dest *d, int timeout_s);

#endif /* KVMMIG_CTL_SSHDEST_H */
