#!/bin/bash
# suite-limit.sh: a module-suite script that hangs fails after its time
# limit (tests/kmod-suite, KVMMIG_SCRIPT_LIMIT), says what its processes
# wait on, is killed with all it started, and the next script still runs:
# one hang costs minutes of a test host, not its whole time.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The hung script's own processes, by pid (another `sleep 300` on the machine is not its).
printf '#!/bin/bash\necho "PASS: hang starts"\nsleep 300 &\necho $! >>"%s/pids"\nsleep 301 &\necho $! >>"%s/pids"\nwait\n' "$tmp" "$tmp" >"$tmp/hang.sh"
printf '#!/bin/bash\necho "PASS: next runs"\n' >"$tmp/next.sh"
chmod +x "$tmp/hang.sh" "$tmp/next.sh"
: >"$tmp/kmsg"
t0=$SECONDS
KVMMIG_SUITE_KMSG="$tmp/kmsg" KVMMIG_SCRIPT_LIMIT=2 tests/kmod-suite "$tmp/hang.sh" "$tmp/next.sh" >"$tmp/out" 2>&1
rc=$?
secs=$((SECONDS - t0))
sed 's/^/  suite: /' "$tmp/out"
[ $rc != 0 ] && grep -q "^FAIL: $tmp/hang.sh finishes within 2 s" "$tmp/out" && [ $secs -lt 60 ] &&
	pass "a hung script fails at its time limit, not the test host's ($secs s, exit $rc)" ||
	fail "a hung script fails at its time limit, not the test host's" "exit $rc after $secs s"
grep -q "^info: task [0-9]* (sleep) S hrtimer_nanosleep.*sleep 301" "$tmp/out" &&
	pass "the failure says where each of its processes waits (state, wait channel, stack)" ||
	fail "the failure says where each of its processes waits" "no task line for sleep 301"
# living PID...: those of the PIDs that still run (not gone, not a zombie).
living() {
	local p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"
	done
}
pids=$(cat "$tmp/pids" 2>/dev/null)
[ "$(echo $pids | wc -w)" = 2 ] && wait_for 5 test -z "$(living $pids)" &&
	pass "it is killed with everything it started" ||
	fail "it is killed with everything it started" "its sleeps '$pids', still running: $(living $pids)"
grep -q "^PASS: next runs" "$tmp/out" && pass "the next script still runs" ||
	fail "the next script still runs" "not in the output"
! grep -q "^FAIL: $tmp/next.sh" "$tmp/out" && pass "and a script that ends in time does not fail" ||
	fail "and a script that ends in time does not fail" "$(grep "^FAIL: $tmp/next.sh" "$tmp/out")"
finish
