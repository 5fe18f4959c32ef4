#!/bin/bash
# fuzz-qmp.sh: builds kvmmig-ctl's QMP client (user/ctl/qmp.c, the very file
# the tool uses) and peer_text() into a libFuzzer + ASan + UBSan target and
# fuzzes them for a bounded time (FUZZ_SECONDS, default 10), starting from
# what QEMU 7.2 and 10.0 really send (tests/fuzz/qmp_fuzz.c).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=build/tests/qmp_fuzz
corpus=build/fuzz/qmp-corpus
mkdir -p build/tests "$corpus"
cc=$(command -v clang-14 || command -v clang)

if "$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude/uapi -Iuser $(pkg-config --cflags jansson) -o "$out" tests/fuzz/qmp_fuzz.c \
	$(pkg-config --libs jansson) 2>build/tests/qmp_fuzz.log; then
	pass "QMP client fuzz target builds (clang libFuzzer+ASan+UBSan, user/ctl/qmp.c)"
else
	fail "QMP client fuzz target builds" "$(grep -m3 error build/tests/qmp_fuzz.log | tr '\n' ' ')"
	finish
	exit
fi

# Seeds: a session as QEMU answers it (ids 1..4: qmp_capabilities, then the
# three commands), with events between, an error, and a STOP event.
greeting='{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}'
printf '%s\r\n{"return": {}, "id": 1}\r\n{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n{"return": {"enabled": true, "present": true}, "id": 2}\r\n{"return": {"status": "completed", "ram": {"total": 532480}}, "id": 3}\r\n{"return": [{"name": "type", "type": "string"}, {"name": "mem", "type": "child<memory-backend-file>"}], "id": 4}\r\n{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n' \
	"$greeting" >"$corpus/session"
printf '%s\r\n{"return": {}, "id": 1}\r\n{"error": {"class": "GenericError", "desc": "Property \\u001b[2J not found"}, "id": 2}\r\n{"error": {"class": "CommandNotFound"}, "id": 3}\r\n{"return": [], "id": 5}\r\n' \
	"$greeting" >"$corpus/errors"
printf '{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}}, "capabilities": []}}\n{"return": {}, "id": 1, "id": 1}\n' >"$corpus/duplicate"

secs=${FUZZ_SECONDS:-10}
if "$out" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix=build/tests/qmp_fuzz- "$corpus" >build/tests/qmp_fuzz.run 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' build/tests/qmp_fuzz.run)
	pass "QMP client survives ${secs}s of fuzzing ($runs inputs, no crash, leak or out-of-bounds access; errors printable)"
else
	fail "QMP client survives ${secs}s of fuzzing" "$(grep -m2 -E 'ERROR|SUMMARY|Assertion' build/tests/qmp_fuzz.run | tr '\n' ' ') (build/tests/qmp_fuzz.run)"
fi
finish
