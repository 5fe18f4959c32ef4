#!/bin/bash
# control.sh: kvmmig-vm's control socket: status, pause (the guest really stops), resume,
# commands refused in the wrong state, quit; names in use; the memslot layout it reports;
# save-memory writes new files in the image directory only.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

vm_start c1 --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=2048 report_ms=20"
wait_iter c1 0 10 10

status=$(vm_ctl c1 status)
for want in "^name c1$" "^state running$" "^cpus 2$" "^cpu-model host 1$" "^mem 67108864$" \
	"^memslot 0 gpa 0x0 size 0x4000000 offset 0x0$" "^kvmmig (attached|absent)$" "^guest payload$" \
	"^pid $(vm_pid c1)$"; do
	if echo "$status" | grep -Eq "$want"; then
		pass "status has /$want/"
	else
		fail "status has /$want/" "status was: $(echo "$status" | tr '\n' ';')"
	fi
done
[ -e /dev/kvmmig ] || expect_output "without /dev/kvmmig the VM runs unattached" "^kvmmig absent$" vm_ctl c1 status
[ -e /dev/kvmmig ] || expect_output "without kvmmig, kvmmig-fd is refused with the reason" \
	"error VM 'c1' is not attached to kvmmig" vm_ctl c1 kvmmig-fd

expect_output "save-state while running is refused" "needs a paused VM" vm_ctl c1 save-state
expect_output "save-memory while running is refused" "needs a paused VM" vm_ctl c1 save-memory x
expect_output "restore-state into a running VM is refused" "incoming VM" vm_ctl c1 restore-state </dev/null
expect_output "an unknown command is refused" "unknown command 'frobnicate'" vm_ctl c1 frobnicate

# Paused means no vCPU runs: the guest's own counters stand still, in memory.
expect "pause" vm_ctl c1 pause
expect_output "status says paused" "^state paused$" vm_ctl c1 status
expect "pause twice is fine" vm_ctl c1 pause
vm_ctl c1 save-memory m1 >/dev/null
sleep 0.3
vm_ctl c1 save-memory m2 >/dev/null
a0=$(image_iter "$KVMMIG_RUN_DIR/m1" 0) a1=$(image_iter "$KVMMIG_RUN_DIR/m1" 1)
b0=$(image_iter "$KVMMIG_RUN_DIR/m2" 0) b1=$(image_iter "$KVMMIG_RUN_DIR/m2" 1)
if [ -n "$a0" ] && [ "$a0" -gt 0 ] && [ "$a0" = "$b0" ] && [ "$a1" = "$b1" ]; then
	pass "paused: both vCPUs' iteration counters stand still ($a0, $a1)"
else
	fail "paused: both vCPUs' iteration counters stand still" "cpu0 $a0 -> $b0, cpu1 $a1 -> $b1"
fi
cmp -s "$KVMMIG_RUN_DIR/m1" "$KVMMIG_RUN_DIR/m2" && pass "paused: guest memory does not change" ||
	fail "paused: guest memory does not change" "two images taken 0.3 s apart differ"

# save-memory names a new file in the image directory (by default the run directory): never a
# path, never a file that exists, never through a symbolic link.
expect_output "save-memory wrote m1 into the run directory, 0600" "^600 $(stat -c %s "$KVMMIG_RUN_DIR/m2")$" \
	stat -c "%a %s" "$KVMMIG_RUN_DIR/m1"
expect_output "save-memory refuses a file that exists" \
	"error save-memory: $KVMMIG_RUN_DIR/m1 exists: give a new name or remove it" vm_ctl c1 save-memory m1
ln -s "$vm_tmp/target" "$KVMMIG_RUN_DIR/link"
expect_output "save-memory refuses a symbolic link" \
	"error save-memory: $KVMMIG_RUN_DIR/link is a symbolic link" vm_ctl c1 save-memory link
[ ! -e "$vm_tmp/target" ] && pass "nothing was written through the link" ||
	fail "nothing was written through the link" "$vm_tmp/target exists"
for bad in "$vm_tmp/escape" ../escape .. . ""; do
	expect_output "save-memory refuses '$bad'" "error save-memory( needs|: '.*' is not) a file name" \
		vm_ctl c1 save-memory "$bad"
done
[ ! -e "$vm_tmp/escape" ] && pass "nothing was written outside" ||
	fail "nothing was written outside" "$(ls "$vm_tmp")"

out_before=$(vm_out c1 | wc -l)
expect "resume" vm_ctl c1 resume
expect_output "status says running" "^state running$" vm_ctl c1 status
if wait_iter c1 0 "$b0" 5 && wait_iter c1 1 "$b1" 5; then
	pass "resumed: both vCPUs go on from where they stood"
else
	fail "resumed: both vCPUs go on from where they stood" "$(vm_out c1 | tail -n 2 | tr '\n' ' ')"
fi

# Many quick pause/resume cycles while both vCPUs exit often (console lines): never a hang,
# never a lost exit, the guest verifies clean throughout.
cycles_ok=0
for ((i = 0; i < 40; i++)); do
	timeout 5 "$vmctl_bin" "$KVMMIG_RUN_DIR/c1.sock" pause >/dev/null &&
		timeout 5 "$vmctl_bin" "$KVMMIG_RUN_DIR/c1.sock" resume >/dev/null || break
	cycles_ok=$((cycles_ok + 1))
done
now0=$(last_iter c1 0)
if [ $cycles_ok = 40 ] && wait_iter c1 0 "$now0" 5 && ! vm_out c1 | grep -q FAIL; then
	pass "40 quick pause/resume cycles: no hang, the guest goes on clean"
else
	fail "40 quick pause/resume cycles: no hang, the guest goes on clean" \
		"$cycles_ok cycles done: $(vm_out c1 | grep -m1 FAIL)"
fi

# A VMM waiting for its state has none to save.
vm_start inc --mem 32M --incoming
expect_output "save-state of an incoming VM is refused" \
	"error save-state: VM 'inc' is incoming" vm_ctl inc save-state
expect_output "the incoming VM is still incoming" "^state incoming$" vm_ctl inc status
vm_ctl inc quit >/dev/null

# --image-dir: images go there, and status says where.
mkdir "$vm_tmp/images"
vm_start img --mem 32M --payload "$dirtymem" --append "pages=256" --image-dir "$vm_tmp/images"
expect_output "status reports the image directory" "^image-dir $vm_tmp/images$" vm_ctl img status
vm_ctl img pause >/dev/null
expect "save-memory writes into --image-dir" vm_ctl img save-memory img.mem
expect_output "the image is there, whole" "^33554432$" stat -c %s "$vm_tmp/images/img.mem"
vm_ctl img quit >/dev/null
expect_output "an --image-dir that is no directory is refused at start" \
	"invalid --image-dir '$vm_tmp/nodir': No such file or directory" \
	"$vm_bin" --name nodir --mem 32M --payload "$dirtymem" --image-dir "$vm_tmp/nodir"

# A second VMM cannot take a name in use; the first one is unharmed.
"$vm_bin" --name c1 --mem 16M --payload "$dirtymem" --console none >"$vm_tmp/dup.out" 2>&1
dup_status=$?
if [ $dup_status -ne 0 ] && grep -q "name 'c1' in use" "$vm_tmp/dup.out"; then
	pass "a second VMM with a name in use is refused"
else
	fail "a second VMM with a name in use is refused" "status $dup_status: $(cat "$vm_tmp/dup.out")"
fi
expect_output "the first VMM still answers" "^state running$" vm_ctl c1 status

expect "quit" vm_ctl c1 quit
vm_wait_exit c1 5
[ "$vm_status" = 0 ] && pass "quit ends the VMM with status 0" || fail "quit ends the VMM with status 0" "status $vm_status"
[ ! -e "$KVMMIG_RUN_DIR/c1.sock" ] && pass "the control socket is removed at exit" ||
	fail "the control socket is removed at exit" "$KVMMIG_RUN_DIR/c1.sock still there"
! vm_out c1 | grep -q FAIL && pass "the guest saw no failure across pause and resume" ||
	fail "the guest saw no failure across pause and resume" "$(vm_out c1 | grep -m1 FAIL)"

# A stale socket file (a VMM that died) is replaced, not an error.
"$vm_bin" --name stale --mem 32M --payload "$dirtymem" --console none &
stale_pid=$!
vm_pids+=($stale_pid)
wait_for 5 test -S "$KVMMIG_RUN_DIR/stale.sock"
kill -9 $stale_pid
wait $stale_pid 2>/dev/null
vm_start stale --mem 32M --payload "$dirtymem" --append "pages=256"
wait_for 5 vm_ctl stale status # the old socket file was there before the new VMM bound its own
expect_output "a stale control socket of a dead VMM is replaced" "^state running$" vm_ctl stale status
vm_ctl stale quit >/dev/null

# More than 3 GiB: a second memslot above 4 GiB, never in the PCI hole (memory is lazily allocated).
vm_start big --mem 4G --payload "$dirtymem" --append "pages=256"
status=$(vm_ctl big status)
if echo "$status" | grep -q "^memslot 0 gpa 0x0 size 0xc0000000 offset 0x0$" &&
	echo "$status" | grep -q "^memslot 1 gpa 0x100000000 size 0x40000000 offset 0xc0000000$"; then
	pass "a 4 GiB VM has slot 0 below 3 GiB and slot 1 at 4 GiB"
else
	fail "a 4 GiB VM has slot 0 below 3 GiB and slot 1 at 4 GiB" "$(echo "$status" | grep memslot | tr '\n' ';')"
fi
vm_ctl big quit >/dev/null

finish
