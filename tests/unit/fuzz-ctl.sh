#!/bin/bash
# fuzz-ctl.sh: builds the control protocol's request parser
# (user/vmm/request.c, the very file kvmmig-vm uses) into a libFuzzer + ASan
# + UBSan target and fuzzes it for a bounded time (FUZZ_SECONDS, default
# 10), starting from every request the protocol has (tests/fuzz/ctl_fuzz.c).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=build/tests/ctl_fuzz
corpus=build/fuzz/ctl-corpus
mkdir -p build/tests "$corpus"
cc=$(command -v clang-14 || command -v clang)

if "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude/uapi -Iuser -o "$out" tests/fuzz/ctl_fuzz.c 2>build/tests/ctl_fuzz.log; then
	pass "request parser fuzz target builds (clang libFuzzer+ASan+UBSan, user/vmm/request.c)"
else
	fail "request parser fuzz target builds" "$(grep -m3 error build/tests/ctl_fuzz.log | tr '\n' ' ')"
	finish
	exit
fi

# Seeds: the first byte is the size of each piece the server receives.
printf '\377status\npause\nresume\nsave-state\nsave-state 1\ndigest\ndirty-log on\ndirty-log off\nkvmmig-fd\nthrottle 20\nthrottle 99\nthrottle 0\nsave-memory vm0.mem\nquit\n' \
	>"$corpus/every-command"
printf '\003restore-state 16\nKVMMIGVS\0\0\0\0\0\0\0\0status\n' >"$corpus/restore-state"
printf '\377check-cpuid 58\ncpuid 0x1 0 0x806f8 0x800 0xfed83203 0x178bfbff\ncpuid x\nstatus\n' \
	>"$corpus/check-cpuid"
printf '\377check-cpuid 144\ncpu-model x86-64-v3 1\ntsc-khz 2100000\ncpuid 0x0 0 0xd 0x68747541 0x444d4163 0x69746e65\ncpuid 0x7 0 0x0 0x219c07ab 0x0 0x0\nstatus\n' \
	>"$corpus/check-cpuid-model"
printf '\000save-state 9999999999\nrestore-state -1\ndirty-log maybe\nfrobnicate\n\nsave-memory ../x\nsave-memory /etc/x\nsave-memory .x\n' \
	>"$corpus/refused"

secs=${FUZZ_SECONDS:-10}
if "$out" -max_total_time="$secs" -max_len=16384 -print_final_stats=1 \
	-artifact_prefix=build/tests/ctl_fuzz- "$corpus" >build/tests/ctl_fuzz.run 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build/tests/ctl_fuzz.run)
	pass "request parser survives ${secs}s of fuzzing ($runs inputs, no crash, no out-of-bounds access)"
else
	fail "request parser survives ${secs}s of fuzzing" "$(grep -m2 -E 'ERROR|SUMMARY|Assertion' build/tests/ctl_fuzz.run | tr '\n' ' ') (build/tests/ctl_fuzz.run)"
fi
finish
