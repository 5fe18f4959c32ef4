/* console.c: where guest output goes and guest input comes from (--console). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vm/kvmmig-vm.h"

static struct {
	pthread_mutex_t lock;
	enum console_kind kind;
	int out_fd;
	int in_fd;
	bool termios_saved;
	struct termios saved_termios;
} con = {.lock = PTHREAD_MUTEX_INITIALIZER, .kind = CONSOLE_NONE, .out_fd = -1, .in_fd = -1};

int console_open(const char *spec)
{
	if (!spec || !strcmp(spec, "stdio")) {
		con.kind = CONSOLE_STDIO;
		con.out_fd = STDOUT_FILENO;
		con.in_fd = STDIN_FILENO;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &con.saved_termios) == 0) {
			/* Keystrokes go to the guest as typed; Ctrl-C still stops the VMM. */
			struct termios raw = con.saved_termios;

			raw.c_lflag &= ~(ICANON | ECHO);
			raw.c_iflag &= ~(ICRNL | IXON);
			tcsetattr(STDIN_FILENO, TCSANOW, &raw);
			con.termios_saved = true;
		}
		return 0;
	}
	if (!strcmp(spec, "none")) {
		con.kind = CONSOLE_NONE;
		return 0;
	}
	if (!strncmp(spec, "file:", 5) && spec[5]) {
		con.kind = CONSOLE_FILE;
		con.out_fd = open(spec + 5, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (con.out_fd < 0) {
			int err = -errno;

			vmm_log("unable to open console file %s: %s", spec + 5, strerror(-err));
			return err;
		}
		return 0;
	}
	vmm_log("unable to use console '%s': expected stdio, none or file:PATH", spec);
	return -EINVAL;
}

void console_close(void)
{
	if (con.termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &con.saved_termios);
	if (con.kind == CONSOLE_FILE && con.out_fd >= 0)
		close(con.out_fd);
	con.out_fd = con.in_fd = -1;
}

void console_write(const void *data, size_t len)
{
	const char *p = data;

	if (con.out_fd < 0)
		return;
	pthread_mutex_lock(&con.lock);
	while (len) {
		ssize_t n = write(con.out_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* a closed console must not stop the guest */
		p += n;
		len -= n;
	}
	pthread_mutex_unlock(&con.lock);
}

int console_input_fd(void)
{
	return con.in_fd;
}
