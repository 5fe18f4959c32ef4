#!/bin/bash
# cpuid.sh: what --cpu host and --cpu baseline give the guest, read from its saved state. PVM
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

# What --cpu baseline and host give the guest, read from its saved CPUID.
for model in host baseline; do
	vm_start cpu$model --cpus 2 --mem 32M --cpu $model --payload "$dirtymem" --append "pages=256"
	vm_ctl cpu$model pause >/dev/null && vm_ctl cpu$model save-state >"$vm_tmp/cpu$model.state"
	vm_ctl cpu$model quit >/dev/null
done
ecx=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpubaseline.state" 1 0x1 ecx)
ebx=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpubaseline.state" 1 0x1 ebx)
leaf7=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpubaseline.state" 0 0x7 ebx)
leafd=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpubaseline.state" 0 0xd eax)
# Allowed leaf 1 ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 x2APIC POPCNT TSC-deadline HYPERVISOR.
if [ -n "$ecx" ] && [ $((ecx & ~0x81b82201)) = 0 ] && [ $((ecx & 0x80000000)) != 0 ] &&
	[ "$leaf7" = 0 ] && [ "$leafd" = none ] && [ $(((ebx >> 24) & 0xff)) = 1 ]; then
	pass "--cpu baseline: only the documented features (leaf 1 ECX $ecx, no leaf 7 features, no XSAVE leaf), APIC ID 1 on vCPU 1"
else
	fail "--cpu baseline: only the documented features" "leaf 1 ECX $ecx EBX $ebx, leaf 7 EBX $leaf7, leaf 0xd $leafd"
fi
hecx=$("$vmctl_bin" --cpuid-get "$vm_tmp/cpuhost.state" 0 0x1 ecx)
[ -n "$hecx" ] && [ $((hecx & 0x80000020)) = $((0x80000000)) ] &&
	pass "--cpu host: HYPERVISOR set, VMX hidden (leaf 1 ECX $hecx)" ||
	fail "--cpu host: HYPERVISOR set, VMX hidden" "leaf 1 ECX $hecx"


finish
