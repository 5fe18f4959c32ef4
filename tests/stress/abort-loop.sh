#!/bin/bash
# abort-loop.sh: the reproducer of a guest lost at the source after an aborted migration
# (Documentation/kvmmig.rst, "Invariants", 3). One payload guest runs at the source of a
# loopback migration in a test host; again and again a migration of it is started on a
# capped link and aborted, cycling through every abort path: the source tool killed
# (kill -9) in round 0 and in a later round, cancelled, the connection cut (the destination
# tool killed), the destination VMM killed.
# After each abort the guest must run on (new self-verifications, no failure); a guest that
# stops is counted, described (why_stopped: its own FAULT report, its VMM's last words, the
# triple faults KVM saw) and replaced, and the loop goes on: the result is deaths per 100 aborts.
#
#   tests/stress/abort-loop.sh [--kernel 6.1|6.12] [--iterations N] [--seconds S] [--load N]
#                              [--via abort|control] [--paths kill0,kill1,cancel,cut,dstkill]
#
# --via control: the same guest without kvmmig: the VMM switches dirty logging on, pauses,
# resumes and switches it off again (what a migration asks of it), through its control socket,
# with no module session: deaths seen this way are not kvmmig's.
# Slow (seconds an iteration): not in tests/run.
cd "$(dirname "$0")/../.." || exit 1

kver=6.12 iterations=100 seconds=1200 load=0 via=abort paths=kill0,kill1,cancel,cut,dstkill
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--iterations) iterations=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--load) load=$2; shift 2 ;;
	--via) via=$2; shift 2 ;;
	--paths) paths=$2; shift 2 ;;
	*) echo "usage: $0 [--kernel K] [--iterations N] [--seconds S] [--load N] [--via abort|control] [--paths P,...]" >&2
		exit 2 ;;
	esac
done

. tests/lib.sh
. tests/stress/lib.sh
[ -n "${KVMMIG_TESTHOST:-}" ] || run_in_testhost $((seconds + 300)) -- tests/stress/abort-loop.sh "${args[@]}"

. tests/kmod/miglib.sh
auth=(--insecure) # plain TCP: the abort paths, not TCG's AES-GCM, are under test
vmctl() { build/tests/vmctl "$KVMMIG_RUN_DIR/$1.sock" "${@:2}"; }
busy_loops "$load"
trap 'kill ${load_pids[*]} 2>/dev/null; cleanup' EXIT
IFS=, read -ra path_list <<<"$paths"

# 2048 pages of data rewritten 512 at a time every 300 ms: on a 4 MB/s link round 0 takes a
# second or two and no migration converges before it is aborted.
guest_args="pages=2048 rate=512 delay_us=300000 report_ms=100"
g=0
new_guest() {
	g=$((g + 1))
	name=ab$g
	start_source "$name" 1 "$guest_args"
}
new_guest

t0=$(date +%s) n=0 deaths=0 completed=0 detail=''
declare -A per_path_n per_path_deaths
while [ $n -lt "$iterations" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	path=${path_list[$((n % ${#path_list[@]}))]}
	[ "$via" = control ] && path=control
	n=$((n + 1))
	per_path_n[$path]=$((${per_path_n[$path]:-0} + 1))
	if [ "$path" = control ]; then
		{ vmctl "$name" dirty-log on && sleep 0.$((RANDOM % 10)) && vmctl "$name" pause &&
			vmctl "$name" resume && sleep 0.$((RANDOM % 5)) && vmctl "$name" dirty-log off; } \
			>"$tmp/step.out" 2>&1
		outcome="control: $(tail -n 1 "$tmp/step.out")"
	else
		start_dest "d$n" 1
		kvmmig-ctl migrate "$name" "127.0.0.1:$port" "${auth[@]}" --bandwidth 4 >"$tmp/mig.out" 2>&1 &
		mig=$!
		case "$path" in
		kill1) wait_for 60 grep -q '^round  0:' "$tmp/mig.out" ;;
		*) wait_for 20 sh -c "kvmmig-ctl status $name | grep -q 'kvmmig: source'" ;;
		esac
		# kill0 early in round 0 (it takes a second or two), the others anywhere.
		if [ "$path" = kill0 ]; then sleep 0.0$((RANDOM % 10)); else sleep 0.$((RANDOM % 10)); fi
		case "$path" in
		kill0 | kill1) kill -9 $mig ;;
		cancel) kvmmig-ctl cancel "$name" >/dev/null 2>&1 ;;
		cut) kill -9 "$(cat "$tmp/d$n.in.pid")" ;;
		dstkill) kill -9 "$(cat "$tmp/d$n.dst.pid")" ;;
		esac
		wait $mig 2>/dev/null
		rc=$?
		outcome="$path: $(tail -n 1 "$tmp/mig.out")"
		kill -9 "$(cat "$tmp/d$n.in.pid")" "$(cat "$tmp/d$n.dst.pid")" 2>/dev/null
		if [ "$rc" = 0 ]; then
			# It completed before the abort: the guest moved. Go on with a new source.
			completed=$((completed + 1))
			kill -9 "$(cat "$tmp/$name.src.pid")" 2>/dev/null
			new_guest
			continue
		fi
	fi
	if ! runs_on "$tmp/$name.src.log" "$tmp/$name.src.pid"; then
		deaths=$((deaths + 1))
		per_path_deaths[$path]=$((${per_path_deaths[$path]:-0} + 1))
		echo "info: iteration $n ($outcome): the guest stopped: $(why_stopped "$tmp/$name.src.log" "$tmp/$name.src.pid")"
		detail="$detail [iteration $n, $path]"
		kill -9 "$(cat "$tmp/$name.src.pid")" 2>/dev/null
		new_guest
		continue
	fi
	echo "info: iteration $n ($outcome) ok, $deaths deaths so far ($(($(date +%s) - t0)) s)"
done
# The last guest is watched a while longer: a death may come seconds after its abort.
sleep 30
if ! runs_on "$tmp/$name.src.log" "$tmp/$name.src.pid"; then
	deaths=$((deaths + 1))
	echo "info: after the last iteration the guest stopped: $(why_stopped "$tmp/$name.src.log" "$tmp/$name.src.pid")"
	detail="$detail [after the last]"
fi

by_path=''
for p in "${!per_path_n[@]}"; do by_path="$by_path $p ${per_path_deaths[$p]:-0}/${per_path_n[$p]}"; done
summary="$deaths deaths in $n aborts via $via (by path:$by_path; $completed completed before the abort; $(($(date +%s) - t0)) s, load $load, $(uname -r))"
if [ "$deaths" -gt 0 ]; then
	fail "a guest survives aborted migrations at the source" "$summary:$detail"
else
	pass "a guest survives aborted migrations at the source: $summary"
fi
finish
