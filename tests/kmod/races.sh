#!/bin/bash
# races.sh: runs inside a test host started with --no-module. Lifetimes
# under races (invariant 7): VMs attach and detach (their VMM killed),
# sessions start, run rounds, are cancelled from another process and end
# with their tool killed, and rmmod is tried, all at once and at random
# moments, many times over. Nothing may hang, leak or warn: at the end no
# process or kvmmig worker is left, no VM is attached, and the module
# unloads (the test host then fails the run on any warning or leak line).
# RACE_SECONDS (default 20 on Debian's kernels, which see a hang, an oops
# or a leak line but not a bad access or a data race: about 18 iterations
# each, three kernels; 120 on the debug lane's KASAN/KCSAN kernels, which
# see those) or RACE_ITERATIONS, whichever ends first.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
TEST_SUFFIX=" [$(uname -r)]"
export PATH=$PWD/build:$PWD/build/tests:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
tmp=$(mktemp -d)
cleanup() {
	pkill -9 -f 'dirtier race' 2>/dev/null
	pkill -9 -f 'kvmmig-ctl (debug|cancel)' 2>/dev/null
	pkill -9 -f 'streamtool.py sink' 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp" "$KVMMIG_RUN_DIR"
}
trap cleanup EXIT
trap "" PIPE
PORT=7416
iterations=${RACE_ITERATIONS:-500}
case $(uname -r) in
*-kvmmig-*) seconds=${RACE_SECONDS:-120} ;; # the debug lane's kernels
*) seconds=${RACE_SECONDS:-20} ;;
esac
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

tests/kmod/streamtool.py sink $PORT 100000000000 >"$tmp/sink.out" 2>&1 &
sink=$!
wait_for 60 grep -q listening "$tmp/sink.out"
r() { echo "0.$((RANDOM % 5))"; } # a random delay under half a second

t0=$(date +%s) n=0 hung=0 unloads=0
while [ $n -lt "$iterations" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO" 2>/dev/null
	name=race$((n % 3))
	# A VMM (its vCPU writing half the time) that lives a random while.
	# (Its input's writer outlives a killed reader: no broken-pipe noise.)
	{ [ $((RANDOM % 2)) = 0 ] && echo run; sleep "$(r)"; sleep "$(r)"; } 2>/dev/null |
		dirtier "$name" --mem 8 >/dev/null 2>"$tmp/vmm.err" &
	vmm=$!
	sleep "0.0$((RANDOM % 10))"
	# A tool that starts a session and runs rounds, killed or not.
	{ echo "round full"; sleep "$(r)"; echo round; sleep "$(r)"; echo stop; } 2>/dev/null |
		kvmmig-ctl debug source "$name" 127.0.0.1:$PORT >/dev/null 2>&1 &
	tool=$!
	sleep "$(r)"
	case $((RANDOM % 4)) in
	0) kvmmig-ctl cancel "$name" >/dev/null 2>&1 ;;
	1) kill -9 $tool 2>/dev/null ;;
	2) kill -9 $vmm 2>/dev/null ;;
	3) rmmod kvmmig 2>/dev/null && unloads=$((unloads + 1)) ;;
	esac
	sleep "0.0$((RANDOM % 10))"
	[ $((RANDOM % 3)) = 0 ] && rmmod kvmmig 2>/dev/null && unloads=$((unloads + 1))
	# Everything ends on its own within seconds; a process left is a hang.
	if ! wait_for 30 sh -c "! kill -0 $vmm 2>/dev/null && ! kill -0 $tool 2>/dev/null"; then
		hung=$((hung + 1))
		echo "info: iteration $n: still alive after 30 s: $(ps -o pid,stat,wchan:20,args | grep -E '[d]irtier|[k]vmmig-ctl' | tr '\n' ';')"
		for p in $vmm $tool; do
			[ -r /proc/$p/stack ] && echo "info: $p stack: $(tr '\n' ' ' </proc/$p/stack)"
		done
		kill -9 $vmm $tool 2>/dev/null
	fi
	# The test VMM's own complaints (an unexpected VM exit...) are worth a line.
	grep -v 'attach: \|dirtier: open /dev/kvmmig' "$tmp/vmm.err" | sed "s/^/info: iteration $n: /"
	wait $vmm $tool 2>/dev/null
done
summary="$n iterations in $(($(date +%s) - t0)) s, $unloads unloads in between"
[ "$hung" = 0 ] && pass "attach, detach, sessions, cancel, killed tools and rmmod racing: nothing hangs ($summary)" ||
	fail "attach, detach, sessions, cancel, killed tools and rmmod racing: nothing hangs" "$hung hung; $summary"
grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"
if wait_for 20 sh -c "[ -z \"\$(kvmmig-ctl list | tail -n +2)\" ] && ! pgrep -P 2 '^kvmmig-' >/dev/null"; then
	pass "afterwards no VM is attached and no kvmmig worker is left"
else
	fail "afterwards no VM is attached and no kvmmig worker is left" "$(kvmmig-ctl list | tr '\n' ' ') workers: $(pgrep -l -P 2 '^kvmmig-' | tr '\n' ' ')"
fi
kill -9 $sink 2>/dev/null
wait 2>/dev/null
expect "the module unloads" rmmod kvmmig
finish
