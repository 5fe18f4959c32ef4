// SPDX-License-Identifier: GPL-2.0
/* main.c: module init and exit, nothing else. */
#include <linux/module.h>
#include <net/genetlink.h>

#include "device.h"
#include "leakcheck.h"
#include "netlink.h"
#include "registry.h"
#include "version.h"

static int __init kvmmig_init(void)
{
	int ret;

	ret = kvmmig_registry_init();
	if (ret)
		goto err_registry;
	ret = kvmmig_netlink_init();
	if (ret)
		goto err_netlink;
	ret = kvmmig_device_init();
	if (ret)
		goto err_device;

	pr_info("kvmmig " KVMMIG_VERSION " loaded (protocol %d)\n",
		KVMMIG_PROTOCOL_VERSION);
	return 0;

err_device:
	kvmmig_netlink_uninit();
err_netlink:
	kvmmig_registry_uninit();
err_registry:
	return ret;
}

static void __exit kvmmig_exit(void)
{
	kvmmig_device_uninit();
	kvmmig_netlink_uninit();
	kvmmig_registry_uninit();
	kvmmig_leakcheck_report();
	pr_info("kvmmig unloaded\n");
}

module_init(kvmmig_init);
module_exit(kvmmig_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Live migration of KVM guests, memory work in the kernel");
MODULE_AUTHOR("The kvmmig developers");
MODULE_VERSION(KVMMIG_VERSION);
MODULE_ALIAS_GENL_FAMILY(KVMMIG_GENL_NAME);
