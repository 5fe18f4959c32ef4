#!/bin/bash
# qemu-boot-loop.sh: runs inside a test host: boots the QEMU guest of
# tests/kmod/qemu.sh (tests/kmod/qemulib.sh) again and again, kvmmig.ko never
# loaded, and counts the boots that die (QEMU exits: a silent reset under
# -no-reboot) before the guest's workloads check ok. The control for issue
# 15's emulator fault: with --smp 2 about one boot in four died, with 1 none
# in 16 (December 2026, bookworm-backports' 6.12 test host).
#
#   tests/testhost --kernel 6.12 --no-module --timeout 3600 -- \
#       tests/stress/qemu-boot-loop.sh [--boots N] [--smp N] [--append ARGS]
#
# --append adds guest kernel arguments (e.g. idle=poll). For shadow paging
# the test host's kernel needs kvm_amd.npt=0 on its command line (kvm_amd is
# in use inside and cannot be reloaded): a KVMMIG_TESTHOST_QEMU wrapper that
# adds it to QEMU's -append did that in December 2026. Slow: not in tests/run.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

boots=16 smp=2 append=
while [ $# -gt 0 ]; do
	case "$1" in
	--boots) boots=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	*) echo "usage: $0 [--boots N] [--smp N] [--append ARGS]" >&2; exit 2 ;;
	esac
done
echo "info: SVM features: $(grep -wo 'npt\|vgif\|flushbyasid\|nrip_save\|decodeassists' /proc/cpuinfo | sort | uniq -c | tr '\n' ' ');" \
	"kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt)"
tmp=$(mktemp -d)
qemu=qemu-system-x86_64
. tests/kmod/qemulib.sh
qemu_guest "$(qemu_guest_kver)"
trap 'qemu_cleanup; rm -rf "$tmp"' EXIT

# The guest's vCPU count and kernel arguments: start_qemu's, changed here only.
eval "$(declare -f start_qemu | sed -e "s/-smp 1/-smp $smp/" -e "s/panic=-1/panic=-1 $append/")"
died=0
for i in $(seq 1 "$boots"); do
	rm -f "$tmp"/b.*
	start_qemu b >/dev/null
	pid=$(cat "$tmp/b.pid")
	wait_for 300 sh -c "! kill -0 $pid || [ \$(grep -c 'diskcheck: step .* ok' $tmp/b.console) -ge 3 ]"
	if kill -0 "$pid" 2>/dev/null; then
		echo "info: boot $i: up"
	else
		wait "$pid"
		died=$((died + 1))
		echo "info: boot $i: DIED (QEMU exit $?); console: $(tail -n 3 "$tmp/b.console" | tr '\n' ' ')"
	fi
	qemu_cleanup
	qpids=()
done
echo "info: $died of $boots boots died (smp $smp, kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt), append '$append')"
[ "$died" = 0 ] && pass "$boots boots of the QEMU guest (smp $smp), none died" ||
	fail "$boots boots of the QEMU guest (smp $smp), none died" "$died died"
finish
