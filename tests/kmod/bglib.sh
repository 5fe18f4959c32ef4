# bglib.sh: sourced, after tests/lib.sh and from the repository's top, by
# the module tests that drive long-lived test programs (test VMMs,
# kvmmig-ctl debug) line by line. Sets the kernel in TEST_SUFFIX, build/ and
# build/tests first on PATH, $tmp (a directory of the script's own), the
# pids array and a cleanup on exit that kills them and removes $tmp (and
# $KVMMIG_RUN_DIR when set). SIGPIPE is ignored: a tool that exited must
# fail a check, not end the script.
TEST_SUFFIX=" [$(uname -r)]"
STOP_AT_EMULATOR_FAULT=1 # tests/lib.sh: fail()
PATH=$PWD/build:$PWD/build/tests:$PATH
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp" ${KVMMIG_RUN_DIR:+"$KVMMIG_RUN_DIR"}
}
trap cleanup EXIT
trap "" PIPE
lines_gt() { [ "$(wc -l <"$1")" -gt "$2" ]; }

# A check that fails after a test VMM died (tests/tools/dirtier: its vCPU
# stopped) says so, with the VMM's own last word: the check itself names
# only what it met (a refused connection, a missing /proc entry). The
# dirtier names a triple fault with its code intact as a fault of the
# emulator, so tests/retry.sh runs the script again (tests/lib.sh: fail).
bg_names=()
eval "lib_$(declare -f fail)"
fail() {
	local why=$2 n pid last
	for n in "${bg_names[@]}"; do
		eval "pid=\${${n}_pid:-}"
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null || continue
		last=$(grep '^dirtier: ' "$tmp/$n.out" 2>/dev/null | tail -n 1)
		[ -n "$last" ] && [[ $why != *"$last"* ]] && why="$why; test VMM $n is gone: $last"
	done
	lib_fail "$1" "$why"
}

# bg NAME CMD...: runs CMD, stdin from fifo $tmp/NAME.in (fd in NAME_fd),
# output in $tmp/NAME.out, its PID in NAME_pid and in pids.
bg() {
	local name=$1
	shift
	bg_names+=("$name")
	rm -f "$tmp/$name.in"
	mkfifo "$tmp/$name.in"
	"$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>&1 &
	eval "${name}_pid=$!"
	pids+=($!)
	eval "exec {${name}_fd}>\"$tmp/$name.in\""
}

# ask NAME CMD: sends CMD to NAME and prints its next answer line (waiting
# at most $ask_wait seconds, 60 unless the script says otherwise). With no
# answer it prints why: NAME still running (where its threads wait) or
# gone, and its last lines (a test VMM says why its VM stopped).
ask() {
	local n pid
	n=$(wc -l <"$tmp/$1.out")
	eval "pid=\$$1_pid"
	eval "echo \"\$2\" >&\${$1_fd}"
	# (Not waiting on for one that is gone.)
	wait_for "${ask_wait:-60}" sh -c "[ \$(wc -l <'$tmp/$1.out') -gt $n ] || ! kill -0 $pid"
	if [ "$(wc -l <"$tmp/$1.out")" -gt "$n" ]; then
		tail -n +$((n + 1)) "$tmp/$1.out" | head -n 1
		return
	fi
	if kill -0 "$pid" 2>/dev/null; then
		printf 'no answer in %s s, %s still running: threads %s' "${ask_wait:-60}" "$1" "$(threads "$pid")"
	else
		printf 'no answer: %s is gone' "$1"
	fi
	printf '; its last lines: %s\n' "$(tail -n 4 "$tmp/$1.out" | tr '\n' ' ')"
}
