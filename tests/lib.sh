# lib.sh: the test-line convention shared by every test script.
# Each check prints exactly one line, "PASS: <name>" or "FAIL: <name>: <why>";
# tests/run counts them. Source it, call the helpers, end with `finish`.

TEST_SUFFIX=${TEST_SUFFIX:-}
test_failures=0

pass() { echo "PASS: $1${TEST_SUFFIX}"; }
fail() { echo "FAIL: $1${TEST_SUFFIX}: $2"; test_failures=$((test_failures + 1)); }

# expect NAME CMD...: passes when CMD exits 0; the failure shows its output.
expect() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "'$*' failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

# expect_output NAME REGEX CMD...: passes when CMD's output matches REGEX.
expect_output() {
	local name=$1 re=$2 out
	shift 2
	out=$("$@" 2>&1)
	if echo "$out" | grep -Eq -- "$re"; then
		pass "$name"
	else
		fail "$name" "expected /$re/ from '$*', got: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
	fi
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# threads PID: each thread of that process as comm:state:wchan:cpu-ticks
# (utime+stime, sampled twice a second apart: a spinning vCPU shows +100),
# and the kernel stack of any thread not running or sleeping interruptibly.
threads() {
	local t pid=$1
	declare -A t0
	for t in /proc/$pid/task/*; do t0[$t]=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null); done
	sleep 1
	for t in /proc/$pid/task/*; do
		printf '%s:%s:%s:+%s ' "$(cat "$t/comm")" "$(awk '{print $3}' "$t/stat")" "$(cat "$t/wchan")" \
			"$(($(awk '{print $14 + $15}' "$t/stat") - ${t0[$t]:-0}))"
		grep -q '^State:.*[DT]' "$t/status" && tr '\n' ' ' <"$t/stack"
	done 2>/dev/null
}

finish() { [ "$test_failures" -eq 0 ]; }
