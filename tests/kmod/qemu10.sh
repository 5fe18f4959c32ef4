#!/bin/bash
# qemu10.sh: tests/kmod/qemu.sh under bookworm-backports' QEMU 10.0
# (scripts/install-deps unpacks it): the hop, and the faults in which QEMU
# itself is migrating (its cancel at pre-switchover); the two in pre-copy
# are the tool's alone and run under 7.2 (qemu.sh). Its guest's NIC runs in
# QEMU (vhost=off: QEMU's own virtio-net writes the receive buffers), where
# qemu.sh's and qemuhop.sh's run on vhost-net.
qemu10=${KVMMIG_QEMU10:-/var/cache/kvmmig/qemu10/usr/bin/qemu-system-x86_64}
[ -x "$qemu10" ] || { echo "SKIP: migrate --qemu under QEMU 10.0: no $qemu10 (scripts/install-deps unpacks it)"; exit 0; }
QEMU_BIN=$qemu10 QEMU_FAULTS=paused QEMU_NET=off exec "$(dirname "$0")/qemu.sh"
