#!/bin/bash
# bglib-fail.sh: a module check that fails after one of its test VMMs died
# carries that VMM's own last word (tests/kmod/bglib.sh's fail), so an
# emulator loss stops the script for tests/retry.sh instead of reading as
# kvmmig's failure; a VMM still running, or one that died saying nothing,
# adds nothing.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=$(
	. tests/kmod/bglib.sh
	TEST_SUFFIX=''
	bg lost sh -c 'echo "dirtier: unexpected exit: guest shutdown (triple fault), rip now 0x10; its code is in memory as loaded and cannot fault: a fault of the emulator (QEMU TCG)" >&2; exit 2'
	bg quiet sh -c 'exit 0'
	bg alive sleep 60
	wait_for 10 sh -c "! kill -0 $lost_pid && ! kill -0 $quiet_pid"
	fail "a check" "connection refused"
	echo "not stopped"
)
echo "$out" | sed 's/^/  hook: /'
expect_output "the failure names the dead test VMM and its own verdict" \
	'^FAIL: a check: connection refused; test VMM lost is gone: dirtier: unexpected exit: guest shutdown' echo "$out"
expect_output "an emulator fault in that verdict stops the script for tests/retry.sh" \
	'^info: the emulator lost a guest' echo "$out"
! echo "$out" | grep -q 'not stopped' && pass "and nothing of the script runs after it" ||
	fail "and nothing of the script runs after it" "it went on"
! echo "$out" | grep -Eq 'VMM (quiet|alive)' && pass "a VMM still running or gone without a word adds nothing" ||
	fail "a VMM still running or gone without a word adds nothing" "$(echo "$out" | head -n 1)"
finish
