/*
 * qmpclient.c: kvmmig-ctl's QMP client (user/ctl/qmp.c) against a real,
 * stopped QEMU: an unknown command comes back as QEMU's own error, and a
 * migration to /dev/null (x-ignore-shared and events on) is followed
 * through its MIGRATION events to "completed", as a migration driven by
 * kvmmig-ctl will wait for them.
 *
 *   qmpclient QMP_SOCKET    prints "ok: ..." lines, or "error: ..." and exits 1
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl/qmp.h"

static int bad(struct qmp *q, const char *what)
{
	printf("error: %s: %s\n", what, q->error);
	qmp_close(q);
	return 1;
}

int main(int argc, char **argv)
{
	char seen[256] = "";
	const char *status = "";
	struct qmp q;
	json_t *data;
	int ret;

	if (argc != 2 || qmp_open(&q, argv[1], 10000)) {
		printf("error: %s\n", argc == 2 ? q.error : "usage: qmpclient QMP_SOCKET");
		return 1;
	}
	printf("ok: QEMU %d.%d.%d, pid %d\n", q.major, q.minor, q.micro, (int)q.pid);

	ret = qmp_execute(&q, "no-such-command", NULL, NULL);
	if (ret != -EREMOTEIO || !strstr(q.error, "CommandNotFound"))
		return bad(&q, "an unknown command is not QEMU's CommandNotFound");
	printf("ok: %s\n", q.error);

	if (qmp_execute(&q, "migrate-set-capabilities",
			json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities", "capability",
				  "events", "state", 1, "capability", "x-ignore-shared", "state",
				  1),
			NULL))
		return bad(&q, "migrate-set-capabilities");
	if (qmp_execute(&q, "migrate", json_pack("{s:s}", "uri", "exec:cat >/dev/null"), NULL))
		return bad(&q, "migrate");
	while (strcmp(status, "completed")) {
		if (qmp_wait_event(&q, "MIGRATION", 10000, &data))
			return bad(&q, "waiting for MIGRATION");
		if (json_unpack(data, "{s:s}", "status", &status)) {
			json_decref(data);
			return bad(&q, "a MIGRATION event without status");
		}
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), " %s", status);
		if (!strcmp(status, "failed")) {
			json_decref(data);
			return bad(&q, "the migration failed");
		}
		status = strcmp(status, "completed") ? "" : "completed";
		json_decref(data);
	}
	printf("ok: MIGRATION events:%s\n", seen);
	qmp_close(&q);
	return 0;
}
