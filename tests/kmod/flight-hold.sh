#!/bin/bash
# flight-hold.sh: runs inside a test host. Starting and stopping the flight
# recorder (tests/flight.sh), as every module script does, patches no kernel
# text while stage2's flight_hold holds its tracepoints; without the hold
# the same start and stop do. Kernel text patched under QEMU TCG with nested
# SVM now and then leaves a vCPU on stale text: a 6.1 test host froze so in
# CI (December 2026), as async.sh's exit stopped the recorder. Counted with
# a kprobe on the kernel's text-patching batch.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/flight.sh
TEST_SUFFIX=" [$(uname -r)]"
count=$tracing/instances/kvmmig-pokes
for sym in text_poke_bp_batch smp_text_poke_batch_finish; do
	grep -q " [tT] $sym\$" /proc/kallsyms && break
done
cleanup() {
	[ -d $count ] && echo 0 >$count/events/kprobes/kvmmig_poke/enable && rmdir $count
	echo '-:kprobes/kvmmig_poke' >>$tracing/kprobe_events 2>/dev/null
	flight_hold
}
trap cleanup EXIT
if ! echo "p:kprobes/kvmmig_poke $sym" >>$tracing/kprobe_events 2>/dev/null; then
	fail "a kprobe on the kernel's text patching ($sym)" "kprobe_events refused it"
	finish
	exit
fi
mkdir $count && echo 1 >$count/events/kprobes/kvmmig_poke/enable
# pokes: the text-patching batches while the recorder starts and stops.
pokes() {
	sleep 1 # (a kprobe's own arming is done by then)
	echo >$count/trace
	flight_start
	flight_stop
	grep -c 'kvmmig_poke:' $count/trace
}
[ -d $tracing/instances/kvmmig-hold0 ] && [ -d $tracing/instances/kvmmig-hold1 ] &&
	pass "stage2 holds the flight recorder's tracepoints (two idle instances)" ||
	fail "stage2 holds the flight recorder's tracepoints" "$(ls $tracing/instances | tr '\n' ' ')"
n=$(pokes)
[ "$n" = 0 ] && pass "held: starting and stopping the recorder patches no kernel text ($sym: 0 batches)" ||
	fail "held: starting and stopping the recorder patches no kernel text" "$sym ran $n times"
# The control: without the hold the same start and stop patch text.
rmdir $tracing/instances/kvmmig-hold0 $tracing/instances/kvmmig-hold1
n=$(pokes)
[ "$n" -gt 0 ] && pass "without the hold the same start and stop patch kernel text ($sym: $n batches)" ||
	fail "without the hold the same start and stop patch kernel text" "$sym ran $n times: the kprobe counts nothing"
finish
