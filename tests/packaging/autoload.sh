#!/bin/bash
# autoload.sh: runs inside a test host (tests/run adds it to the module
# suite of each kernel tests/unit/packaging*.sh staged packages for). The
# only kvmmig.ko modprobe can find is the DKMS-built one, kept with the
# packaged kvmmig-ctl in build/packaging/$(uname -r)/ (tests/packaging/
# stage.sh). Proves the module autoloads when the tool asks for the netlink
# family and when a VMM opens /dev/kvmmig, and that the tool talks to it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
kver=$(uname -r)
TEST_SUFFIX=" [$kver]"
packaged=$PWD/build/packaging/$kver
[ -x "$packaged/kvmmig-ctl" ] || { echo "SKIP: DKMS autoload: nothing staged in $packaged (tests/unit/packaging*.sh)"; exit 0; }

# A module tree of its own: the DKMS module only, found through a modprobe
# wrapper (the test host's /lib/modules is the unpacked image, read-only).
root=/tmp/dkmsroot
mkdir -p "$root/lib/modules/$kver/updates/dkms"
cp "$packaged"/dkms/kvmmig.ko* "$root/lib/modules/$kver/updates/dkms/"
depmod -b "$root" "$kver" 2>/dev/null
cat >/tmp/modprobe-dkms <<WRAP
#!/bin/sh
exec /sbin/modprobe -d $root "\$@"
WRAP
chmod +x /tmp/modprobe-dkms
old_modprobe=$(cat /proc/sys/kernel/modprobe)
echo /tmp/modprobe-dkms >/proc/sys/kernel/modprobe
trap 'echo "$old_modprobe" >/proc/sys/kernel/modprobe' EXIT

expect_output "DKMS module carries the device node for static-nodes" \
	'^kvmmig kvmmig c10:247$' cat "$root/lib/modules/$kver/modules.devname"

ctl=$packaged/kvmmig-ctl

grep -q '^kvmmig ' /proc/modules && rmmod kvmmig
expect_output "asking for the netlink family autoloads the DKMS module" \
	"kvmmig.ko $(modinfo -F version "$root"/lib/modules/$kver/updates/dkms/kvmmig.ko*) " \
	"$ctl" version
expect "packaged kvmmig-ctl lists through the DKMS module" "$ctl" list
rmmod kvmmig

# What `kmod static-nodes` creates at boot on a real system.
mknod /dev/kvmmig c 10 247 && chmod 0600 /dev/kvmmig
if sh -c 'exec 3<>/dev/kvmmig' && grep -q '^kvmmig ' /proc/modules; then
	pass "opening /dev/kvmmig autoloads the DKMS module"
else
	fail "opening /dev/kvmmig autoloads the DKMS module" "module not loaded after open"
fi
grep -q '^kvmmig ' /proc/modules && rmmod kvmmig
finish
