#!/bin/sh
# mkinitramfs.sh OUT: the QEMU test guest's initramfs (newc cpio, gzip): the
# host's static busybox, init, memcounter, diskcheck and netcheck (static). The guest
# kernel's virtio modules (Debian builds virtio_blk as a module) come in a
# second cpio that tests/kmod/qemu.sh appends for the kernel it boots.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
gcc -O2 -static -Wall -Wextra -Werror -o "$root/memcounter" "$here/../linux/memcounter.c"
gcc -O2 -static -Wall -Wextra -Werror -o "$root/diskcheck" "$here/diskcheck.c"
gcc -O2 -static -Wall -Wextra -Werror -o "$root/netcheck" "$here/netcheck.c"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$out.tmp"
mv "$out.tmp" "$out"
