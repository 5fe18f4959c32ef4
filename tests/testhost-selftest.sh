#!/bin/bash
# Checks tests/testhost itself on every supported kernel: output, environment,
# nested KVM, unprivileged users, exit status, the kernel-log check, timeouts
# and the two-host link. One "PASS: name" / "FAIL: name: reason" per check.
#
#   TESTHOST_KERNELS="6.1 7.3"   kernels to check (default: every label of
#                                 scripts/kernels --labels)
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
testhost=$repo/tests/testhost
kernels=${TESTHOST_KERNELS:-$("$repo/scripts/kernels" --labels 2>/dev/null | awk '{print $1}')}
failures=0

pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1: $2"
	failures=$((failures + 1))
}
# expect_line NAME LINE FILE: passes when FILE holds exactly LINE.
expect_line() {
	local name=$1 line=$2 file=$3
	if grep -qxF -- "$line" "$file"; then
		pass "$name"
	else
		fail "$name" "no line '$line' in the output ($(head -c 300 "$file" | tr '\n' '|'))"
	fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/testhost-selftest.XXXXXX")
mkdir -p "$repo/build/testhost"
scratch=$(mktemp -d "$repo/build/testhost/selftest-scratch.XXXXXX")
chmod 1777 "$scratch" # written by nobody inside the test host
trap 'rm -rf "$tmp" "$scratch"' EXIT

# One boot per kernel covers the plain command path; the command exits 3.
facts='echo "uname=$(uname -r)"
echo "kver=$KVMMIG_KVER"
echo "repo=$KVMMIG_REPO cwd=$(pwd)"
[ -d /sys/module/kvm_amd ] && echo kvm_amd=loaded
[ -c /dev/kvm ] && echo dev_kvm=present
[ -d /sys/module/kvmmig ] && echo kvmmig=loaded
tests/testhost.d/kvm-hlt.py
echo "nobody=$(setpriv --reuid=65534 --regid=65534 --clear-groups id -u)"
echo "su=$(busybox su -s /bin/sh nobody -c "id -u")"
setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo from-nobody >$KVMMIG_SCRATCH/note"
echo "<2>testhost-selftest: console message" >/dev/kmsg
for d in /tmp /run /var/tmp; do touch $d/w && echo "writable=$d"; done
exit 3'

for k in $kernels; do
	name="testhost $k"
	module_opt=()
	kver=$("$repo/scripts/kernels" --labels 2>/dev/null | awk -v k="$k" '$1 == k {print $2}')
	if [ -z "$kver" ]; then
		fail "$name" "no headers of kernel $k installed (scripts/kernels --labels)"
		continue
	fi
	[ -e "$repo/build/$kver/kvmmig.ko" ] || module_opt=(--no-module)

	rm -f "$scratch/note"
	"$testhost" --kernel "$k" --scratch "$scratch" "${module_opt[@]}" -- "$facts" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc = 3 ]; then
		pass "$name: exit status 3 is passed back"
	else
		fail "$name: exit status 3 is passed back" "got $rc; $(tail -n 5 "$tmp/err" | tr '\n' '|')"
	fi
	expect_line "$name: command output" "uname=$kver" "$tmp/out"
	expect_line "$name: KVMMIG_KVER" "kver=$kver" "$tmp/out"
	expect_line "$name: KVMMIG_REPO and cwd" "repo=$repo cwd=$repo" "$tmp/out"
	expect_line "$name: kvm_amd loaded" "kvm_amd=loaded" "$tmp/out"
	expect_line "$name: /dev/kvm present" "dev_kvm=present" "$tmp/out"
	expect_line "$name: nested KVM runs a guest" "kvm-hlt: ok" "$tmp/out"
	if [ ${#module_opt[@]} = 0 ]; then
		expect_line "$name: kvmmig.ko loaded" "kvmmig=loaded" "$tmp/out"
	else
		echo "SKIP: $name: kvmmig.ko loaded: build/$kver/kvmmig.ko not built"
	fi
	expect_line "$name: setpriv to nobody" "nobody=65534" "$tmp/out"
	expect_line "$name: busybox su to nobody" "su=65534" "$tmp/out"
	for d in /tmp /run /var/tmp; do
		expect_line "$name: $d writable" "writable=$d" "$tmp/out"
	done
	if [ "$(cat "$scratch/note" 2>/dev/null)" = from-nobody ]; then
		pass "$name: scratch written inside is read outside"
	else
		fail "$name: scratch written inside is read outside" "$scratch/note missing or wrong"
	fi
	if grep -q 'testhost-selftest: console message' "$tmp/out"; then
		fail "$name: kernel messages stay out of the output" "a /dev/kmsg line reached stdout"
	else
		pass "$name: kernel messages stay out of the output"
	fi

	# The scanner must catch a WARNING line whatever produced it; /dev/kmsg
	# puts one in the kernel log without harming the kernel.
	"$testhost" --kernel "$k" "${module_opt[@]}" -- \
		'echo "WARNING: CPU: 0 PID: 1 at testhost-selftest provoked" >/dev/kmsg' >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc = 125 ] && grep -q '^testhost: kernel log: .*WARNING: CPU: 0 PID: 1 at testhost-selftest provoked' "$tmp/err"; then
		pass "$name: a kernel warning fails the run"
	else
		fail "$name: a kernel warning fails the run" "exit $rc; $(tail -n 3 "$tmp/err" | tr '\n' '|')"
	fi
done

first=${kernels%% *}
"$testhost" --kernel "$first" --no-module --timeout 12 -- sleep 1000 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 124 ] && grep -q '^testhost: .*timed out after 12 s' "$tmp/err"; then
	pass "testhost: timeout kills the test host"
else
	fail "testhost: timeout kills the test host" "exit $rc; $(tail -n 3 "$tmp/err" | tr '\n' '|')"
fi

# A kernel that does not reach its command in time is stopped, named, and
# (kvmmig never loaded: a boot stalled in the emulator) booted once more.
TESTHOST_BOOT_LIMIT=2 "$testhost" --kernel "$first" --no-module --timeout 120 -- true >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 125 ] && [ "$(grep -c 'did not reach its command in 2 s' "$tmp/err")" = 2 ] &&
	grep -q 'its kernel stalled at boot, kvmmig not loaded' "$tmp/err" && grep -q 'booting it once more' "$tmp/err"; then
	pass "testhost: a kernel stuck before its command is stopped and booted once more"
else
	fail "testhost: a kernel stuck before its command is stopped and booted once more" "exit $rc; $(tail -n 5 "$tmp/err" | tr '\n' '|')"
fi

# A kernel that resets is stopped at once and the code each CPU ran at the
# reset is named (QEMU's dump, KASLR undone): here a triple fault on purpose.
"$testhost" --kernel "$first" --no-module --timeout 120 -- \
	'echo triple >/sys/kernel/reboot/type; echo b >/proc/sysrq-trigger; sleep 100' >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc = 125 ] && grep -q 'stopped without a result (its kernel reset (triple fault); at the reset; CPU .*(native_machine_emergency_restart+0x' "$tmp/err"; then
	pass "testhost: a triple fault stops the test host and names the code it ran"
else
	fail "testhost: a triple fault stops the test host and names the code it ran" "exit $rc; $(head -n 2 "$tmp/err" | tr '\n' '|')"
fi

# Two hosts: b listens, a sends 4 MB over TCP; both print size and digest.
set -- $kernels
pair="$1,${2:-$1}"
link='if [ "$KVMMIG_ROLE" = b ]; then
	tests/testhost.d/tcp-check.py recv 5000 "$KVMMIG_SCRATCH/b-ready"
else
	i=0
	while [ ! -e "$KVMMIG_SCRATCH/b-ready" ]; do
		i=$((i + 1)); [ $i -lt 600 ] || { echo "b never got ready"; exit 1; }
		sleep 0.1
	done
	busybox ping -c 1 -W 5 "$KVMMIG_PEER_ADDR" >/dev/null && echo "ping ok"
	tests/testhost.d/tcp-check.py send 5000 "$KVMMIG_PEER_ADDR" 4000000
fi
echo "$KVMMIG_ROLE $KVMMIG_SELF_ADDR -> $KVMMIG_PEER_ADDR"'
"$testhost" --hosts "$pair" --no-module --timeout 300 -- "$link" >"$tmp/out" 2>"$tmp/err"
rc=$?
name="testhost --hosts $pair"
if [ $rc = 0 ]; then
	pass "$name: both hosts exit 0"
else
	fail "$name: both hosts exit 0" "exit $rc; $(tail -n 5 "$tmp/err" | tr '\n' '|')"
fi
expect_line "$name: addresses of a" "[a] a 10.250.0.1 -> 10.250.0.2" "$tmp/out"
expect_line "$name: addresses of b" "[b] b 10.250.0.2 -> 10.250.0.1" "$tmp/out"
expect_line "$name: a pings b" "[a] ping ok" "$tmp/out"
sent=$(sed -n 's/^\[a\] \(4000000 [0-9a-f]\{64\}\)$/\1/p' "$tmp/out")
got=$(sed -n 's/^\[b\] \([0-9]* [0-9a-f]\{64\}\)$/\1/p' "$tmp/out")
if [ -n "$sent" ] && [ "$sent" = "$got" ]; then
	pass "$name: a reaches b over TCP (4 MB intact)"
else
	fail "$name: a reaches b over TCP (4 MB intact)" "sent '$sent', received '$got'"
fi

[ $failures = 0 ]
