#!/bin/bash
# final.sh: runs inside a test host started with --no-module. The final
# round's safety net: END goes out only if nothing was written since the
# pages were harvested. A FINAL round with a vCPU still writing fails with
# EAGAIN and leaves the session usable; once every writer is paused the
# same session's FINAL succeeds; a VMM write reported after END fails
# (ESTALE) instead of being dropped. Without the net, each of these would
# be a page silently lost at the destination.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
export KVMMIG_RUN_DIR=/tmp/kvmmig-run
. tests/kmod/bglib.sh
. tests/flight.sh
PORT=7415
# A test VM that dies leaves its last KVM events, and the emulator's verdict.
flight_start
trap 'cleanup; flight_stop' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }
# vm_death: what is known of the test VM if it died: its last words and
# the flight recorder's verdict (a guest at a migration's source).
vm_death() {
	kill -0 "$vm_pid" 2>/dev/null && return
	printf '; the test VM died: %s%s' "$(tail -n 3 "$tmp/vm.out" | tr '\n' ' ')" "$(flight_verdict source "$vm_pid")"
}

bg vm dirtier fin --mem 32
wait_for 10 grep -q attached "$tmp/vm.out" || { fail "the VM attaches" "$(cat "$tmp/vm.out")"; exit 1; }
ask vm run >/dev/null
tests/kmod/streamtool.py sink $PORT 100000000000 >"$tmp/sink.out" 2>&1 &
pids+=($!)
wait_for 60 grep -q listening "$tmp/sink.out"
bg tool kvmmig-ctl debug source fin 127.0.0.1:$PORT
wait_for 20 grep -q "started\|^error" "$tmp/tool.out"
# end: the session's tools gone, the module unloads; the script ends.
end() {
	eval "exec ${tool_fd}>&- ${vm_fd}>&-"
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
	expect "the module unloads" rmmod kvmmig
	finish
	exit
}
out=$(ask tool "round full")
if [[ "$out" == "round round=0 "* ]]; then
	pass "round 0"
else
	# Nothing after it can run (each ask would wait out its 60 s).
	fail "round 0" "$out$(vm_death)"
	end
fi

# The vCPU keeps writing through the final round: its pages are dirty again
# before END would go.
out=$(ask tool "round final")
if [[ "$out" == "error Resource temporarily unavailable: pages were written during the final round"* ]]; then
	pass "a final round with a vCPU still writing fails with EAGAIN, naming why"
else
	fail "a final round with a vCPU still writing fails with EAGAIN, naming why" "$out$(vm_death)"
	# (A VM the emulator lost ends the script here: tests/retry.sh reruns it.)
	kill -0 "$vm_pid" 2>/dev/null || end
fi
expect_output "the session is still usable: another round runs" "^round round=[0-9]+ " ask tool "round"
ask vm pause >/dev/null
expect_output "with the vCPU paused the final round succeeds" "^round round=[0-9]+ " ask tool "round final"
expect_output "and nothing follows END" "^error Invalid argument" ask tool "round"

# A VMM write reported after END could not reach the destination any more.
expect_output "a MARK_DIRTY after END fails with ESTALE" "^error Stale file handle$" ask vm "mark 0x1000 4096"
expect_output "session ends" "^stopped" ask tool stop
expect_output "outside a session MARK_DIRTY is accepted again" "^ok" ask vm "mark 0x1000 4096"
end
