#!/bin/bash
# cpuid.sh: what --cpu host and --cpu x86-64-v2 give the guest, read from its saved state. PVM
# (this machine's /dev/kvm without hardware virtualization) reports the host's CPUID whatever
# the VMM set, so there this script reruns itself inside a test host, on real (emulated) SVM.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

if [ -z "${KVMMIG_TESTHOST:-}" ] && [ -d /sys/module/kvm_pvm ]; then
	. tests/vm/vmlib.sh
	vm_build
	tests/testhost --kernel 6.1 --no-module --timeout 300 -- tests/vm/cpuid.sh
	status=$?
	if [ $status -ge 124 ]; then
		fail "CPUID test host run" "tests/testhost exited $status (timeout or boot failure)"
		exit 1
	fi
	exit $status
fi

. tests/vm/vmlib.sh
vm_build

# What --cpu x86-64-v2 and host give the guest, read from its saved CPUID (KVM_GET_CPUID2).
"$vm_bin" --print-supported-cpuid >"$vm_tmp/here.cpuid"
here_reg() {
	awk -v f="$1" -v c="$2" '$1 == "cpuid" && $2 == f && $3 == 0 { v = $c } END { print v ? v : "0x0" }' "$vm_tmp/here.cpuid"
}
for model in host x86-64-v2; do
	name=cpu${model//-/}
	vm_start $name --cpus 2 --mem 32M --cpu $model --payload "$dirtymem" --append "pages=256"
	vm_ctl $name pause >/dev/null && vm_ctl $name save-state >"$vm_tmp/$name.state"
	vm_ctl $name quit >/dev/null
done
v2=$vm_tmp/cpux8664v2.state
ecx=$("$vmctl_bin" --cpuid-get "$v2" 1 0x1 ecx)
ebx=$("$vmctl_bin" --cpuid-get "$v2" 1 0x1 ebx)
leaf7=$("$vmctl_bin" --cpuid-get "$v2" 0 0x7 ebx)
leafd=$("$vmctl_bin" --cpuid-get "$v2" 0 0xd eax)
# x86-64-v2's leaf 1 ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT, PCID x2APIC TSC-deadline OSXSAVE HYPERVISOR.
if [ -n "$ecx" ] && [ $((ecx & ~0x89ba2201)) = 0 ] && [ $((ecx & 0x80000000)) != 0 ] &&
	[ "$leafd" = none ] && [ $(((ebx >> 24) & 0xff)) = 1 ]; then
	pass "--cpu x86-64-v2: leaf 1 ECX $ecx has nothing beyond the level, no XSAVE leaf, APIC ID 1 on vCPU 1"
else
	fail "--cpu x86-64-v2: nothing beyond the level" "leaf 1 ECX $ecx EBX $ebx, leaf 0xd $leafd"
fi
# SMEP SMAP FSGSBASE INVPCID: what the old baseline took away.
host7=$(here_reg 0x7 5)
if [ $((leaf7 & 0x100481)) = $((host7 & 0x100481)) ] && [ $((leaf7 & ~0x100481)) = 0 ]; then
	pass "--cpu x86-64-v2 keeps the protection features this host has (leaf 7 EBX $leaf7 of $host7)"
else
	fail "--cpu x86-64-v2 keeps SMEP/SMAP/FSGSBASE/INVPCID" "guest leaf 7 EBX $leaf7, host $host7"
fi
e8=$("$vmctl_bin" --cpuid-get "$v2" 0 0x80000008 ebx)
host_e8=$(here_reg 0x80000008 5)
if [ $((e8 & 0x770fd000)) = $((host_e8 & 0x770fd000)) ] && [ $((e8 & ~0x770fd000)) = 0 ]; then
	pass "--cpu x86-64-v2 keeps AMD's speculation controls this host has (0x80000008 EBX $e8 of $host_e8)"
else
	fail "--cpu x86-64-v2 keeps AMD's speculation controls" "guest 0x80000008 EBX $e8, host $host_e8"
fi
# The vendor is the host's: no model presents another (a running guest cannot change vendors).
gv=$("$vmctl_bin" --cpuid-get "$v2" 0 0x0 ebx)
[ "$((gv))" = "$(($(here_reg 0x0 5)))" ] &&
	pass "--cpu x86-64-v2 presents this host's vendor ($(sed -n 's/^# .*(\(.*\)), by .*/\1/p' "$vm_tmp/here.cpuid"), leaf 0 EBX $gv)" ||
	fail "--cpu x86-64-v2 presents this host's vendor" "guest leaf 0 EBX $gv, host $(here_reg 0x0 5)"
hecx=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpuhost.state" 0 0x1 ecx)
[ -n "$hecx" ] && [ $((hecx & 0x80000020)) = $((0x80000000)) ] &&
	pass "--cpu host: HYPERVISOR set, VMX hidden (leaf 1 ECX $hecx)" ||
	fail "--cpu host: HYPERVISOR set, VMX hidden" "leaf 1 ECX $hecx"

finish
