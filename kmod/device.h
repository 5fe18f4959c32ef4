/* SPDX-License-Identifier: GPL-2.0 */
/* device.h: /dev/kvmmig, through which a VMM attaches its VM. */
#ifndef KVMMIG_DEVICE_H
#define KVMMIG_DEVICE_H

int kvmmig_device_init(void);
void kvmmig_device_uninit(void);

#endif /* KVMMIG_DEVICE_H */
