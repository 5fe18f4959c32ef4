#!/bin/bash
# foundation.sh: runs inside a test host started with --no-module. Proves the
# skeleton module loads and unloads cleanly, answers `version` and `list`,
# keeps its registry straight, and refuses everyone but root.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
TEST_SUFFIX=" [$(uname -r)]"
PATH=$PWD/build:$PWD/build/tests:$PATH
tmp=$(mktemp -d)
holders=()
cleanup() {
	for p in "${holders[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

# Starts attach-vm NAME in the background, holding until killed.
hold_vm() {
	attach-vm "$@" --hold 600 >"$tmp/$1.out" 2>&1 &
	holders+=($!)
	wait_for 10 grep -q "attach" "$tmp/$1.out"
}

expect_output "tool explains how to load a missing module" \
	"not loaded: load it with 'modprobe kvmmig'" kvmmig-ctl version

expect "module loads" insmod "$KVMMIG_KO"
expect_output "/dev/kvmmig is root-only (0600)" '^crw------- 0 0$' \
	stat -c '%A %u %g' /dev/kvmmig
expect_output "module advertises the genl autoload alias" \
	'alias: +net-pf-16-proto-16-family-kvmmig' modinfo "$KVMMIG_KO"

modver=$(modinfo -F version "$KVMMIG_KO")
expect_output "version reports tool and module" \
	"^kvmmig-ctl [0-9.]+.*kvmmig.ko ${modver//./\\.} \(protocol [0-9]+\)$" \
	sh -c 'kvmmig-ctl version | tr "\n" " " | sed "s/ $//"'

out=$(kvmmig-ctl list 2>&1)
if [ $? -eq 0 ] && [ -z "$out" ]; then pass "list with no VMs prints nothing"
else fail "list with no VMs prints nothing" "got: $out"; fi

# Attach a real VM and find it in the list with its geometry and owner.
hold_vm vm0 --mem 16
pid=${holders[-1]}
expect_output "attached VM is listed with owner, size and slots" \
	"^vm0 +$pid +16M +1 idle$" kvmmig-ctl list

expect_output "a taken name is refused (EEXIST)" "attach failed: EEXIST" attach-vm vm0 --hold 0
expect_output "a name with a slash is refused" "attach failed: EINVAL" attach-vm 'bad/name' --hold 0
expect_output "a 32-byte name is refused" "attach failed: EINVAL" \
	attach-vm 0123456789abcdef0123456789abcdef --hold 0
expect_output "unknown attach flags are refused" "attach failed: EINVAL" attach-vm vm9 --flags 4 --hold 0
expect_output "the top attach flag is refused too" "attach failed: EINVAL" attach-vm vm9 --flags 0x80000000 --hold 0
expect_output "KVMMIG_ATTACH_INCOMING (1) is a known flag" "^attached vm9$" attach-vm vm9 --flags 1 --hold 0
expect_output "a non-KVM fd is refused" "attach failed: EINVAL" attach-vm vm9 --fd-of /dev/null --hold 0
# KVM VM files are told apart without file_is_kvm (7.x keeps it for KVM's
# own modules): files KVM owns that are not VMs, and other anon inodes.
expect_output "a vCPU fd is refused" "attach failed: EINVAL" attach-vm vm9 --fd-of @vcpu --hold 0
expect_output "/dev/kvm is refused" "attach failed: EINVAL" attach-vm vm9 --fd-of /dev/kvm --hold 0
expect_output "an eventfd is refused" "attach failed: EINVAL" attach-vm vm9 --fd-of @eventfd --hold 0

hold_vm vm1 --mem 8
expect_output "two VMs are listed" "^vm1 " kvmmig-ctl list

if rmmod kvmmig 2>/dev/null; then fail "rmmod refused while VMs are attached" "rmmod succeeded"
else pass "rmmod refused while VMs are attached"; fi

# A VMM that dies detaches its VM.
kill -9 "$pid"
wait "$pid" 2>/dev/null
if wait_for 5 sh -c '! kvmmig-ctl list | grep -q "^vm0 "'; then pass "killed VMM's VM is detached"
else fail "killed VMM's VM is detached" "$(kvmmig-ctl list)"; fi
expect_output "the name of a detached VM can be reused" "^attached vm0$" attach-vm vm0 --hold 0

# Only root drives kvmmig.
expect_output "netlink version request refused to non-root" "permission denied|Operation not permitted" \
	as_nobody kvmmig-ctl version
expect_output "netlink list request refused to non-root" "permission denied|Operation not permitted" \
	as_nobody kvmmig-ctl list
expect_output "/dev/kvmmig open refused to non-root" "Permission denied" \
	as_nobody sh -c 'exec 3<>/dev/kvmmig && echo opened'

for p in "${holders[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
holders=()
if wait_for 5 sh -c '[ -z "$(kvmmig-ctl list)" ]'; then pass "all VMs detached after their VMMs exit"
else fail "all VMs detached after their VMMs exit" "$(kvmmig-ctl list)"; fi
expect "module unloads" rmmod kvmmig
if [ ! -e /dev/kvmmig ]; then pass "/dev/kvmmig removed at unload"
else fail "/dev/kvmmig removed at unload" "still there"; fi
expect "module loads again after unload" insmod "$KVMMIG_KO"
expect "and unloads again" rmmod kvmmig
finish
