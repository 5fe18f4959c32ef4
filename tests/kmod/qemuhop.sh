#!/bin/bash
# qemuhop.sh: tests/kmod/qemu.sh's hop from Debian 12's QEMU 7.2 to
# bookworm-backports' 10.0, the destination on the source's machine type.
qemu10=${KVMMIG_QEMU10:-/var/cache/kvmmig/qemu10/usr/bin/qemu-system-x86_64}
[ -x "$qemu10" ] || { echo "SKIP: migrate --qemu from QEMU 7.2 to 10.0: no $qemu10 (scripts/install-deps unpacks it)"; exit 0; }
QEMU_BIN=qemu-system-x86_64 QEMU_DST_BIN=$qemu10 QEMU_HOP_ONLY=1 exec "$(dirname "$0")/qemu.sh"
