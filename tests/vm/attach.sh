#!/bin/bash
# attach.sh: with kvmmig.ko loaded, kvmmig-vm attaches its VM under its name for exactly its
# lifetime; a name taken is a clear fatal error. The module loads only in a test host, so on
# the build host this script reruns itself inside one.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

if [ -z "${KVMMIG_TESTHOST:-}" ]; then
	. tests/vm/vmlib.sh
	vm_build
	if ! ls build/*/kvmmig.ko >/dev/null 2>&1; then
		fail "kvmmig.ko built for a test host" "no build/<kver>/kvmmig.ko: run make module-all"
		exit 1
	fi
	tests/testhost --kernel 6.1 --timeout 300 -- tests/vm/attach.sh
	status=$?
	if [ $status -ge 124 ]; then
		fail "attach test host run" "tests/testhost exited $status (timeout or boot failure)"
		exit 1
	fi
	exit $status
fi

. tests/vm/vmlib.sh
vm_build
ctl=$build/kvmmig-ctl

# In a module suite's test host (tests/run runs this in 6.1's) the script
# starts with kvmmig.ko unloaded (tests/kmod-suite): it loads it.
[ -c /dev/kvmmig ] || [ -z "${KVMMIG_KO:-}" ] || insmod "$KVMMIG_KO"
if [ -c /dev/kvmmig ]; then
	pass "kvmmig.ko is loaded (/dev/kvmmig)"
else
	fail "kvmmig.ko is loaded (/dev/kvmmig)" "no /dev/kvmmig in the test host"
	exit 1
fi

vm_start att1 --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=1024 report_ms=200"
expect_output "status says attached" "^kvmmig attached$" vm_ctl att1 status
expect_output "kvmmig-ctl list shows the VM by name" "att1" "$ctl" list
# The control socket hands out the VM's /dev/kvmmig file, the authority over its migrations.
kvmmig_fd() {
	python3 - "$KVMMIG_RUN_DIR/$1.sock" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"kvmmig-fd\n")
msg, fds, _, _ = socket.recv_fds(s, 64, 4)
while msg and not msg.endswith(b"\n"):
    msg += s.recv(64)
print(msg.decode().strip(), len(fds), os.readlink("/proc/self/fd/%d" % fds[0]) if fds else "-")
PY
}
expect_output "kvmmig-fd answers ok with the VMM's /dev/kvmmig file (SCM_RIGHTS)" "^ok 0 1 /dev/kvmmig$" kvmmig_fd att1

# Same name, another control socket: the module refuses, the VMM says why and exits.
KVMMIG_RUN_DIR=$vm_tmp/other mkdir -p "$vm_tmp/other"
KVMMIG_RUN_DIR=$vm_tmp/other "$vm_bin" --name att1 --mem 32M --payload "$dirtymem" --console none \
	>"$vm_tmp/dup.out" 2>&1
dup=$?
if [ $dup -ne 0 ] && grep -q "unable to attach VM 'att1' to kvmmig: the name is taken" "$vm_tmp/dup.out"; then
	pass "a second VM under a taken name is refused with a clear message"
else
	fail "a second VM under a taken name is refused with a clear message" "status $dup: $(cat "$vm_tmp/dup.out")"
fi
expect_output "the first VM is still attached and running" "^state running$" vm_ctl att1 status

# Writes the VMM makes itself go to the module; loading a memory image is one of them.
vm_ctl att1 pause >/dev/null && vm_ctl att1 save-state >"$vm_tmp/att1.state" &&
	vm_ctl att1 save-memory att1.mem >/dev/null
expect "quit" vm_ctl att1 quit
vm_wait_exit att1 10
if wait_for 10 sh -c "! '$ctl' list 2>/dev/null | grep -q att1"; then
	pass "the registration ends when the VMM exits"
else
	fail "the registration ends when the VMM exits" "$("$ctl" list 2>&1 | tr '\n' ' ')"
fi

# The name is free again: an incoming VM takes it and the guest goes on.
vm_start att1 --cpus 2 --mem 64M --incoming --mem-file "$vm_images/att1.mem"
expect_output "an incoming VM attaches under the freed name" "^kvmmig attached$" vm_ctl att1 status
expect "restore-state and resume while attached" sh -c "'$vmctl_bin' '$KVMMIG_RUN_DIR/att1.sock' restore-state <'$vm_tmp/att1.state' &&
	'$vmctl_bin' '$KVMMIG_RUN_DIR/att1.sock' resume"
saved=$(image_iter "$vm_images/att1.mem" 0)
if wait_iter att1 0 "$saved" 60 && ! vm_out att1 | grep -q FAIL; then
	pass "the restored, attached guest runs on and verifies clean"
else
	fail "the restored, attached guest runs on and verifies clean" "$(vm_out att1 | tail -n 2 | tr '\n' ' ')"
fi
grep -q "unable to report" "$vm_tmp/att1.err" &&
	fail "the VMM's own memory writes are reported to kvmmig without error" "$(grep -m1 'unable to report' "$vm_tmp/att1.err")" ||
	pass "the VMM's own memory writes are reported to kvmmig without error"
vm_ctl att1 quit >/dev/null
vm_wait_exit att1 10

finish
