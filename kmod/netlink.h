/* SPDX-License-Identifier: GPL-2.0 */
/* netlink.h: the "kvmmig" generic netlink family. */
#ifndef KVMMIG_NETLINK_H
#define KVMMIG_NETLINK_H

struct kvmmig_vm;

void kvmmig_netlink_vm_event(struct kvmmig_vm *vm, u32 event);

int kvmmig_netlink_init(void);
void kvmmig_netlink_uninit(void);

#endif /* KVMMIG_NETLINK_H */
