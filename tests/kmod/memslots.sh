#!/bin/bash
# memslots.sh: runs inside a test host started with --no-module. The VMM
# owns its memslots (invariant 9): kvmmig.ko harvests only slots the VMM
# logs, never creates, moves, deletes or re-flags one, refuses what it
# cannot migrate whole (a VMM that harvests its own dirty log, SMM memory),
# and ends a migration with ESTALE when the VMM changes its layout (at the
# source, and at the destination mid-receive). The layout after such an end
# is read back through KVM: exactly what the VMM made it.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh
MEM=8
PORT=7414
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

ask_wait=10
settled() { kvmmig-ctl list | grep -q "^$1 .* idle$" && ! pgrep -P 2 -x "kvmmig-$1" >/dev/null; }
# new_vm NAME: a running dirtier VM (slot 0 logged from the start, as a VMM does).
new_vm() {
	bg "$1" dirtier "$1" --mem $MEM
	wait_for 10 grep -q attached "$tmp/$1.out" || fail "VM $1 attaches" "$(cat "$tmp/$1.out")"
	ask "$1" run >/dev/null
}
# start_source NAME: a source session towards a sink; its first line in $out.
start_source() {
	tests/kmod/streamtool.py sink $PORT 100000000 >"$tmp/sink.out" 2>&1 &
	pids+=($!)
	wait_for 60 grep -q listening "$tmp/sink.out"
	bg tool kvmmig-ctl debug source "$1" 127.0.0.1:$PORT
	wait_for 20 grep -q "started\|^error" "$tmp/tool.out"
	out=$(head -n 1 "$tmp/tool.out")
}
end_source() {
	echo stop >&"$tool_fd" 2>/dev/null
	wait_for 20 sh -c "! kill -0 $tool_pid 2>/dev/null || grep -q stopped '$tmp/tool.out'"
	eval "exec ${tool_fd}>&-"
	pkill -f 'streamtool.py sink' 2>/dev/null
	wait_for 10 sh -c "! pgrep -f '[s]treamtool.py sink' >/dev/null"
}

# 1. A slot the VMM does not log is refused, named, and left as it was.
new_vm a
expect_output "dirty logging off: the VMM's switch" "^ok$" ask a "log off"
# (The session opens first: the VMM switches logging on after it, once
# the dirty log is in manual-protect mode. Round 0 checks.)
start_source a
echo "round full" >&"$tool_fd"
wait_for 60 grep -q "^round\|^error" "$tmp/tool.out"
out=$(grep "^round\|^error" "$tmp/tool.out")
if [[ "$out" == "error Stale file handle: a memslot is not dirty-logged: the VMM switches KVM_MEM_LOG_DIRTY_PAGES on"* ]]; then
	pass "a memslot the VMM does not log is refused at round 0 with what to do"
else fail "a memslot the VMM does not log is refused at round 0 with what to do" "$out"; fi
end_source
expect_output "and the module did not switch its logging on" "^slots gpa0 used gpa512m free slot0-log off$" ask a slots
expect_output "the VMM switches logging on again" "^ok$" ask a "log on"

# 2. The VMM deletes a logged slot mid-migration: ESTALE, nothing re-created.
start_source a
echo "round full" >&"$tool_fd"
if wait_for 60 grep -q "^round" "$tmp/tool.out"; then pass "with its slot logged the same VM migrates"
else fail "with its slot logged the same VM migrates" "$out $(cat "$tmp/tool.out")"; fi
ask a pause >/dev/null
expect_output "the VMM deletes its slot" "^ok$" ask a delslot
echo round >&"$tool_fd"
if wait_for 60 grep -q "^error" "$tmp/tool.out"; then
	expect_output "a deleted slot ends the migration with ESTALE" \
		"^error Stale file handle: the VM's memslots changed" grep "^error" "$tmp/tool.out"
else fail "a deleted slot ends the migration with ESTALE" "$(cat "$tmp/tool.out")"; fi
end_source
wait_for 20 settled a
expect_output "after the session the deleted slot stays deleted (KVM's view)" \
	"^slots gpa0 free gpa512m free slot0-log off$" ask a slots

# 3. The VMM moves a logged slot mid-migration: ESTALE, the slot stays moved.
new_vm b
start_source b
echo "round full" >&"$tool_fd"
wait_for 60 grep -q "^round" "$tmp/tool.out"
ask b pause >/dev/null
expect_output "the VMM moves its slot" "^ok$" ask b moveslot
echo round >&"$tool_fd"
if wait_for 60 grep -q "^error" "$tmp/tool.out"; then
	expect_output "a moved slot ends the migration with ESTALE" \
		"^error Stale file handle: the VM's memslots changed" grep "^error" "$tmp/tool.out"
else fail "a moved slot ends the migration with ESTALE" "$(cat "$tmp/tool.out")"; fi
end_source
wait_for 20 settled b
expect_output "after the session the moved slot stays where the VMM put it (KVM's view)" \
	"^slots gpa0 free gpa512m used slot0-log on$" ask b slots

# 4. A VMM that harvests its own dirty log (manual protect) is refused.
new_vm c
expect_output "the VMM turns manual protect on" "^ok$" ask c protect
start_source c
if [[ "$out" == "error Device or resource busy: the VMM already uses manual dirty-log protection"* ]]; then
	pass "a VMM using manual dirty-log protection is refused, with the reason"
else fail "a VMM using manual dirty-log protection is refused, with the reason" "$out"; fi
end_source

# 5. SMM memory (address space 1) is refused: its writes would not be harvested.
new_vm d
smm=$(ask d smmslot)
if [ "$smm" = ok ]; then
	start_source d
	if [[ "$out" == "error Operation not supported: the VM has SMM memory (memslots in address space 1)"* ]]; then
		pass "a VM with SMM memslots is refused, naming them"
	else fail "a VM with SMM memslots is refused, naming them" "$out"; fi
	end_source
else
	fail "a VM with SMM memslots is refused, naming them" "KVM refused the SMM slot: $smm"
fi

# 6. The destination: a record checked against the layout of the session's
# start is written only if the VM still maps those pages there. Round 0
# lands, the VMM moves its slot, round 1 (valid for the old layout) must
# not be written into memory that is no longer that guest address.
bg dst dirtier dst --mem $MEM --idle
wait_for 10 grep -q attached "$tmp/dst.out" || fail "destination VM attaches" "$(cat "$tmp/dst.out")"
bg events kvmmig-ctl debug monitor
wait_for 60 grep -q monitoring "$tmp/events.out"
bg recv timeout 60 kvmmig-ctl debug dest dst $PORT
wait_for 60 grep -q listening "$tmp/recv.out"
tests/kmod/streamtool.py send-staged 127.0.0.1 $PORT "$tmp/go" >"$tmp/staged.out" 2>&1 &
pids+=($!)
if wait_for 20 grep -q "^event round vm=dst round=0 " "$tmp/events.out"; then
	expect_output "the destination VMM moves its slot mid-receive" "^ok$" ask dst moveslot
else fail "the destination VMM moves its slot mid-receive" "round 0 never landed: $(cat "$tmp/events.out" "$tmp/recv.out")"; fi
touch "$tmp/go"
wait_for 30 sh -c "grep -q '^error\|^received' '$tmp/recv.out'"
if grep -q "^error Stale file handle: the destination VM's memslots changed during the migration" "$tmp/recv.out"; then
	pass "a record for a moved slot ends the receive with ESTALE, named"
else fail "a record for a moved slot ends the receive with ESTALE, named" "$(grep -v listening "$tmp/recv.out")"; fi

# 7. The test VMM's post mortem, which tests/retry.sh trusts: a guest that
# cannot fault names the emulator only while its code is as loaded. Here
# something (this test) writes an invalid opcode over its loop.
new_vm e
ask e "poke 24 -1" >/dev/null
wait_for 30 grep -q "unexpected exit" "$tmp/e.out"
expect_output "a triple fault after its code was overwritten is blamed on the write, not the emulator" \
	"guest shutdown \(triple fault\).*: something wrote it$" grep "unexpected exit" "$tmp/e.out"

for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
wait 2>/dev/null
pids=()
expect "module unloads after the refusals (no reference left)" rmmod kvmmig
finish
