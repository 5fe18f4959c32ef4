#!/bin/bash
# fuzz-stream.sh: builds the page-stream parser (kmod/stream.c, the very
# file the module uses) into a libFuzzer + ASan target and fuzzes it for a
# bounded time (FUZZ_SECONDS, default 20), starting from a seed corpus of
# valid and malformed streams.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=build/tests/stream_fuzz
corpus=build/fuzz/stream-corpus
mkdir -p build/tests "$corpus"
cc=$(command -v clang-14 || command -v clang)

if "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude/uapi -o "$out" tests/fuzz/stream_fuzz.c 2>build/tests/stream_fuzz.log; then
	pass "parser fuzz target builds (clang libFuzzer+ASan+UBSan, kmod/stream.c)"
else
	fail "parser fuzz target builds" "$(head -n 3 build/tests/stream_fuzz.log | tr '\n' ' ')"
	finish
	exit
fi

# Seeds: a valid stream and a few of the malformed cases.
python3 - "$corpus" <<'PY'
import struct, sys
d = sys.argv[1]
rec = lambda t, l=0, g=0, n=0, r=0, f=0: struct.pack("<HHIQII", t, f, l, g, n, r)
hello = rec(1, 16) + struct.pack("<QII", 0x0A0D47494D4D564B, 1, 4096)
seeds = {
    "valid": hello + rec(2, 4096, 0x2000, 1) + b"\x5a" * 4096 + rec(3, 0, 0x100000000, 8)
             + rec(4) + rec(2, 8192, 0xe000, 2) + b"\x01" * 8192 + rec(4, r=1) + rec(5),
    "outside": hello + rec(2, 4096, 0x10000, 1) + b"\x01" * 4096,
    "wrap": hello + rec(3, 0, 0xFFFFFFFFFFFFF000, 2),
    "version": rec(1, 16) + struct.pack("<QII", 0x0A0D47494D4D564B, 2, 4096),
}
for k, v in seeds.items():
    open(f"{d}/{k}", "wb").write(v)
PY

secs=${FUZZ_SECONDS:-20}
if "$out" -max_total_time="$secs" -max_len=20000 -print_final_stats=1 "$corpus" \
	>build/tests/stream_fuzz.run 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build/tests/stream_fuzz.run)
	pass "parser survives ${secs}s of fuzzing ($runs inputs, no crash, no out-of-bounds write)"
else
	fail "parser survives ${secs}s of fuzzing" "$(grep -m2 -E 'ERROR|SUMMARY|Assertion' build/tests/stream_fuzz.run | tr '\n' ' ') (build/tests/stream_fuzz.run)"
fi
finish
