#!/bin/bash
# linux.sh: runs on two test hosts (tests/testhost --hosts A,B). A Linux
# guest (Debian's stock bzImage, the project's initramfs whose memcounter
# writes memory and prints a running counter with a checksum) boots in
# kvmmig-vm on host a and live-migrates to host b over the network. Host b
# checks the guest itself: the console counter goes on past the last value
# host a saw, checksums stay "ok", and the guest answers on its console.
#
#   host a 10.250.0.1: kvmmig-vm lx ---- kvmmig-ctl migrate ----> host b 10.250.0.2
#
# With DEMO=1 it also shows the guest's console and the migration progress.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
role=$KVMMIG_ROLE self=$KVMMIG_SELF_ADDR peer=$KVMMIG_PEER_ADDR
S=$KVMMIG_SCRATCH
TEST_SUFFIX=" [$role: $(uname -r)]"
mkdir -p "$KVMMIG_RUN_DIR"
trap 'pkill -9 kvmmig-vm 2>/dev/null; wait 2>/dev/null' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

mem=160M
log=/tmp/lx.console
signal() { echo "${2:-}" >"$S/$1.tmp" && mv "$S/$1.tmp" "$S/$1"; }
await() { wait_for "${2:-300}" test -e "$S/$1" || { fail "waiting for the peer ($1)" "timed out"; exit 1; }; }
counters() { sed -n 's/^memcounter: counter \([0-9]*\) checksum [0-9]* ok\r\?$/\1/p' "$1"; }
say() { [ "${DEMO:-0}" = 1 ] && echo "$@"; return 0; }

if [ "$role" = a ]; then
	kernel=$PWD/build/testhost/$(uname -r)/boot/vmlinuz-$(uname -r)
	kvmmig-vm --name lx --cpus 1 --mem $mem --kernel "$kernel" \
		--initrd build/guests/linux-initramfs.cpio.gz --append "console=ttyS0 reboot=k panic=-1" \
		--console "file:$log" 2>/tmp/lx.err &
	say "host a ($(uname -r)): booting Debian's $(uname -r) bzImage as a guest in kvmmig-vm..."
	if wait_for 240 sh -c "[ \$(sed -n 's/^memcounter: counter \([0-9]*\) .* ok.*/\1/p' $log | wc -l) -ge 3 ]"; then
		pass "the Linux guest boots and its memcounter runs on host a"
	else
		fail "the Linux guest boots and its memcounter runs on host a" "$(tail -n 3 "$log" /tmp/lx.err | tr '\n' ' ')"
		signal failed; exit 1
	fi
	say "host a: guest console says: $(grep memcounter "$log" | tail -n 1)"
	await ready
	say "host a: \$ kvmmig-ctl migrate lx $peer"
	out=$(kvmmig-ctl migrate lx "$peer" --verify 2>&1)
	rc=$?
	say "$out"
	last=$(counters "$log" | tail -n 1)
	if [ $rc -eq 0 ] && wait_for 10 sh -c '! pgrep -x kvmmig-vm >/dev/null'; then
		pass "the Linux guest migrates a -> b and the source VMM exits: $(echo "$out" | tail -n 1)"
	else
		fail "the Linux guest migrates a -> b and the source VMM exits" "exit $rc: $(echo "$out" | tail -n 1)"
	fi
	signal migrated "${last:-0}"
	await checked
else
	kvmmig-vm --incoming --name lx --cpus 1 --mem $mem --console "file:$log" 2>/tmp/lx.err &
	wait_for 60 test -S "$KVMMIG_RUN_DIR/lx.sock"
	kvmmig-ctl incoming lx --listen "$self:7437" --timeout 400 >/tmp/in.out 2>&1 &
	in_pid=$!
	wait_for 10 grep -q waiting /tmp/in.out
	signal ready
	wait $in_pid
	in_rc=$?
	[ -e "$S/failed" ] && exit 1
	await migrated
	last=$(cat "$S/migrated")
	if [ $in_rc -eq 0 ] && wait_for 60 sh -c "[ \$(sed -n 's/^memcounter: counter \([0-9]*\) .* ok.*/\1/p' $log | wc -l) -ge 3 ]"; then
		first=$(counters "$log" | head -n 1)
		now=$(counters "$log" | tail -n 1)
		if [ "$first" -gt "$last" ] && [ "$now" -gt "$first" ] && ! grep -q 'MISMATCH\|FAIL' "$log"; then
			pass "the guest's counter goes on at host b ($(uname -r)): $last on a, then $first .. $now here, checksums ok"
		else
			fail "the guest's counter goes on at host b" "last on a $last, here $first .. $now: $(tail -n 2 "$log" | tr '\n' ' ')"
		fi
	else
		fail "the guest's counter goes on at host b" "incoming exit $in_rc: $(tail -n 1 /tmp/in.out); $(tail -n 2 "$log" | tr '\n' ' ')"
	fi
	say "host b ($(uname -r)): guest console says: $(grep memcounter "$log" | tail -n 1)"
	signal checked
fi
finish
