#!/bin/bash
# qmp.sh: kvmmig-ctl's QMP client (user/ctl/qmp.c) against a fake QEMU
# (tests/unit/fakeqmp.py) that misbehaves: events between replies are
# skipped; an error, a line over the bound, text that is not JSON, a
# duplicate key, a reply to another id and silence each end qemu-check with
# exit status 2 and one printable line saying so; vhost-user devices and
# netdevs, which no real QEMU here can start without a backend, are refused,
# and so is smm=on (this machine's KVM has no SMM, so no real QEMU here has it).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
ctl=$PWD/build/kvmmig-ctl
[ -x "$ctl" ] || { fail "qmp: kvmmig-ctl is built" "no $ctl: run make user"; finish; exit; }
tmp=$(mktemp -d)
fake=
trap '[ -z "$fake" ] || kill "$fake" 2>/dev/null; rm -rf "$tmp"' EXIT

# run SCENARIO: qemu-check against the fake; its exit status in $rc, output in $tmp/out, $tmp/err.
run() {
	rm -f "$tmp/qmp.sock" "$tmp/fake.log" # a previous fake's "ready" must not count
	python3 tests/unit/fakeqmp.py "$tmp/qmp.sock" "$1" >"$tmp/fake.log" 2>&1 &
	fake=$!
	wait_for 10 grep -q ready "$tmp/fake.log"
	"$ctl" qemu-check "$tmp/qmp.sock" --timeout 1500 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	kill "$fake" 2>/dev/null
	wait "$fake" 2>/dev/null
	fake=
}

# expect_qmp_error NAME SCENARIO REGEX: exit 2, one printable line matching REGEX.
expect_qmp_error() {
	run "$2"
	local bad
	bad=$(tr -d '\n' <"$tmp/err" | LC_ALL=C tr -d '[:print:]' | od -An -c | tr -s ' ')
	if [ $rc = 2 ] && [ "$(grep -c . "$tmp/err")" = 1 ] && grep -Eq -- "$3" "$tmp/err" && [ -z "$bad" ]; then
		pass "$1: $(cat "$tmp/err")"
	else
		fail "$1" "exit $rc, raw bytes '${bad}': $(cat "$tmp/err" "$tmp/out" | head -c 400 | tr '\n' ' ')"
	fi
}

run events
# The fake is not QEMU (its process maps no vCPU): that refusal alone, nothing about the protocol.
if [ $rc = 1 ] && [ "$(grep -c . "$tmp/err")" = 1 ] && grep -q "maps no KVM vCPU" "$tmp/err"; then
	pass "events before every reply are skipped: every check ran"
else
	fail "events before every reply are skipped: every check ran" "exit $rc: $(cat "$tmp/err" | tr '\n' ' ')"
fi
expect_qmp_error "a QEMU error is one line, its escape sequence shown inert" error \
	'QEMU refused query-kvm: GenericError: no \\x1b\[2Jway\\x0areally'
expect_qmp_error "a line over 4 MiB is refused" huge "longer than 4194304 bytes"
expect_qmp_error "100000 nested arrays are refused, not recursed into" deep "maximum parsing depth reached"
expect_qmp_error "a line that is not JSON is refused" notjson "not JSON"
expect_qmp_error "a duplicate key is refused" duplicate "not JSON: duplicate object key"
expect_qmp_error "a reply to another id is refused" wrongid "answered another command than query-kvm"
expect_qmp_error "silence ends at the deadline" silent "did not answer query-kvm within 1500 ms"

run vhostuser
if [ $rc = 1 ] && grep -q "device 'disk0' is vhost-user-blk-pci" "$tmp/err" &&
	grep -q "a netdev is vhost-user" "$tmp/err"; then
	pass "vhost-user device and netdev are refused, each in its line"
else
	fail "vhost-user device and netdev are refused, each in its line" "exit $rc: $(cat "$tmp/err" | tr '\n' ' ')"
fi
run smm
if [ $rc = 1 ] && grep -q "System Management Mode (smm=on).*add smm=off to -machine" "$tmp/err" &&
	[ "$(grep -c . "$tmp/err")" = 2 ]; then
	pass "a machine with smm=on is refused (SMRAM in address space 1)"
else
	fail "a machine with smm=on is refused (SMRAM in address space 1)" "exit $rc: $(cat "$tmp/err" | tr '\n' ' ')"
fi
finish
