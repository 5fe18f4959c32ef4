#!/bin/sh
# mkinitramfs.sh OUT: builds the Linux test guest's initramfs (newc cpio, gzip): the host's
# static busybox, init, and memcounter built static with the host's gcc.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox || true)
# Static: no program interpreter (readelf comes with binutils, "file" may be missing).
[ -n "$busybox" ] && ! readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter' || {
	echo "mkinitramfs: need a static busybox (apt-get install busybox-static)" >&2
	exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
gcc -O2 -static -Wall -Wextra -Werror -o "$root/memcounter" "$here/memcounter.c"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$out.tmp"
mv "$out.tmp" "$out"
