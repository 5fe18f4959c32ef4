#!/bin/bash
# async.sh: runs inside a test host started with --no-module. Nothing waits
# in a netlink handler (invariant 10) and every wait on a peer is bounded:
# while a migration's round is stuck on a peer that stopped reading, the
# host's generic netlink keeps working (another family registers and goes,
# queries answer at once), and the progress timeout ends the migration with
# its reason named and the guest running at the source.
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh
auth=(--insecure)

# elapsed_ms CMD...: runs CMD, prints how long it took in ms; 99999 if it failed.
elapsed_ms() {
	local t=$(date +%s%N)
	# A command held by a blocked netlink handler would wait for the
	# cancel below: 60 s is "blocked" however slow the test host.
	timeout 60 "$@" >/dev/null 2>&1 || { echo 99999; return; }
	echo $((($(date +%s%N) - t) / 1000000))
}
# migration_ends NAME PATTERN AFTER: the migration $mig ends within 60 s of
# AFTER (what the test did to it), failed, its output matching PATTERN.
migration_ends() {
	local rc
	if wait_for 60 sh -c "! kill -0 $mig"; then
		wait $mig
		rc=$?
		[ $rc -ne 0 ] && grep -q "$2" "$tmp/mig.out" && pass "$1" ||
			fail "$1" "exit $rc: $(tail -n 1 "$tmp/mig.out")"
	else
		fail "$1" "still running 60 s after $3"
		kill -9 $mig
	fi
}
modprobe -n nbd 2>/dev/null || fail "an nbd module for the generic netlink checks" "none in this test host"

# 128 MiB of data pages behind a 4 KiB receive window: round 0 blocks once
# the silent peer stops reading, whatever the kernel's buffer autotuning
# (7.3's loopback buffers swallowed a 32 MiB round 0 whole).
start_source as 1 "pages=32768 rate=64 delay_us=100000 report_ms=100" 192M

# The tool's side of it: a module that never answered would be a bug, and
# kvmmig-ctl says so after its answer limit instead of hanging. A request
# lost on its way (build/tests/nl-drop.so) stands in for the silent module;
# the limit switched off (0), the same request is still waiting when killed.
drop=(env LD_PRELOAD="$PWD/build/tests/nl-drop.so")
t0=$SECONDS
out=$(KVMMIG_NL_ANSWER_SECS=2 timeout 30 "${drop[@]}" kvmmig-ctl status as 2>&1)
rc=$? secs=$((SECONDS - t0))
[ $rc = 1 ] && [ $secs -lt 15 ] && echo "$out" | grep -q 'kvmmig.ko did not answer in 2 s (a module bug' &&
	pass "a request kvmmig.ko never answers ends after the tool's answer limit, named ($secs s)" ||
	fail "a request kvmmig.ko never answers ends after the tool's answer limit, named" "exit $rc after $secs s: $out"
KVMMIG_NL_ANSWER_SECS=0 timeout 8 "${drop[@]}" kvmmig-ctl status as >/dev/null 2>&1
rc=$?
[ $rc = 124 ] && pass "with the answer limit off the same request still waits when killed (8 s)" ||
	fail "with the answer limit off the same request still waits when killed" "exit $rc"
expect_output "without the loss the same request answers" '^kvmmig: idle$' kvmmig-ctl status as
fport=7498
# stuck_migration: migrates the guest to a peer that stops reading ($mig).
# The progress timeout is far away (600 s): the round stays stuck until the
# test acts, however slow the test host (a debug kernel takes many seconds
# per command); the timeout itself is checked with a migration of its own.
stuck_migration() {
	tests/kmod/fakedest.py $fport silent >"$tmp/silent.out" 2>&1 &
	wait_for 60 grep -q waiting "$tmp/silent.out"
	kvmmig-ctl migrate as "127.0.0.1:$fport" "${auth[@]}" --progress-timeout 600 >"$tmp/mig.out" 2>&1 &
	mig=$!
	wait_for 20 grep -q silent "$tmp/silent.out"
	wait_for 10 sh -c "kvmmig-ctl status as | grep -q 'kvmmig: source'"
}
stuck_migration
sleep 2 # the round is now blocked on the peer
t0=$(date +%s)

# The oracle does not depend on speed: each command must complete while the
# round is still stuck. Had a netlink handler been waiting on the peer, the
# family registration below (genl's cb_lock taken for writing) and every
# generic netlink request queued behind it could only complete once the
# migration ended (here: by the cancel after the checks).
stuck() { kill -0 $mig 2>/dev/null; }
ms=$(elapsed_ms kvmmig-ctl list)
stuck && [ "$ms" != 99999 ] && pass "a netlink query answers while a round is stuck on its peer (${ms} ms)" ||
	fail "a netlink query answers while a round is stuck on its peer" "took ${ms} ms; migration: $(tail -n 1 "$tmp/mig.out")"
ms=$(elapsed_ms modprobe nbd)
ms2=$(elapsed_ms rmmod nbd)
stuck && [ "$ms" != 99999 ] && [ "$ms2" != 99999 ] &&
	pass "another generic netlink family registers and unregisters meanwhile (nbd: ${ms} ms, ${ms2} ms)" ||
	fail "another generic netlink family registers and unregisters meanwhile" "modprobe nbd ${ms} ms, rmmod ${ms2} ms; migration: $(tail -n 1 "$tmp/mig.out")"
ms=$(elapsed_ms kvmmig-ctl version)
stuck && [ "$ms" != 99999 ] && pass "and netlink still answers after it (${ms} ms), the round still stuck" ||
	fail "and netlink still answers after it, the round still stuck" "took ${ms} ms; migration: $(tail -n 1 "$tmp/mig.out")"

# Cancel ends the stuck round at once; the guest runs on at the source.
expect "cancel ends the stuck migration" kvmmig-ctl cancel as
migration_ends "the cancelled migration says the guest runs on at the source" \
	'the guest is running on the source' cancel
wait_for 30 sh -c "kvmmig-ctl status as | grep -q '^kvmmig: idle$'"
pkill -f "fakedest.py $fport" 2>/dev/null
port_free $fport

# The progress timeout (10 s without a byte moving) ends a migration to a
# silent peer, named.
tests/kmod/fakedest.py $fport silent >"$tmp/silent.out" 2>&1 &
wait_for 60 grep -q waiting "$tmp/silent.out"
kvmmig-ctl migrate as "127.0.0.1:$fport" "${auth[@]}" --progress-timeout 10 >"$tmp/mig.out" 2>&1 &
mig=$!
t0=$(date +%s)
if wait_for 120 sh -c "! kill -0 $mig"; then
	wait $mig
	rc=$? secs=$(($(date +%s) - t0))
	if [ $rc -ne 0 ] && grep -q 'no byte moved for the progress timeout.*the guest is running on the source' "$tmp/mig.out"; then
		pass "the silent peer ends the migration after the progress timeout, reason named (${secs} s)"
	else
		fail "the silent peer ends the migration after the progress timeout, reason named" "exit $rc: $(tail -n 1 "$tmp/mig.out")"
	fi
else
	fail "the silent peer ends the migration after the progress timeout, reason named" "still running after 120 s"
	kill -9 $mig
fi
if runs_on "$tmp/as.src.log" "$tmp/as.src.pid"; then
	pass "after the progress timeout the guest runs on at the source, memory checks passing"
else
	fail "after the progress timeout the guest runs on at the source, memory checks passing" \
		"$(why_stopped "$tmp/as.src.log" "$tmp/as.src.pid")"
fi
expect_output "and the module is idle again" '^kvmmig: idle$' kvmmig-ctl status as
pkill -f "fakedest.py $fport" 2>/dev/null
port_free $fport

# The source VMM dies while its round is stuck: the migration ends at once
# and says the guest is gone with it, not that it runs on at the source.
stuck_migration
kill -9 "$(cat "$tmp/as.src.pid")"
migration_ends "a source VMM killed mid-migration: the tool says the guest is gone with it" \
	'its VMM exited; the guest is NOT running: its VMM on the source exited' "the kill"
pkill -f "fakedest.py $fport" 2>/dev/null
wait 2>/dev/null
expect "the module unloads" rmmod kvmmig
finish
