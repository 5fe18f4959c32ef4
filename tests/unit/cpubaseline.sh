#!/bin/bash
# cpubaseline.sh: kvmmig-ctl cpu-baseline FILE... reads hosts' supported-CPUID dumps
# (kvmmig-vm --print-supported-cpuid) and names the best CPU model all of them run,
# what each lacks for the next model up, and the optional features some lack. The
# dumps here are made up, one per kind of host, so no KVM is needed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
ctl=build/kvmmig-ctl
tmp=$(mktemp -d /tmp/kvmmig-cpubaseline.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The x86-64 levels' bits (common/cpumodel.c), as a host's KVM would list them.
base_1_edx=0x078bfbff
v2_1_ecx=$((0x1 | 0x200 | 0x2000 | 0x80000 | 0x100000 | 0x800000 | 0x200000 | 0x1000000))
v3_1_ecx=$((v2_1_ecx | 0x2 | 0x1000 | 0x400000 | 0x2000000 | 0x4000000 | 0x10000000 | 0x20000000))
v3_7_ebx=$((0x8 | 0x20 | 0x100))
v4_7_ebx=$((v3_7_ebx | 0x10000 | 0x20000 | 0x10000000 | 0x40000000 | 0x80000000))
smep_smap=$((0x80 | 0x100000))
md_clear_spec_ctrl=$((0x400 | 0x4000000))

# host FILE VENDOR(intel|amd) 1.ECX 7.0-EBX 7.0-EDX XCR0 0x80000001-ECX
host() {
	local v
	case $2 in
	intel) v="0x756e6547 0x6c65746e 0x49656e69" ;;
	amd) v="0x68747541 0x444d4163 0x69746e65" ;;
	esac
	{
		echo "# made up for cpubaseline.sh"
		echo "cpuid 0x0 0 0xd $v"
		printf 'cpuid 0x1 0 0x806f8 0x800 0x%x %s\n' $(($3)) $base_1_edx
		printf 'cpuid 0x7 0 0x0 0x%x 0x0 0x%x\n' $(($4)) $(($5))
		echo ""
		printf 'cpuid 0xd 0 0x%x 0x240 0x340 0x0\n' $(($6))
		echo "cpuid 0x80000000 0 0x80000008 0x0 0x0 0x0"
		printf 'cpuid 0x80000001 0 0x0 0x0 0x%x 0x20100800\n' $(($7))
	} >"$tmp/$1"
}

host v4a intel $v3_1_ecx $((v4_7_ebx | smep_smap)) $md_clear_spec_ctrl 0xe7 0x21
host v4b intel $v3_1_ecx $((v4_7_ebx | smep_smap)) $md_clear_spec_ctrl 0xe7 0x21
host v3 intel $v3_1_ecx $((v3_7_ebx | smep_smap)) 0x4000000 0x7 0x21
host v2 intel $v2_1_ecx 0x0 0x0 0x3 0x1
host old intel $((v2_1_ecx & ~0x100000)) 0x0 0x0 0x3 0x1
host amd amd $v3_1_ecx $((v3_7_ebx | smep_smap)) 0x0 0x7 0x21

out=$("$ctl" cpu-baseline "$tmp/v4a" "$tmp/v4b" 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^best model: x86-64-v4 (version 1), on 2 GenuineIntel hosts$" &&
	echo "$out" | grep -q "^start guests with: kvmmig-vm --cpu x86-64-v4$"; then
	pass "two AVX-512 hosts: x86-64-v4, and the option that starts it"
else
	fail "two AVX-512 hosts: x86-64-v4" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

out=$("$ctl" cpu-baseline "$tmp/v4a" "$tmp/v3" "$tmp/v2" 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^best model: x86-64-v2 (version 1), on 3 GenuineIntel hosts$" &&
	echo "$out" | grep -q "^x86-64-v3 (version 1) needs:$" &&
	echo "$out" | grep -q "^  on $tmp/v2: leaf 1 ECX: PCLMULQDQ FMA MOVBE AES XSAVE AVX F16C; leaf 7.0 EBX: BMI1 AVX2 BMI2; leaf 0xd.0 EAX (XCR0): AVX; leaf 0x80000001 ECX: ABM$" &&
	! echo "$out" | grep -q "on $tmp/v3:"; then
	pass "an AVX-512, an AVX2 and an SSE4.2 host: x86-64-v2, and only the SSE4.2 host lacks v3's features, named"
else
	fail "an AVX-512, an AVX2 and an SSE4.2 host: x86-64-v2" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

out=$("$ctl" cpu-baseline "$tmp/v4a" "$tmp/v3" 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^best model: x86-64-v3 " &&
	echo "$out" | grep -q "^  on $tmp/v3: leaf 7.0 EBX: AVX512F AVX512DQ AVX512CD AVX512BW AVX512VL; leaf 0xd.0 EAX (XCR0): OPMASK ZMM_HI256 HI16_ZMM$" &&
	echo "$out" | grep -q "^  MD_CLEAR (leaf 7.0 EDX) missing on: $tmp/v3$" &&
	! echo "$out" | grep -q "SPEC_CTRL (leaf"; then
	pass "the next model up and the mitigations some hosts lack are named (MD_CLEAR on the AVX2 host)"
else
	fail "the next model up and the mitigations some hosts lack are named" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

out=$("$ctl" cpu-baseline "$tmp/v2" "$tmp/old" 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "^no named model runs on every host$" &&
	echo "$out" | grep -q "^  on $tmp/old: leaf 1 ECX: SSE4_2$"; then
	pass "a host without SSE4.2: no model, and the missing feature named"
else
	fail "a host without SSE4.2: no model" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

out=$("$ctl" cpu-baseline "$tmp/v3" "$tmp/amd" 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "GenuineIntel CPUs, $tmp/amd AuthenticAMD: a running guest cannot move between vendors"; then
	pass "Intel and AMD hosts are refused together: a guest cannot move between vendors"
else
	fail "Intel and AMD hosts are refused together" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

{ cat "$tmp/v4b"; echo "cpuid 0x80000008 0 0x3027 0x0 0x0 0x0"; } >"$tmp/narrow"
out=$("$ctl" cpu-baseline "$tmp/v4a" "$tmp/narrow" 2>&1); rc=$?
if [ $rc = 0 ] && echo "$out" | grep -q "^$tmp/narrow has 39 physical address bits: guests started on hosts with more (at most 40) cannot move there$"; then
	pass "a host with fewer address bits than the models' 40 is named"
else
	fail "a host with fewer address bits than the models' 40 is named" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi

{ head -n 3 "$tmp/v3"; echo "cpuid 0x7 0 zero"; } >"$tmp/bad"
out=$("$ctl" cpu-baseline "$tmp/v3" "$tmp/bad" 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "$tmp/bad: line 4: not 'cpuid 0xFUNCTION.*write it with kvmmig-vm --print-supported-cpuid"; then
	pass "a malformed dump is refused, naming the file and line"
else
	fail "a malformed dump is refused" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi
out=$("$ctl" cpu-baseline "$tmp/none" 2>&1); rc=$?
if [ $rc = 1 ] && echo "$out" | grep -q "unable to read $tmp/none: No such file"; then
	pass "a missing dump is refused"
else
	fail "a missing dump is refused" "exit $rc: $(echo "$out" | tr '\n' ' ')"
fi
finish
