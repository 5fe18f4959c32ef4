/*
 * keygen.c: `kvmmig-ctl keygen [FILE]`: writes a new migration key (mode
 * 0600; the directory is created 0700 if missing). It never overwrites an
 * existing key: a host whose key changed refuses every migration.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/commands.h"
#include "ctl/keyfile.h"
#include "ctl/netio.h"

int keygen_main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : KVMMIG_DEFAULT_KEY;
	struct migration_key key;
	char text[2 * KVMMIG_KEY_LEN + 2], dir[4096];
	int fd, ret;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"Usage: kvmmig-ctl keygen [FILE]\n"
			"  writes a new migration key to FILE (default " KVMMIG_DEFAULT_KEY ")\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) && errno != EEXIST) {
		fprintf(stderr, "kvmmig-ctl: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (key_random(&key)) {
		fprintf(stderr, "kvmmig-ctl: the kernel gave no random bytes: %s\n",
			strerror(errno));
		return 1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "kvmmig-ctl: cannot create %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (keygen never replaces a key: remove it first)" : "");
		return 1;
	}
	key_format(&key, text);
	ret = write_full(fd, text, strlen(text));
	memset(&key, 0, sizeof(key));
	memset(text, 0, sizeof(text));
	if (ret || fsync(fd) || close(fd)) {
		fprintf(stderr, "kvmmig-ctl: writing %s failed: %s\n", path,
			strerror(ret ? -ret : errno));
		unlink(path);
		return 1;
	}
	printf("wrote a new migration key to %s: copy it to the other host (same path, mode "
	       "600)\n",
	       path);
	return 0;
}
