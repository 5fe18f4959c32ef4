/* version.c: `kvmmig-ctl version`: the tool's and the module's versions. */
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/genl.h"

struct module_version {
	char version[64];
	unsigned int protocol;
};

static int on_version(struct nlattr **attrs, void *arg)
{
	struct module_version *v = arg;

	if (attrs[KVMMIG_A_VERSION])
		snprintf(v->version, sizeof(v->version), "%s",
			 nla_get_string(attrs[KVMMIG_A_VERSION]));
	if (attrs[KVMMIG_A_PROTOCOL])
		v->protocol = nla_get_u32(attrs[KVMMIG_A_PROTOCOL]);
	return 0;
}

int version_main(int argc, char **argv)
{
	struct module_version v = {.protocol = 0};
	struct kvmmig_nl nl;
	struct nl_msg *msg;
	int ret;

	if (argc > 1) {
		fprintf(stderr, "Usage: %s\n", argv[0]);
		return 1;
	}
	printf("kvmmig-ctl %s\n", KVMMIG_TOOLS_VERSION);
	fflush(stdout);

	if (kvmmig_nl_open(&nl))
		return 1;
	msg = kvmmig_nl_msg(&nl, KVMMIG_CMD_GET_VERSION, 0);
	ret = msg ? kvmmig_nl_call(&nl, msg, on_version, &v) : -ENOMEM;
	if (ret)
		kvmmig_nl_perror(&nl, "unable to ask kvmmig.ko for its version", ret);
	else
		printf("kvmmig.ko %s (protocol %u)\n", v.version[0] ? v.version : "unknown",
		       v.protocol);
	kvmmig_nl_close(&nl);
	return ret ? 1 : 0;
}
