/* SPDX-License-Identifier: GPL-2.0 */
/* netlink.h: the "kvmmig" generic netlink family. */
#ifndef KVMMIG_NETLINK_H
#define KVMMIG_NETLINK_H

#include <linux/types.h>

struct kvmmig_vm;
struct kvmmig_round_stats;


void kvmmig_netlink_vm_event(struct kvmmig_vm *vm, u32 event);
void kvmmig_netlink_round_event(struct kvmmig_vm *vm,
				const struct kvmmig_round_stats *st);

int kvmmig_netlink_init(void);
void kvmmig_netlink_uninit(void);

#endif /* KVMMIG_NETLINK_H */
