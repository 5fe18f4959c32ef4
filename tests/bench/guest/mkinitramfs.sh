#!/bin/sh
# mkinitramfs.sh OUT: the benchmark guest's initramfs (newc cpio, gzip):
# static busybox, init, ratedirty and workpace (static). Same recipe as
# tests/guests/linux/mkinitramfs.sh, another workload.
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
gcc -O2 -static -Wall -Wextra -Werror -o "$root/ratedirty" "$here/ratedirty.c"
gcc -O2 -static -Wall -Wextra -Werror -o "$root/workpace" "$here/workpace.c"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
