# tasks.sh: where a task waits, one line, for the hang reports of the
# suite (tests/kmod-suite's time limit, tests/testhost.d/stage2's watchdog,
# tests/lib.sh's threads). Sourced; bash, /proc only (a test host's root).

# task_line TASKDIR [FRAMES]: "TID (comm) STATE wchan: kernel stack, its
# first FRAMES (10) frames | command line" for /proc/PID/task/TID.
task_line() {
	local t=$1 comm state wchan stack cmd
	read -r comm <"$t/comm" 2>/dev/null || return 0
	state=$(awk '/^State:/ {print $2}' "$t/status" 2>/dev/null)
	read -r wchan <"$t/wchan" 2>/dev/null
	stack=$(task_stack "$t" "${2:-10}")
	cmd=$(tr '\0\n' '  ' <"${t%/task/*}/cmdline" 2>/dev/null | cut -c1-160)
	echo "${t##*/} ($comm) ${state:-?} ${wchan:-0}: ${stack:-(no stack)}| ${cmd:-[kernel thread]}"
}
# task_stack TASKDIR [FRAMES]: its kernel stack's frames (the first FRAMES)
# on one line.
task_stack() { awk -v n="${2:-0}" 'n && NR > n {exit} {print $2}' "$1/stack" 2>/dev/null | tr '\n' ' '; }
