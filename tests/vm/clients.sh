#!/bin/bash
# clients.sh: kvmmig-vm serves its control clients concurrently. A client that sends half a
# request and falls silent, or one that trickles a byte at a time, never delays another client's
# pause or status; each such request is dropped at its deadline (5 s) with a log line naming it.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

deadline=5
vm_start cc --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=2048 report_ms=20"
wait_iter cc 0 10 10
sock=$KVMMIG_RUN_DIR/cc.sock

# Two bad clients at once: half a request then silence, and a request that never ends, one
# byte every 0.3 s (each byte arrives well within any per-read timeout).
"$vmctl_bin" --trickle "$sock" "pau" 0 $((deadline + 5)) >"$vm_tmp/silent.out" 2>&1 &
silent=$!
"$vmctl_bin" --trickle "$sock" "statusstatusstatusstatusstatusstatusstatus" 300 $((deadline + 5)) \
	>"$vm_tmp/trickle.out" 2>&1 &
trickler=$!
nap 0.5

# prompt NAME SECONDS COMMAND...: COMMAND answers within SECONDS.
prompt() {
	local name=$1 secs=$2 t0=$EPOCHREALTIME out
	shift 2
	if out=$(timeout "$secs" "$@" 2>&1); then
		pass "$name ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s)"
	else
		fail "$name" "no answer within $secs s: $out"
	fi
}
prompt "pause is answered at once beside a silent and a trickling client" 1 "$vmctl_bin" "$sock" pause
prompt "status is answered at once beside them" 1 "$vmctl_bin" "$sock" status
expect_output "the VM is paused" "^state paused$" vm_ctl cc status
prompt "resume is answered at once beside them" 1 "$vmctl_bin" "$sock" resume

# Both bad requests end at their deadline, not before, and say so in the log.
wait $silent
silent_status=$?
wait $trickler
trickler_status=$?
for c in silent:$silent_status trickle:$trickler_status; do
	out=$(cat "$vm_tmp/${c%%:*}.out")
	secs=$(echo "$out" | sed -n 's/^dropped after \([0-9]*\)\..*/\1/p')
	if [ "${c#*:}" = 0 ] && [ -n "$secs" ] && [ "$secs" -ge $((deadline - 1)) ] &&
		[ "$secs" -le $((deadline + 1)) ]; then
		pass "the ${c%%:*} client is dropped at the $deadline s deadline: $out"
	else
		fail "the ${c%%:*} client is dropped at the $deadline s deadline" "$out"
	fi
done
if grep -q "control socket: request not complete after $deadline s (3 bytes): connection dropped" \
	"$vm_tmp/cc.err"; then
	pass "the log names the dropped request: $(grep -m1 "(3 bytes)" "$vm_tmp/cc.err")"
else
	fail "the log names the dropped request" "$(tail -n 3 "$vm_tmp/cc.err" | tr '\n' ' ')"
fi

# A client that sends nothing at all holds nothing either; several answer side by side.
"$vmctl_bin" --trickle "$sock" "" 0 $((deadline + 5)) >"$vm_tmp/idle.out" 2>&1 &
idle_client=$!
nap 0.3
ok=0
for i in 1 2 3 4 5 6 7 8; do
	vm_ctl cc status >"$vm_tmp/st$i" 2>&1 &
done
wait_for 2 sh -c "grep -l '^state running$' $vm_tmp/st[1-8] | wc -l | grep -qx 8" && ok=1
[ $ok = 1 ] && pass "8 clients at once beside an idle one all get their status" ||
	fail "8 clients at once beside an idle one all get their status" "$(cat "$vm_tmp"/st[1-8] | sort | uniq -c | tr '\n' ' ')"
kill $idle_client 2>/dev/null

expect_output "the guest runs on, clean" "^state running$" vm_ctl cc status
if wait_iter cc 0 "$(last_iter cc 0)" 5 && ! vm_out cc | grep -q FAIL; then
	pass "the guest saw no failure"
else
	fail "the guest saw no failure" "$(vm_out cc | grep -m1 FAIL)"
fi
expect "quit" vm_ctl cc quit
vm_wait_exit cc 5
[ "$vm_status" = 0 ] && pass "quit ends the VMM with status 0" || fail "quit ends the VMM with status 0" "status $vm_status"

finish
