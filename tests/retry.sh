# tests/retry.sh (sourced): a test host run that its emulator, not kvmmig, failed, run again.
#
# testhost_retry [--live] [--any-stop] ARGS...
#   Runs tests/testhost ARGS and prints the lines that count on stdout once it is over;
#   with --live every line also goes to stderr as it comes (progress).
#   If the run met a fault of its emulator (QEMU TCG: a test host kernel's death that
#   tests/testhost names, a guest found running host kernel code, see tests/flight.sh),
#   or with --any-stop stopped without a result at all (for test hosts where kvmmig.ko is
#   never loaded), it runs once more, up to three attempts in all, and each set-aside
#   attempt's lines are printed as "info: set aside" lines. A module suite
#   (tests/kmod-suite SCRIPT...) runs again only the scripts whose guest the fault killed
#   and those it never finished (or, when every script had finished clean of it, boots
#   once more for the test host's end checks alone): every script that finished clean of
#   the fault keeps its lines, each block complete with its own kernel-log check
#   (tests/kmod-suite). Any other failure counts, and so does a third fault. Returns the
#   last run's status.
#
#   Three attempts, not two: the emulator loses a test host or a guest a few times per
#   hundred boots with no kvmmig code anywhere (docs/TESTING.md), and the 6.1 host's
#   ~10 minutes of nested guests met it twice in one CI run (December 2026); a rerun
#   costs only the scripts the fault hit.

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
	local live=0 any_stop=0 out status args i suite=-1 keep attempt=1 attempts=3
	while :; do
		case "${1:-}" in
		--live) live=1; shift ;;
		--any-stop) any_stop=1; shift ;;
		*) break ;;
		esac
	done
	args=("$@")
	for i in "${!args[@]}"; do [ "${args[$i]}" = tests/kmod-suite ] && suite=$i; done
	out=$(mktemp)
	while :; do
		_testhost_attempt "$live" "$out" "${args[@]}"
		status=$?
		if [ "$status" = 0 ] || [ "$attempt" = "$attempts" ] ||
			{ ! grep -q 'a fault of the emulator (QEMU TCG)' "$out" &&
				! { [ "$any_stop" = 1 ] && [ "$status" = 125 ]; }; }; then
			cat "$out"
			rm -f "$out"
			return "$status"
		fi
		keep=0
		# A module suite: keep the block of every script that finished clean of
		# the fault (its own checks, kernel log included, are complete); run once
		# more the scripts whose block met the fault (a guest of theirs lost to
		# it) and those that never finished.
		if [ "$suite" -ge 0 ]; then
			local end from=1 kept=() again=()
			for ((i = suite + 1; i < ${#args[@]}; i++)); do
				end=$(grep -nF "info: ${args[$i]} took " "$out" | tail -n 1 | cut -d: -f1)
				if [ -z "$end" ] || [ "$end" -lt "$from" ]; then
					again+=("${args[@]:i}")
					break
				fi
				if sed -n "${from},${end}p" "$out" | grep -q 'a fault of the emulator (QEMU TCG)'; then
					again+=("${args[$i]}")
					sed -n "${from},${end}p" "$out" >>"$out.aside"
				else
					kept+=("${args[$i]}")
					sed -n "${from},${end}p" "$out"
				fi
				from=$((end + 1))
			done
			keep=${#kept[@]}
			tail -n +"$from" "$out" >>"$out.aside"
			mv "$out.aside" "$out"
			args=("${args[@]:0:suite+1}" "${again[@]}")
		fi
		sed 's/^/info: set aside (a fault of the emulator): /' "$out"
		attempt=$((attempt + 1))
		local notice="info: the test host met a fault of its emulator (above): attempt $attempt of $attempts"
		if [ "$keep" -gt 0 ]; then
			local what="${args[*]:suite+1}"
			notice="$notice, running ${what:-its end checks alone, every script done}, keeping the $keep script(s) that finished clean of it"
		fi
		echo "$notice"
		[ "$live" = 1 ] && echo "$notice" >&2
	done
}
