#!/bin/bash
# fuzz-state.sh: builds the state-blob parser (user/vmm/state.c, the very
# file kvmmig-vm uses) into a libFuzzer + ASan + UBSan target and fuzzes it
# for a bounded time (FUZZ_SECONDS, default 10), starting from valid blobs
# that the same source writes (tests/fuzz/state_fuzz.c). Any crash, any
# out-of-bounds access, or a blob accepted that a restore could not apply
# whole (an irqchip set twice, a record missing) is a failure.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=build/tests/state_fuzz
corpus=build/fuzz/state-corpus
mkdir -p build/tests "$corpus"
cc=$(command -v clang-14 || command -v clang)
flags=(-g -O1 -Iinclude/uapi -Iuser -fno-sanitize-recover=undefined -Wno-gnu-variable-sized-type-not-at-end)

if "$cc" "${flags[@]}" -fsanitize=fuzzer,address,undefined -o "$out" tests/fuzz/state_fuzz.c \
	2>build/tests/state_fuzz.log &&
	"$cc" "${flags[@]}" -fsanitize=address,undefined -DSTATE_FUZZ_WRITE_SEEDS -o "$out-seeds" \
		tests/fuzz/state_fuzz.c 2>>build/tests/state_fuzz.log; then
	pass "state-blob fuzz target builds (clang libFuzzer+ASan+UBSan, user/vmm/state.c)"
else
	fail "state-blob fuzz target builds" "$(grep -m3 error build/tests/state_fuzz.log | tr '\n' ' ')"
	finish
	exit
fi
if "$out-seeds" "$corpus" 2>build/tests/state_fuzz.seeds; then
	pass "the parser accepts the seed blobs written by the VMM's own writer"
else
	fail "the parser accepts the seed blobs" "$(head -n 2 build/tests/state_fuzz.seeds | tr '\n' ' ')"
fi

secs=${FUZZ_SECONDS:-10}
if "$out" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
	-artifact_prefix=build/tests/state_fuzz- "$corpus" \
	>build/tests/state_fuzz.run 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build/tests/state_fuzz.run)
	pass "state-blob parser survives ${secs}s of fuzzing ($runs inputs, no crash, no blob accepted half-valid)"
else
	fail "state-blob parser survives ${secs}s of fuzzing" "$(grep -m2 -E 'ERROR|SUMMARY|Assertion' build/tests/state_fuzz.run | tr '\n' ' ') (build/tests/state_fuzz.run)"
fi
finish
