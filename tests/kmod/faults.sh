#!/bin/bash
# faults.sh: runs inside a test host started with --no-module. Breaks
# migrations on purpose and proves invariant 7: whatever dies (the peer's
# socket mid-round, the source VMM, the source tool, the destination tool),
# the session ends with an error or is torn down, no kvmmig worker thread
# is left, no process is stuck, and the module unloads with no
# "kvmmig: leak:" line (the test host fails the run on one).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh

MEM=32
PORT=7413
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

workers() { pgrep -c -P 2 '^kvmmig-' || true; }
gone() { ! kill -0 "$1" 2>/dev/null; }
settled() { # NAME: the VM is idle and its worker is gone
	kvmmig-ctl list | grep -q "^$1 .* idle$" && ! pgrep -P 2 -x "kvmmig-$1" >/dev/null
}

bg src dirtier src --mem $MEM --fill
wait_for 10 grep -q attached "$tmp/src.out" || { fail "source VM attaches" "$(cat "$tmp/src.out")"; exit 1; }

# 1. The peer closes its socket in the middle of round 0.
tests/kmod/streamtool.py sink $PORT 200000 >"$tmp/sink.out" 2>&1 &
pids+=($!)
wait_for 60 grep -q listening "$tmp/sink.out"
bg tool kvmmig-ctl debug source src 127.0.0.1:$PORT
wait_for 20 grep -q started "$tmp/tool.out"
echo "round full" >&"$tool_fd"
if wait_for 60 grep -q "^error" "$tmp/tool.out"; then
	pass "a connection closed mid-round fails the round: $(grep ^error "$tmp/tool.out")"
else fail "a connection closed mid-round fails the round" "$(cat "$tmp/tool.out")"; fi
expect_output "the failed session shows as failed" "^src .* failed$" kvmmig-ctl list
echo stop >&"$tool_fd"
wait_for 20 grep -q stopped "$tmp/tool.out"
if wait_for 20 settled src; then pass "stop after a failed round releases everything"
else fail "stop after a failed round releases everything" "$(kvmmig-ctl list) workers=$(workers)"; fi
eval "exec ${tool_fd}>&-"

# 2. The source tool is killed while its round blocks on a peer that does
#    not read: the round is aborted, the tool dies, the session goes.
tests/kmod/streamtool.py stall $PORT >"$tmp/stall.out" 2>&1 &
stall_pid=$!
pids+=($!)
wait_for 60 grep -q listening "$tmp/stall.out"
bg tool kvmmig-ctl debug source src 127.0.0.1:$PORT
wait_for 20 grep -q started "$tmp/tool.out"
echo "round full" >&"$tool_fd"
sleep 3
kill -9 "$tool_pid"
if wait_for 20 gone "$tool_pid"; then pass "a tool killed mid-round dies (not stuck in the kernel)"
else fail "a tool killed mid-round dies (not stuck in the kernel)" "$(cat /proc/$tool_pid/stat 2>/dev/null)"; fi
if wait_for 20 settled src; then pass "a killed tool's session is torn down"
else fail "a killed tool's session is torn down" "$(kvmmig-ctl list) workers=$(workers)"; fi
eval "exec ${tool_fd}>&-"
kill -9 "$stall_pid" 2>/dev/null

# 3. The destination tool is killed while it receives.
bg dst dirtier dst --mem $MEM --idle
wait_for 10 grep -q attached "$tmp/dst.out"
# The destination's RECEIVE spans the script's pauses between rounds:
# its progress timeout (default 30 s) is raised out of the way.
bg recv kvmmig-ctl debug dest dst $PORT --progress-timeout 600
wait_for 60 grep -q listening "$tmp/recv.out"
bg tool kvmmig-ctl debug source src 127.0.0.1:$PORT
wait_for 20 grep -q started "$tmp/tool.out"
wait_for 10 sh -c "kvmmig-ctl list | grep -q '^dst .* receiving$'"
kill -9 "$recv_pid"
if wait_for 20 gone "$recv_pid" && wait_for 20 settled dst; then
	pass "a destination tool killed while receiving leaves nothing behind"
else fail "a destination tool killed while receiving leaves nothing behind" "$(kvmmig-ctl list) workers=$(workers)"; fi
echo "round full" >&"$tool_fd"
if wait_for 60 grep -q "^error" "$tmp/tool.out"; then
	pass "the source sees the dead destination: $(grep ^error "$tmp/tool.out")"
else fail "the source sees the dead destination" "$(cat "$tmp/tool.out")"; fi
echo stop >&"$tool_fd"
wait_for 20 grep -q stopped "$tmp/tool.out"
eval "exec ${tool_fd}>&- ${recv_fd}>&-"

# 4. The VMM changes its memslots during a migration: the next round ends
#    it cleanly (ESTALE), and stop still restores everything.
bg recv kvmmig-ctl debug dest dst $PORT --progress-timeout 600
wait_for 60 grep -q listening "$tmp/recv.out"
bg tool kvmmig-ctl debug source src 127.0.0.1:$PORT
wait_for 20 grep -q started "$tmp/tool.out"
echo "round full" >&"$tool_fd"
wait_for 60 grep -q "^round" "$tmp/tool.out"
echo addslot >&"$src_fd"
wait_for 10 grep -q "^ok" "$tmp/src.out"
echo round >&"$tool_fd"
if wait_for 60 grep -q "^error" "$tmp/tool.out"; then
	expect_output "a memslot change ends the migration cleanly" "^error Stale file handle: the VM's memslots changed" \
		grep "^error" "$tmp/tool.out"
else fail "a memslot change ends the migration cleanly" "$(cat "$tmp/tool.out")"; fi
echo stop >&"$tool_fd"
wait_for 20 grep -q stopped "$tmp/tool.out"
if wait_for 20 settled src; then pass "stop after a memslot change releases everything"
else fail "stop after a memslot change releases everything" "$(kvmmig-ctl list) workers=$(workers)"; fi
eval "exec ${tool_fd}>&- ${recv_fd}>&-"
kill -9 "$recv_pid" 2>/dev/null

# 5. The source VMM is killed while a round blocks on a stalled peer. A
#    fresh VM: src has the unlogged slot 1 that 4 added, which the
#    module rightly refuses to start on (memslots.sh).
bg vmk dirtier vmk --mem $MEM --fill
wait_for 10 grep -q attached "$tmp/vmk.out" || fail "a second source VM attaches" "$(cat "$tmp/vmk.out")"
tests/kmod/streamtool.py stall $PORT >"$tmp/stall.out" 2>&1 &
stall_pid=$!
pids+=($!)
wait_for 60 grep -q listening "$tmp/stall.out"
bg tool kvmmig-ctl debug source vmk 127.0.0.1:$PORT
wait_for 20 grep -q "^started\|^error" "$tmp/tool.out"
expect_output "a source session on it starts" "^started$" cat "$tmp/tool.out"
echo "round full" >&"$tool_fd"
sleep 3
kill -9 "$vmk_pid"
if wait_for 20 gone "$vmk_pid"; then pass "a VMM killed mid-round dies"
else fail "a VMM killed mid-round dies" "$(cat /proc/$vmk_pid/stat 2>/dev/null)"; fi
if wait_for 30 grep -q "^error" "$tmp/tool.out"; then
	pass "the round fails when its VMM dies: $(grep ^error "$tmp/tool.out")"
else fail "the round fails when its VMM dies" "$(cat "$tmp/tool.out")"; fi
if wait_for 20 sh -c "! kvmmig-ctl list | grep -q '^vmk ' && [ \$(pgrep -c -P 2 '^kvmmig-') = 0 ]"; then
	pass "a killed VMM's VM is detached and its worker gone"
else fail "a killed VMM's VM is detached and its worker gone" "$(kvmmig-ctl list) workers=$(workers)"; fi
eval "exec ${tool_fd}>&- ${vmk_fd}>&- ${src_fd}>&- ${dst_fd}>&-"
kill -9 "$stall_pid" 2>/dev/null

for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
wait 2>/dev/null
pids=()
expect "module unloads after every fault (no reference left)" rmmod kvmmig
finish
