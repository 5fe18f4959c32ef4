#!/bin/bash
# migrate.sh: runs on two test hosts at once (tests/testhost --hosts A,B),
# e.g. a 6.1 and a 6.12 kernel joined by a network:
#
#   host a (KVMMIG_ROLE=a)  10.250.0.1  <---- TCP ---->  10.250.0.2  host b
#
# A payload guest that checks its own memory migrates back and forth ten
# times (a->b, b->a, ...); after every hop the new host's copy must go on
# counting with its memory checks passing, and the old host's VMM must be
# gone. Then two guests migrate a->b at the same time. All over kernel TLS. The hosts take turns
# through files in the shared scratch directory.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/flight.sh
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
role=$KVMMIG_ROLE self=$KVMMIG_SELF_ADDR peer=$KVMMIG_PEER_ADDR
S=$KVMMIG_SCRATCH
TEST_SUFFIX=" [$role: $(uname -r)]"
mkdir -p "$KVMMIG_RUN_DIR"
# A guest that dies leaves its last KVM events, and the emulator's verdict.
flight_start
trap 'pkill -9 kvmmig-vm 2>/dev/null; wait 2>/dev/null; flight_stop' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

hops=10
guest=build/guests/dirtymem.bin
log=/tmp/guest.log

signal() { echo "${2:-}" >"$S/$1.tmp" && mv "$S/$1.tmp" "$S/$1"; }
await() { wait_for "${2:-180}" test -e "$S/$1" || { fail "waiting for the peer ($1)" "timed out"; exit 1; }; }
last_iter() { grep -o 'iter [0-9]*' "$1" 2>/dev/null | awk '{print $2}' | sort -n | tail -n1; }
reports() { grep -c ' iter [0-9]* verifies ' "$1" 2>/dev/null; }
kernel() { uname -r | cut -d- -f1 | cut -d+ -f1; }
. tests/twohost/hoplib.sh

# Every migration authenticates and runs over kernel TLS with one key, made
# by host a in the shared scratch directory.
key=$S/migration.key
if [ "$role" = a ]; then
	kvmmig-ctl keygen "$key" >/dev/null && signal key
else
	await key
fi

# Host a starts the guest with a named CPU model: the two kernels' KVMs
# list different features, and a model is what lets a guest hop both ways.
cpu_model=x86-64-v2
if [ "$role" = a ]; then
	kvmmig-vm --name vm0 --mem 64M --cpu $cpu_model --payload "$guest" --append "pages=4096 rate=16 delay_us=100000 report_ms=100" \
		--console "file:$log" 2>/tmp/vm0.err &
	wait_for 30 grep -q ' iter ' "$log" || fail "guest starts on host a" "$(cat /tmp/vm0.err)"
fi

for hop in $(seq 1 $hops); do
	if [ $((hop % 2)) = 1 ]; then src=a; else src=b; fi
	if [ "$role" != "$src" ]; then
		hop_receive "$hop" "$src"
	else
		hop_send "$hop" peer "$peer"
		await "checked.$hop"
	fi
	# A failed hop leaves the guest where it was: later hops would only cascade.
	[ "$test_failures" -eq 0 ] || exit 1
done

# Two guests at the same time, a -> b, on two ports.
if [ "$role" = a ]; then
	pkill kvmmig-vm; wait 2>/dev/null
	for n in 1 2; do
		kvmmig-vm --name "g$n" --mem 32M --payload "$guest" --append "pages=2048 rate=8 delay_us=100000 report_ms=100" \
			--console "file:/tmp/g$n.log" 2>"/tmp/g$n.err" &
	done
	wait_for 30 sh -c 'grep -q " iter " /tmp/g1.log && grep -q " iter " /tmp/g2.log'
	await ready.pair
	kvmmig-ctl migrate g1 "$peer:7441" --key "$key" >/tmp/g1.mig 2>&1 &
	m1=$!
	kvmmig-ctl migrate g2 "$peer:7442" --key "$key" >/tmp/g2.mig 2>&1 &
	m2=$!
	wait $m1; r1=$?
	wait $m2; r2=$?
	if [ $r1 = 0 ] && [ $r2 = 0 ]; then pass "two guests migrate at the same time"
	else fail "two guests migrate at the same time" "exits $r1 $r2: $(tail -n 1 /tmp/g1.mig) / $(tail -n 1 /tmp/g2.mig)"; fi
	signal migrated.pair "$(last_iter /tmp/g1.log) $(last_iter /tmp/g2.log)"
	await checked.pair
else
	pkill kvmmig-vm; wait 2>/dev/null
	for n in 1 2; do
		kvmmig-vm --incoming --name "g$n" --mem 32M --console "file:/tmp/g$n.log" 2>"/tmp/g$n.err" &
		wait_for 20 test -S "$KVMMIG_RUN_DIR/g$n.sock"
		kvmmig-ctl incoming "g$n" --listen "$self:744$n" --timeout 180 --key "$key" >"/tmp/g$n.in" 2>&1 &
	done
	wait_for 10 sh -c 'grep -q waiting /tmp/g1.in && grep -q waiting /tmp/g2.in'
	signal ready.pair
	await migrated.pair
	read -r last1 last2 <"$S/migrated.pair"
	ok=1
	for n in 1 2; do
		eval "last=\$last$n"
		wait_for 60 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' /tmp/g$n.log) -ge 3 ]" &&
			[ "$(last_iter /tmp/g$n.log)" -gt "${last:-0}" ] && ! grep -q 'FAIL\|failures [1-9]' "/tmp/g$n.log" || ok=0
	done
	if [ $ok = 1 ]; then pass "both guests go on at the destination with their memory checks passing"
	else fail "both guests go on at the destination with their memory checks passing" \
		"g1: $(tail -n 1 /tmp/g1.log) g2: $(tail -n 1 /tmp/g2.log)"; fi
	signal checked.pair
fi
finish
