/* SPDX-License-Identifier: GPL-2.0 */
/* version.h: the module's version and the page-stream protocol it speaks. */
#ifndef KVMMIG_VERSION_H
#define KVMMIG_VERSION_H

#define KVMMIG_VERSION "0.1.0"

/* Bumped whenever the page stream's wire format changes incompatibly. */
#define KVMMIG_PROTOCOL_VERSION 1

#endif /* KVMMIG_VERSION_H */
