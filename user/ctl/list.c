/* list.c: `kvmmig-ctl list`: the VMs attached to kvmmig, one a line. */
#include <inttypes.h>
#include <stdio.h>

#include "ctl/commands.h"
#include "ctl/genl.h"

const char *vm_state_name(uint32_t state)
{
	switch (state) {
	case KVMMIG_VM_IDLE:
		return "idle";
	case KVMMIG_VM_SOURCE:
		return "source";
	case KVMMIG_VM_SOURCE_DONE:
		return "source-done";
	case KVMMIG_VM_DEST:
		return "dest";
	case KVMMIG_VM_DEST_RECEIVING:
		return "receiving";
	case KVMMIG_VM_FAILED:
		return "failed";
	default:
		return "unknown";
	}
}

static int print_vm(struct nlattr **attrs, void *arg)
{
	struct nlattr *vm[KVMMIG_VM_A_MAX + 1];
	int *rows = arg;

	if (!attrs[KVMMIG_A_VM] ||
	    nla_parse_nested(vm, KVMMIG_VM_A_MAX, attrs[KVMMIG_A_VM], NULL) < 0 ||
	    !vm[KVMMIG_VM_A_NAME])
		return -EPROTO;
	if ((*rows)++ == 0)
		printf("%-20s %8s %10s %6s %s\n", "NAME", "PID", "MEMORY", "SLOTS", "STATE");
	printf("%-20s %8u %9" PRIu64 "M %6u %s\n", nla_get_string(vm[KVMMIG_VM_A_NAME]),
	       vm[KVMMIG_VM_A_PID] ? nla_get_u32(vm[KVMMIG_VM_A_PID]) : 0,
	       vm[KVMMIG_VM_A_MEM_BYTES] ? nla_get_u64(vm[KVMMIG_VM_A_MEM_BYTES]) >> 20 : 0,
	       vm[KVMMIG_VM_A_MEMSLOTS] ? nla_get_u32(vm[KVMMIG_VM_A_MEMSLOTS]) : 0,
	       vm_state_name(vm[KVMMIG_VM_A_STATE] ? nla_get_u32(vm[KVMMIG_VM_A_STATE]) : ~0u));
	return 0;
}

int list_main(int argc, char **argv)
{
	struct kvmmig_nl nl;
	struct nl_msg *msg;
	int rows = 0;
	int ret;

	if (argc > 1) {
		fprintf(stderr, "Usage: %s\n", argv[0]);
		return 1;
	}
	if (kvmmig_nl_open(&nl))
		return 1;
	msg = kvmmig_nl_msg(&nl, KVMMIG_CMD_GET_VM, NLM_F_DUMP);
	ret = msg ? kvmmig_nl_call(&nl, msg, print_vm, &rows) : -ENOMEM;
	if (ret)
		kvmmig_nl_perror(&nl, "unable to list attached VMs", ret);
	kvmmig_nl_close(&nl);
	return ret ? 1 : 0;
}
