# lib.sh: the test-line convention shared by every test script.
# Each check prints exactly one line, "PASS: <name>" or "FAIL: <name>: <why>";
# tests/run counts them. Source it, call the helpers, end with `finish`.

. "$(dirname "${BASH_SOURCE[0]}")/tasks.sh"
TEST_SUFFIX=${TEST_SUFFIX:-}
test_failures=0

pass() { echo "PASS: $1${TEST_SUFFIX}"; }
fail() {
	echo "FAIL: $1${TEST_SUFFIX}: $2"
	test_failures=$((test_failures + 1))
	# A guest the emulator lost (tests/flight.sh's verdict in the reason):
	# tests/retry.sh runs the script again, so a module script (miglib.sh,
	# bglib.sh set this) stops here rather than have every check that
	# needed that guest wait out its timeout (a lost source once cost
	# migrate.sh 500 s of them).
	if [ "${STOP_AT_EMULATOR_FAULT:-0}" = 1 ] && [[ $2 == *"a fault of the emulator (QEMU TCG)"* ]]; then
		echo "info: the emulator lost a guest (the line above): the rest of this script depended on it; tests/retry.sh runs it again"
		exit 1
	fi
}

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

# nap SECONDS: sleeps without starting a process. In a test host every fork
# and exec costs 50-400 ms of emulated CPU, so a poll loop of `date` and
# `sleep` kept one of its vCPUs busy, beside the guests under test; `read -t`
# on a pipe that nothing writes to costs nothing.
[ -n "${nap_fd:-}" ] || exec {nap_fd}<> <(:)
nap() {
	local none
	read -r -t "$1" -u "$nap_fd" none || :
}

# wait_for SECONDS CMD...: polls CMD until it succeeds: every 0.1 s for the
# first second, then every 0.3 s (each poll of an external command is a
# fork and exec, dear in a test host).
# KVMMIG_WAIT_TRACE=1: each wait that runs out says so on stderr (a wait that
# always runs out is time the suite loses).
wait_for() {
	local deadline=$((SECONDS + $1)) polls=0 limit=$1
	shift
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			[ "${KVMMIG_WAIT_TRACE:-0}" = 0 ] || echo "info: wait_for ran out after $limit s: $*" >&2
			return 1
		fi
		if ((polls++ < 10)); then nap 0.1; else nap 0.3; fi
	done
}

# threads PID: each thread of that process as comm:state:wchan:cpu-ticks
# (utime+stime, sampled twice a second apart: a spinning vCPU shows +100),
# and the kernel stack of any thread not running or sleeping interruptibly.
threads() {
	local t pid=$1
	declare -A t0
	for t in /proc/$pid/task/*; do t0[$t]=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null); done
	nap 1
	for t in /proc/$pid/task/*; do
		printf '%s:%s:%s:+%s ' "$(cat "$t/comm")" "$(awk '{print $3}' "$t/stat")" "$(cat "$t/wchan")" \
			"$(($(awk '{print $14 + $15}' "$t/stat") - ${t0[$t]:-0}))"
		grep -q '^State:.*[DT]' "$t/status" && task_stack "$t"
	done 2>/dev/null
}

finish() { [ "$test_failures" -eq 0 ]; }

# asleep PID SECS [VCPU]: the percent of SECS seconds vCPU VCPU's (0's)
# thread of VMM PID slept, i.e. neither ran nor waited for a CPU
# (schedstat): a throttle's share, whatever the machine's load.
asleep() {
	local tid t0 t1 r0 w0 r1 w1
	for tid in /proc/"$1"/task/*; do [ "$(cat "$tid/comm" 2>/dev/null)" = "vcpu${3:-0}" ] && break; done
	# Builtins only between the readings: a fork costs milliseconds in a test host.
	read -r r0 w0 _ <"$tid/schedstat"
	t0=${EPOCHREALTIME/./}
	sleep "$2"
	read -r r1 w1 _ <"$tid/schedstat"
	t1=${EPOCHREALTIME/./}
	# The scheduler's clock and the wall clock may drift a little apart (in
	# a test host under TCG by up to a tenth): a share below 0 is 0.
	local share=$((100 - (r1 - r0 + w1 - w0) / 10 / (t1 - t0)))
	echo $((share < 0 ? 0 : share))
}
