# bglib.sh: sourced by module tests that drive long-lived test programs
# (test VMMs, kvmmig-ctl debug) line by line. Needs $tmp and a pids array.

# bg NAME CMD...: runs CMD, stdin from fifo $tmp/NAME.in (fd in NAME_fd),
# output in $tmp/NAME.out, its PID in NAME_pid and in pids.
bg() {
	local name=$1
	shift
	rm -f "$tmp/$name.in"
	mkfifo "$tmp/$name.in"
	"$@" <"$tmp/$name.in" >"$tmp/$name.out" 2>&1 &
	eval "${name}_pid=$!"
	pids+=($!)
	eval "exec {${name}_fd}>\"$tmp/$name.in\""
}

# ask NAME CMD: sends CMD to NAME and prints its next answer line (waiting
# at most $ask_wait seconds, 60 unless the script says otherwise).
ask() {
	local n
	n=$(wc -l <"$tmp/$1.out")
	eval "echo \"\$2\" >&\${$1_fd}"
	wait_for "${ask_wait:-60}" sh -c "[ \$(wc -l <'$tmp/$1.out') -gt $n ]"
	tail -n +$((n + 1)) "$tmp/$1.out" | head -n 1
}
