/* keyfile.c: reading, parsing and making migration keys (see keyfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/keyfile.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int key_parse(const char *text, struct migration_key *key)
{
	size_t i;

	for (i = 0; i < KVMMIG_KEY_LEN; i++) {
		int hi = hexval(text[2 * i]), lo = hi < 0 ? -1 : hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		key->bytes[i] = hi << 4 | lo;
	}
	text += 2 * KVMMIG_KEY_LEN;
	if (*text == '\n')
		text++;
	return *text ? -1 : 0;
}

int key_load(const char *path, struct migration_key *key, char *why, size_t len)
{
	char text[2 * KVMMIG_KEY_LEN + 2];
	struct stat st;
	ssize_t n;
	int fd;

	if (!strcmp(path, "-")) {
		/* One line on stdin: how `migrate ssh://` hands the key over. */
		fd = dup(STDIN_FILENO);
		n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
		if (fd >= 0)
			close(fd);
		text[n < 0 ? 0 : n] = '\0';
		if (key_parse(text, key)) {
			snprintf(why, len, "no migration key on standard input (64 hex digits)");
			memset(text, 0, sizeof(text));
			return -1;
		}
		memset(text, 0, sizeof(text));
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(why, len,
				 "no migration key at %s: create one with `kvmmig-ctl keygen %s` and "
				 "copy it to both hosts, or pass --key FILE",
				 path, path);
		else
			snprintf(why, len, "cannot read the migration key %s: %s", path,
				 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "the migration key %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(why, len,
			 "the migration key %s is readable by others (mode %03o): chmod 600 %s",
			 path, (unsigned int)(st.st_mode & 0777), path);
		close(fd);
		return -1;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	text[n] = '\0';
	if (key_parse(text, key)) {
		snprintf(why, len,
			 "the migration key %s is not 64 hex digits: make a new one with "
			 "`kvmmig-ctl keygen %s`",
			 path, path);
		memset(text, 0, sizeof(text));
		return -1;
	}
	memset(text, 0, sizeof(text));
	return 0;
}

int key_random(struct migration_key *key)
{
	return getrandom(key->bytes, sizeof(key->bytes), 0) == sizeof(key->bytes) ? 0 : -1;
}

void key_format(const struct migration_key *key, char *out)
{
	size_t i;

	for (i = 0; i < KVMMIG_KEY_LEN; i++)
		sprintf(out + 2 * i, "%02x", key->bytes[i]);
	strcpy(out + 2 * KVMMIG_KEY_LEN, "\n");
}
