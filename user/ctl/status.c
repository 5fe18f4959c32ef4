/*
 * status.c: `kvmmig-ctl status NAME`: what the VMM and the module say about
 * a VM, in one place: run state, shape, and the module's session state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl/commands.h"
#include "ctl/genl.h"
#include "ctl/vmmclient.h"

static int print_module_state(struct nlattr **attrs, void *arg)
{
	struct nlattr *vm[KVMMIG_VM_A_MAX + 1];
	(void)arg;
	if (!attrs[KVMMIG_A_VM] ||
	    nla_parse_nested(vm, KVMMIG_VM_A_MAX, attrs[KVMMIG_A_VM], NULL) < 0)
		return -EPROTO;
	printf("kvmmig: %s\n",
	       vm_state_name(vm[KVMMIG_VM_A_STATE] ? nla_get_u32(vm[KVMMIG_VM_A_STATE]) : ~0u));
	return 0;
}

int status_main(int argc, char **argv)
{
	struct vmm_status st;
	struct vmm_conn vmm;
	struct kvmmig_nl nl;
	struct nl_msg *msg;
	unsigned int i;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "Usage: kvmmig-ctl status NAME\n");
		return 1;
	}
	if (vmm_connect(&vmm, argv[1]))
		return 1;
	ret = vmm_status(&vmm, &st);
	vmm_close(&vmm);
	if (ret) {
		fprintf(stderr, "kvmmig-ctl: unable to ask the VMM of %s: %s\n", argv[1],
			vmm.error[0] ? vmm.error : strerror(-ret));
		return 1;
	}
	printf("%s: %s, %u vCPUs, %" PRIu64 " MiB\n", argv[1], st.state, st.cpus, st.mem >> 20);
	/* "x86-64-v3 1": the destination VM must be started with the same name and version. */
	if (st.cpu_model[0]) {
		unsigned int version = 0;
		char model[64] = "";

		sscanf(st.cpu_model, "%63s %u", model, &version);
		printf("cpu model: %s, version %u", model, version);
		if (st.tsc_khz)
			printf("; TSC %u kHz", st.tsc_khz);
		printf("\n");
	}
	if (st.throttle)
		printf("vCPUs throttled to %u%% (a migration's --converge auto holds it)\n",
		       st.throttle);
	if (st.dirty_ring)
		printf("dirty pages tracked by KVM's dirty ring: %u entries per vCPU\n", st.dirty_ring);
	for (i = 0; i < st.nslots; i++)
		printf("memslot %u: gpa 0x%" PRIx64 " size %" PRIu64 " MiB\n", st.slots[i].slot,
		       st.slots[i].gpa, st.slots[i].size >> 20);
	if (!st.attached) {
		printf("kvmmig: not attached\n");
		return 0;
	}
	if (kvmmig_nl_open(&nl))
		return 1;
	msg = kvmmig_nl_msg(&nl, KVMMIG_CMD_GET_VM, 0);
	ret = !msg ? -ENOMEM
	      : nla_put_string(msg, KVMMIG_A_VM_NAME, argv[1])
		  ? (nlmsg_free(msg), -EMSGSIZE)
		  : kvmmig_nl_call(&nl, msg, print_module_state, NULL);
	if (ret)
		kvmmig_nl_perror(&nl, "unable to ask kvmmig.ko about the VM", ret);
	kvmmig_nl_close(&nl);
	return ret ? 1 : 0;
}
