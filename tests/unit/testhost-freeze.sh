#!/bin/bash
# testhost-freeze.sh: a test host whose kernel stops running its own timers
# (no heartbeat from tests/testhost.d/stage2) is stopped after
# TESTHOST_FREEZE_LIMIT seconds, not at its timeout, with where its vCPUs
# were, and named a fault of the emulator when its console holds no lockup
# or stall report (tests/retry.sh then runs what it had not finished). CI
# met two such freezes in a row (December 2026): a whole test host silent
# for the 2400 s of its timeout, the in-host time limits never firing.
# The freeze here is QEMU's monitor `stop` (TESTHOST_FREEZE_AFTER, a test
# hook): every vCPU stopped at once, as in those runs.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$SECONDS
TESTHOST_FREEZE_AFTER=40 TESTHOST_FREEZE_LIMIT=20 tests/testhost --kernel 6.12 --no-module --timeout 400 -- \
	sh -c 'echo "the command runs"; sleep 380' >"$out" 2>&1
rc=$? secs=$((SECONDS - t0))
sed 's/^/  testhost: /' "$out"
grep -q "the command runs" "$out" || { fail "a test host boots and runs its command" "$(tail -n 3 "$out" | tr '\n' ' ')"; finish; exit; }
[ $rc = 125 ] && [ $secs -lt 200 ] && grep -q "froze: no heartbeat for 20 s" "$out" &&
	pass "a frozen test host is stopped at the freeze limit, not its timeout ($secs s, exit $rc)" ||
	fail "a frozen test host is stopped at the freeze limit, not its timeout" "exit $rc after $secs s"
grep -Eq "vCPUs: CPU#0 RIP=[0-9a-f]+ \([a-z_0-9.]+\+0x[0-9a-f]+\) CPL=0 IF=[01] CR3=[0-9a-f]+; CPU#1 RIP=" "$out" &&
	pass "it says where each vCPU was (RIP named in the kernel's text, CPL, IF, CR3)" ||
	fail "it says where each vCPU was" "no vCPUs line with two CPUs and named RIPs"
grep -Eq "vCPUs: CPU#[01] stack \(kernel-text words from RSP up\): [a-z_0-9.]+\+0x" "$out" &&
	pass "and the kernel text on a vCPU's stack" ||
	fail "and the kernel text on a vCPU's stack" "no stack line"
grep -q "every vCPU's timers stopped at once: a fault of the emulator (QEMU TCG)" "$out" &&
	pass "with no lockup or stall report it is the emulator's (tests/retry.sh reruns)" ||
	fail "with no lockup or stall report it is the emulator's" "no verdict"
finish
