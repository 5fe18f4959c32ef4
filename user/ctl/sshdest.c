/* sshdest.c: the destination side started over SSH (see sshdest.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/jsonout.h"
#include "ctl/netio.h"
#include "ctl/peertext.h"
#include "ctl/sshdest.h"

/* How long the remote side may take to say where it listens. */
#define SSH_START_TIMEOUT_S 60

/* [USER@]HOST[:PORT] -> "USER@HOST" (for ssh), "HOST" (for TCP), "PORT". */
static int parse_url(const char *url, char *login, size_t llen, char *host, size_t hlen,
		     char *port, size_t plen)
{
	const char *at, *h, *colon;
	size_t n;

	url += strlen("ssh://");
	n = strcspn(url, "/");
	if (!n || url[n])
		return -1; /* no path: ssh://[user@]host[:port] */
	at = memchr(url, '@', n);
	h = at ? at + 1 : url;
	if (*h == '[') {
		const char *close = memchr(h, ']', url + n - h);

		if (!close)
			return -1;
		snprintf(host, hlen, "%.*s", (int)(close - h - 1), h + 1);
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(h, ':', url + n - h);
		snprintf(host, hlen, "%.*s", (int)((colon ? colon : url + n) - h), h);
	}
	snprintf(port, plen, "%.*s", colon ? (int)(url + n - colon - 1) : 0, colon ? colon + 1 : "");
	if (!host[0] || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789.-_:") != strlen(host) ||
	    strspn(port, "0123456789") != strlen(port))
		return -1;
	snprintf(login, llen, "%.*s%s", at ? (int)(at - url + 1) : 0, url, host);
	return strchr(login, '\'') ? -1 : 0;
}

/* A word safe inside single quotes on the remote shell. */
static int quotable(const char *s)
{
	return !strchr(s, '\'') && !strchr(s, '\n');
}

int ssh_dest_start(struct ssh_dest *d, const char *url, const char *name, const char *ssh,
		   const char *remote_ctl, uint32_t progress_ms, const struct migration_key *key,
		   char *why, size_t len)
{
	char login[300], host[256], port[8], remote[1024], keytext[2 * KVMMIG_KEY_LEN + 2];
	char line[512], script[1100];
	int in[2], out[2];
	time_t deadline;

	if (parse_url(url, login, sizeof(login), host, sizeof(host), port, sizeof(port))) {
		snprintf(why, len, "not an SSH destination: '%s' (expected ssh://[USER@]HOST[:PORT])",
			 url);
		return -1;
	}
	if (!quotable(name) || !quotable(remote_ctl)) {
		snprintf(why, len, "the VM name and --remote-ctl must not contain quotes");
		return -1;
	}
	snprintf(remote, sizeof(remote), "'%s' incoming '%s' --listen :0 --key -", remote_ctl,
		 name);
	if (progress_ms)
		snprintf(remote + strlen(remote), sizeof(remote) - strlen(remote),
			 " --progress-timeout %u", progress_ms / 1000);
	/* The user's ssh command is words for the shell: "ssh -F cfg" works. */
	snprintf(script, sizeof(script), "exec %s \"$@\"", ssh);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		snprintf(why, len, "pipe: %s", strerror(errno));
		return -1;
	}
	d->pid = fork();
	if (d->pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (d->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		if (port[0])
			execl("/bin/sh", "sh", "-c", script, "ssh", "-p", port, "--", login, remote,
			      (char *)NULL);
		else
			execl("/bin/sh", "sh", "-c", script, "ssh", "--", login, remote,
			      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	key_format(key, keytext);
	/* The key goes only down the SSH channel; SIGPIPE is ignored by the tool. */
	write_full(in[1], keytext, strlen(keytext));
	memset(keytext, 0, sizeof(keytext));
	close(in[1]);
	d->out = fdopen(out[0], "r");

	/* "waiting for NAME on ADDR:PORT" says where to connect. */
	deadline = time(NULL) + SSH_START_TIMEOUT_S;
	while (d->out) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		char *colon;

		if (poll(&p, 1, (deadline - time(NULL)) * 1000) != 1)
			break;
		if (!fgets(line, sizeof(line), d->out))
			break;
		if (strncmp(line, "waiting for ", 12) || !(colon = strrchr(line, ':')))
			continue;
		snprintf(d->data, sizeof(d->data), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
			 atoi(colon + 1));
		return 0;
	}
	snprintf(why, len,
		 "the destination side did not start over SSH (%s): see the messages above; the "
		 "destination needs kvmmig-vm --incoming --name %s waiting and kvmmig-ctl (or "
		 "--remote-ctl PATH)",
		 login, name);
	ssh_dest_finish(d, 5);
	return -1;
}

int ssh_dest_finish(struct ssh_dest *d, int timeout_s)
{
	char line[512], clean[2048];
	int status = -1, i;

	if (d->out) {
		int fd = fileno(d->out);

		for (;;) {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			if (poll(&p, 1, timeout_s * 1000) != 1 || !fgets(line, sizeof(line), d->out))
				break;
			line[strcspn(line, "\n")] = '\0';
			peer_text(clean, sizeof(clean), line);
			if (d->json)
				json_line(json_pack("{s:s, s:s}", "event", "destination", "text",
						    clean));
			else
				printf("destination: %s\n", clean);
		}
		fflush(stdout);
		fclose(d->out);
		d->out = NULL;
	}
	if (d->pid <= 0)
		return -1;
	for (i = 0; i < timeout_s * 10; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			break;
		usleep(100000);
	}
	if (i == timeout_s * 10) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, &status, 0);
	}
	d->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
