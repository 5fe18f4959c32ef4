# tests/retry.sh (sourced): a test host run that its emulator, not kvmmig, failed, run once more.
#
# testhost_retry [--live] [--any-stop] ARGS...
#   Runs tests/testhost ARGS and prints the lines that count on stdout once it is over;
#   with --live every line also goes to stderr as it comes (progress).
#   If the run met a fault of its emulator (QEMU TCG: a test host kernel's death that
#   tests/testhost names, a guest found running host kernel code, see tests/flight.sh),
#   or with --any-stop stopped without a result at all (for test hosts where kvmmig.ko is
#   never loaded), it runs once more and the first attempt's lines are printed as
#   "info: set aside" lines. A module suite (tests/kmod-suite SCRIPT...) resumes at the
#   script it died in, or whose guest the fault killed, instead (or, when every script had
#   finished clean of it, boots once more for the test host's end checks alone): the
#   scripts finished before keep their lines, each
#   block complete with its own kernel-log check (tests/kmod-suite). Any other failure counts,
#   and so does a second fault. Returns the last run's status.

_testhost_attempt() { # LIVE OUT ARGS...: one run of tests/testhost into OUT
	local live=$1 out=$2
	shift 2
	if [ "$live" = 1 ]; then
		tests/testhost "$@" 2>&1 | tee "$out" >&2
		return "${PIPESTATUS[0]}"
	fi
	tests/testhost "$@" >"$out" 2>&1
}

testhost_retry() {
	local live=0 any_stop=0 out status args i suite=-1 first=-1 keep=0
	while :; do
		case "${1:-}" in
		--live) live=1; shift ;;
		--any-stop) any_stop=1; shift ;;
		*) break ;;
		esac
	done
	out=$(mktemp)
	_testhost_attempt "$live" "$out" "$@"
	status=$?
	if [ "$status" = 0 ] || { ! grep -q 'a fault of the emulator (QEMU TCG)' "$out" &&
		! { [ "$any_stop" = 1 ] && [ "$status" = 125 ]; }; }; then
		cat "$out"
		rm -f "$out"
		return "$status"
	fi
	args=("$@")
	for i in "${!args[@]}"; do [ "${args[$i]}" = tests/kmod-suite ] && suite=$i; done
	# The first script of a module suite that did not finish its block, or
	# whose block met the fault (a guest of that script lost to it).
	if [ "$suite" -ge 0 ]; then
		local end from=1
		for ((i = suite + 1; i < ${#args[@]}; i++)); do
			end=$(grep -nF "info: ${args[$i]} took " "$out" | tail -n 1 | cut -d: -f1)
			[ -n "$end" ] || { first=$i; break; }
			sed -n "${from},${end}p" "$out" | grep -q 'a fault of the emulator (QEMU TCG)' &&
				{ first=$i; break; }
			from=$((end + 1))
		done
		# Every script finished: only the test host's own end checks are left.
		[ "$first" -lt 0 ] && first=${#args[@]}
	fi
	if [ "$first" -gt $((suite + 1)) ]; then
		keep=$(grep -nF "info: ${args[$((first - 1))]} took " "$out" | tail -n 1 | cut -d: -f1)
		head -n "$keep" "$out"
		args=("${args[@]:0:suite+1}" "${args[@]:first}")
	fi
	tail -n +$((keep + 1)) "$out" | sed 's/^/info: set aside (a fault of the emulator): /'
	local notice="info: the test host met a fault of its emulator (above): running it once more"
	[ "$keep" -gt 0 ] && notice="info: the test host met a fault of its emulator (above) in ${args[$((suite + 1))]:-its end checks, every script done}: resuming there"
	echo "$notice"
	[ "$live" = 1 ] && echo "$notice" >&2
	_testhost_attempt "$live" "$out" "${args[@]}"
	status=$?
	cat "$out"
	rm -f "$out"
	return "$status"
}
