#!/bin/bash
# first-touch-loop.sh: the control run of issue 19, without kvmmig. Payload guests that died
# after migrations (and one that had just started, before any session) all died the same way:
# a burst of NPF exits on fresh pages at one RIP, then a not-present instruction fetch at that
# RIP while their page tables in memory were intact (the VMM's post mortem). First touches of
# fresh memory are what every new guest does, and what a migrated guest does on a sparse
# destination. This loop starts fresh payload guests again and again inside one test host with
# kvmmig.ko never loaded (1 and 2 vCPUs, 64 MiB, their whole region written at once), lets each
# run until it has verified its memory a few times, and stops it: a guest that dies is counted,
# described (why_stopped: post mortem, flight recorder, verdict) and replaced. Deaths per 100
# guests here, with no kvmmig code in the test host, are the emulator's (or KVM's) own rate.
#
#   tests/stress/first-touch-loop.sh [--kernel 6.1|6.12|7.3] [--guests N] [--seconds S]
#                                    [--with-module] [--big-before] [--neighbour]
#
# The variants add, one at a time, what migrate.sh's test hosts have and this loop lacks:
# --with-module loads kvmmig.ko (every guest is then attached to it, no session ever starts);
# --big-before starts a 256 MiB guest, lets it write, and kills it before each fresh guest (the
# sparse case's VMs torn down just before the source that died); --neighbour keeps a steady
# payload guest running beside the fresh ones (migrate.sh's hosts always run more than one VM:
# a source and its destination, a guest beside the one under test), writing its memory all the
# time, so that both of the test host's vCPUs run guests at once; its deaths count too.
#
# KVMMIG_TESTHOST_QEMU=/path/to/qemu-system-x86_64 runs the test host under another QEMU.
# Slow (seconds a guest): not in tests/run.
cd "$(dirname "$0")/../.." || exit 1

kver=7.3 guests=1000 seconds=1200 with_module=0 big_before=0 neighbour=0
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--guests) guests=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--with-module) with_module=1; shift ;;
	--big-before) big_before=1; shift ;;
	--neighbour) neighbour=1; shift ;;
	*) echo "usage: $0 [--kernel K] [--guests N] [--seconds S] [--with-module] [--big-before] [--neighbour]" >&2
		exit 2 ;;
	esac
done

. tests/lib.sh
. tests/stress/lib.sh
[ -n "${KVMMIG_TESTHOST:-}" ] || run_in_testhost $((seconds + 300)) -- tests/stress/first-touch-loop.sh "${args[@]}"

[ $with_module = 1 ] || MIGLIB_NO_MODULE=1
. tests/kmod/miglib.sh
[ -e /dev/kvmmig ] && [ $with_module = 0 ] && { fail "a control run without kvmmig.ko" "kvmmig.ko is loaded"; exit 1; }
setting="kvmmig.ko $([ $with_module = 1 ] && echo "loaded, guests attached" || echo "never loaded")"
[ $big_before = 1 ] && setting="$setting, a 256 MiB guest killed before each"
[ $neighbour = 1 ] && setting="$setting, a steady guest writing beside them"

# The neighbour: like migrate.sh's vmr, it writes 512 of its 8192 pages every 300 ms and
# verifies them, for as long as the loop runs.
neighbour_deaths=0 neighbour_n=0
start_neighbour() {
	neighbour_n=$((neighbour_n + 1))
	start_source nb$neighbour_n 1 "pages=8192 rate=512 delay_us=300000 verify_every=2 report_ms=100"
}
check_neighbour() { # a neighbour that stopped is counted, described and replaced
	local nb=nb$neighbour_n
	[ $neighbour = 1 ] || return 0
	alive "$tmp/$nb.src.pid" && ! grep -q 'failures [1-9]\|FAIL' "$tmp/$nb.src.log" && return 0
	neighbour_deaths=$((neighbour_deaths + 1))
	echo "info: neighbour $neighbour_n stopped: $(why_stopped "$tmp/$nb.src.log" "$tmp/$nb.src.pid")"
	detail="$detail [neighbour $neighbour_n]"
	kill -9 "$(cat "$tmp/$nb.src.pid")" 2>/dev/null
	start_neighbour
}
[ $neighbour = 1 ] && start_neighbour

t0=$SECONDS n=0 deaths=0 detail=''
declare -A per_cpus_n per_cpus_deaths
while [ $n -lt "$guests" ] && [ $((SECONDS - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	cpus=$((n % 2 + 1))
	name=ft$n
	per_cpus_n[$cpus]=$((${per_cpus_n[$cpus]:-0} + 1))
	if [ $big_before = 1 ]; then
		start_source big$n 1 "pages=16384 rate=2048 report_ms=100" 256M
		kill -9 "$(cat "$tmp/big$n.src.pid")" 2>/dev/null
		wait "$(cat "$tmp/big$n.src.pid")" 2>/dev/null
		rm -f "$tmp/big$n".*
	fi
	# 16384 pages (64 MiB) split among the vCPUs, each writing 512 at once: the first passes
	# touch every page of the region for the first time.
	start_source "$name" "$cpus" "pages=$((16384 / cpus - 256)) rate=512 verify_every=2 report_ms=100"
	if runs_on "$tmp/$name.src.log" "$tmp/$name.src.pid" && runs_on "$tmp/$name.src.log" "$tmp/$name.src.pid"; then
		echo "info: guest $n ($cpus vCPU) ok, $deaths deaths so far ($((SECONDS - t0)) s)"
	else
		deaths=$((deaths + 1))
		per_cpus_deaths[$cpus]=$((${per_cpus_deaths[$cpus]:-0} + 1))
		echo "info: guest $n ($cpus vCPU) stopped: $(why_stopped "$tmp/$name.src.log" "$tmp/$name.src.pid")"
		detail="$detail [guest $n, $cpus vCPU]"
	fi
	kill -9 "$(cat "$tmp/$name.src.pid")" 2>/dev/null
	wait "$(cat "$tmp/$name.src.pid")" 2>/dev/null
	rm -f "$tmp/$name".*
	check_neighbour
done
[ $neighbour = 1 ] && ! runs_on "$tmp/nb$neighbour_n.src.log" "$tmp/nb$neighbour_n.src.pid" && {
	neighbour_deaths=$((neighbour_deaths + 1))
	detail="$detail [neighbour $neighbour_n, at the end]"
}

by=''
for c in "${!per_cpus_n[@]}"; do by="$by $c vCPU ${per_cpus_deaths[$c]:-0}/${per_cpus_n[$c]}"; done
summary="$deaths deaths in $n fresh guests (by size:$by; $((SECONDS - t0)) s, $(uname -r), $setting)"
[ $neighbour = 1 ] && summary="$summary; $neighbour_deaths of $neighbour_n neighbours died"
if [ "$deaths" -gt 0 ] || [ "$neighbour_deaths" -gt 0 ]; then
	fail "fresh payload guests survive their first touches of memory" "$summary:$detail"
else
	pass "fresh payload guests survive their first touches of memory: $summary"
fi
finish
