#!/bin/bash
# cpumodels.sh: the named CPU models on this host's KVM. kvmmig-vm starts exactly the
# models kvmmig-ctl cpu-baseline says this host runs (the next one up is refused at
# start, naming the same missing features); x86-64-v2 keeps SMEP/SMAP/FSGSBASE/INVPCID
# and the speculation controls the host has, and nothing beyond its level; status and
# the state blob carry the model and its version, and a destination of another model
# refuses the guest, saying which to start. What the VMM gives is read from status (the
# CPUID it set); the guest-visible side is tests/vm/cpuid.sh's, in a test host.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build
ctl=$build/kvmmig-ctl

if "$vm_bin" --print-supported-cpuid >"$vm_tmp/here.cpuid" 2>"$vm_tmp/print.err" &&
	grep -q '^cpuid 0x0 0 ' "$vm_tmp/here.cpuid"; then
	pass "kvmmig-vm --print-supported-cpuid writes this host's CPUID ($(grep -c '^cpuid' "$vm_tmp/here.cpuid") leaves)"
else
	fail "kvmmig-vm --print-supported-cpuid" "$(cat "$vm_tmp/print.err")"
	finish
	exit
fi
baseline=$("$ctl" cpu-baseline "$vm_tmp/here.cpuid" 2>&1)
best=$(echo "$baseline" | sed -n 's/^best model: \([^ ]*\) .*/\1/p')
next_lacks=$(echo "$baseline" | sed -n "s|^  on $vm_tmp/here.cpuid: ||p")
echo "info: cpu-baseline of this host: $(echo "$baseline" | head -n 4 | tr '\n' ' ')"

reached=${best:+yes}
[ -n "$best" ] || reached=no
for model in x86-64-v2 x86-64-v3 x86-64-v4; do
	name=m${model##*-}
	vm_start $name --cpus 1 --mem 32M --incoming --cpu $model
	vm_wait_exit $name 1
	if [ "$reached" = yes ]; then
		if [ "$vm_status" = 124 ] && vm_ctl $name status | grep -q "^cpu-model $model 1$"; then
			pass "--cpu $model starts where cpu-baseline says it runs; status says 'cpu-model $model 1'"
		else
			fail "--cpu $model starts where cpu-baseline says it runs" "exit $vm_status: $(cat "$vm_tmp/$name.err")"
		fi
		vm_ctl $name quit >/dev/null 2>&1
		[ "$model" = "$best" ] && reached=next
	elif [ "$reached" = next ]; then
		if [ "$vm_status" = 1 ] &&
			grep -qF "this host cannot run CPU model $model: its KVM lacks $next_lacks: choose a lower model" "$vm_tmp/$name.err"; then
			pass "--cpu $model, one above what cpu-baseline says, is refused at start naming what this host lacks ($next_lacks)"
		else
			fail "--cpu $model is refused at start" "exit $vm_status, wanted the lack of '$next_lacks': $(cat "$vm_tmp/$name.err")"
		fi
		reached=no
	else
		[ "$vm_status" = 124 ] && vm_ctl $name quit >/dev/null 2>&1
		[ "$vm_status" != 124 ] &&
			pass "--cpu $model is refused here, as the model below it" ||
			fail "--cpu $model is refused here" "it started"
	fi
done

# reg FILE-or-TEXT FUNCTION INDEX REG: a register of "cpuid" lines, 0 if the leaf is absent.
reg() {
	local col
	case $4 in eax) col=4 ;; ebx) col=5 ;; ecx) col=6 ;; edx) col=7 ;; esac
	echo "$1" | awk -v f="$2" -v i="$3" -v c=$col '$1 == "cpuid" && $2 == f && $3 == i { v = $c } END { print v ? v : "0x0" }'
}

vm_start v2 --cpus 2 --mem 64M --cpu x86-64-v2 --payload "$dirtymem" --append "pages=1024 report_ms=20"
wait_iter v2 0 20 10
here=$(cat "$vm_tmp/here.cpuid")
guest=$(vm_ctl v2 status | grep '^cpuid ')
# x86-64-v2: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT, PCID x2APIC TSC-deadline OSXSAVE HYPERVISOR.
l1=$(reg "$guest" 0x1 0 ecx)
if [ $((l1 & ~(0x1 | 0x200 | 0x2000 | 0x80000 | 0x100000 | 0x800000 | 0x20000 | 0x200000 | 0x1000000 | 0x8000000 | 0x80000000))) = 0 ] &&
	[ $((l1 & 0x80000000)) != 0 ]; then
	pass "x86-64-v2: leaf 1 ECX $l1 has nothing beyond the level (no AVX, AES, XSAVE, RDRAND), HYPERVISOR set"
else
	fail "x86-64-v2: leaf 1 ECX has nothing beyond the level" "leaf 1 ECX $l1"
fi
# kept: FSGSBASE SMEP INVPCID SMAP; 7.0 EDX MD_CLEAR SPEC_CTRL STIBP FLUSH_L1D ARCH_CAPABILITIES SSBD;
# 0x80000008 EBX AMD_IBPB ... AMD_IBPB_RET; 0x80000021 EAX LFENCE_RDTSC ... SRSO_USER_KERNEL_NO.
ok=1 why=""
for word in "0x7 0 ebx 0x100481" "0x7 0 ecx 0x4" "0x7 0 edx 0xbc000400" "0x7 2 edx 0x37" \
	"0x80000008 0 ebx 0x770fd000" "0x80000021 0 eax 0x78000124"; do
	set -- $word
	h=$(reg "$here" $1 $2 $3) g=$(reg "$guest" $1 $2 $3)
	if [ $((h & $4)) != $((g & $4)) ] || [ $((g & ~$4)) != 0 ]; then
		ok=0 why="$why leaf $1.$2 $3: host $h, guest $g, kept mask $4;"
	fi
done
[ $ok = 1 ] &&
	pass "x86-64-v2 keeps every protection and speculation-control bit this host has (7.0 EBX $(reg "$guest" 0x7 0 ebx), 7.0 EDX $(reg "$guest" 0x7 0 edx), 0x80000008 EBX $(reg "$guest" 0x80000008 0 ebx)) and no other leaf 7 feature" ||
	fail "x86-64-v2 keeps the protection and speculation-control bits" "$why"
phys=$(reg "$guest" 0x80000008 0 eax)
if [ $((phys & 0xff)) -le 40 ] && [ $((phys & 0xff)) -gt 0 ] && ! echo "$guest" | grep -q '^cpuid 0xd ' &&
	! echo "$guest" | grep -q '^cpuid 0xa ' && [ $(($(reg "$guest" 0x80000007 0 edx) & 0x100)) = 0 ]; then
	pass "x86-64-v2: physical address width $((phys & 0xff)) bits (at most 40), no XSAVE leaf, no PMU leaf, no invariant TSC"
else
	fail "x86-64-v2: address width capped, no XSAVE/PMU leaf, no invariant TSC" \
		"0x80000008 EAX $phys, leaves: $(echo "$guest" | awk '{print $2}' | tr '\n' ' ')"
fi

# The model travels with the guest: a destination of another model refuses it and says which to start.
expect "pause the x86-64-v2 guest and save its state" vm_ctl v2 pause
vm_ctl v2 save-state >"$vm_tmp/v2.state"
vm_start dst --cpus 2 --mem 64M --incoming
if out=$(vm_ctl dst restore-state <"$vm_tmp/v2.state" 2>&1); then
	fail "a host-model destination refuses an x86-64-v2 guest's state" "restore-state answered ok"
elif echo "$out" | grep -q "the guest runs CPU model x86-64-v2 version 1, this VM host version 1: start kvmmig-vm --incoming --cpu x86-64-v2"; then
	pass "a host-model destination refuses an x86-64-v2 guest's state, naming the model to start"
else
	fail "a host-model destination refuses an x86-64-v2 guest's state" "$out"
fi
vm_ctl dst quit >/dev/null 2>&1
vm_ctl v2 save-memory v2.mem >/dev/null
vm_start dst2 --cpus 2 --mem 64M --incoming --cpu x86-64-v2 --mem-file "$vm_images/v2.mem"
if vm_ctl dst2 restore-state <"$vm_tmp/v2.state" >/dev/null 2>&1 && vm_ctl dst2 resume >/dev/null; then
	before=$(last_iter dst2 0)
	wait_iter dst2 0 $((${before:-0} + 5)) 10
	pass "an x86-64-v2 destination restores the guest, which runs on (iter ${before:-?} -> $(last_iter dst2 0))"
else
	fail "an x86-64-v2 destination restores the guest" "$(tail -n 2 "$vm_tmp/dst2.err")"
fi
vm_ctl dst2 quit >/dev/null 2>&1
vm_ctl v2 quit >/dev/null 2>&1

# baseline, the retired model, is an alias now; it says so.
vm_start old --cpus 1 --mem 32M --incoming --cpu baseline
if vm_ctl old status | grep -q "^cpu-model x86-64-v2 1$" &&
	grep -q "^kvmmig-vm: --cpu baseline is deprecated and now means x86-64-v2 (version 1)" "$vm_tmp/old.err"; then
	pass "--cpu baseline runs x86-64-v2 version 1 and says it is deprecated"
else
	fail "--cpu baseline runs x86-64-v2 and says it is deprecated" "$(cat "$vm_tmp/old.err")"
fi
vm_ctl old quit >/dev/null 2>&1
expect_output "an unknown model is refused, listing the models" \
	"invalid --cpu 'pentium': one of host, x86-64-v2, x86-64-v3, x86-64-v4" \
	"$vm_bin" --incoming --cpu pentium
finish
