#!/bin/bash
# hop.sh: runs on three test hosts at once (tests/testhost --hosts A,B,C),
# e.g. Debian 12's 6.1, 6.12 and trixie-backports' 7.3 on one network:
#
#   host a 10.250.0.1  ->  host b 10.250.0.2  ->  host c 10.250.0.3  ->  a
#
# A payload guest that checks its own memory goes round the ring once,
# every hop with --verify over kernel TLS: each kernel sends to the next
# and receives from the one before (6.1 -> 6.12 -> 7.3 -> 6.1). After each
# hop the new host's copy must go on counting with its memory checks
# passing, and the old host's VMM must be gone. The hosts take turns
# through files in the shared scratch directory.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/flight.sh
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
role=$KVMMIG_ROLE self=$KVMMIG_SELF_ADDR
S=$KVMMIG_SCRATCH
TEST_SUFFIX=" [$role: $(uname -r)]"
mkdir -p "$KVMMIG_RUN_DIR"
# A guest that dies leaves its last KVM events, and the emulator's verdict.
flight_start
trap 'pkill -9 kvmmig-vm 2>/dev/null; wait 2>/dev/null; flight_stop' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

ring=(a b c)
guest=build/guests/dirtymem.bin
log=/tmp/guest.log

addr() { for h in $KVMMIG_HOSTS; do [ "${h%%=*}" = "$1" ] && echo "${h#*=}"; done; }
signal() { echo "${2:-}" >"$S/$1.tmp" && mv "$S/$1.tmp" "$S/$1"; }
await() { wait_for "${2:-240}" test -e "$S/$1" || { fail "waiting for the other hosts ($1)" "timed out"; exit 1; }; }
last_iter() { grep -o 'iter [0-9]*' "$1" 2>/dev/null | awk '{print $2}' | sort -n | tail -n1; }
reports() { grep -c ' iter [0-9]* verifies ' "$1" 2>/dev/null; }
kernel() { uname -r | cut -d- -f1 | cut -d+ -f1; }
. tests/twohost/hoplib.sh

key=$S/migration.key
if [ "$role" = a ]; then
	kvmmig-ctl keygen "$key" >/dev/null && signal key
	kvmmig-vm --name vm0 --mem 64M --payload "$guest" --append "pages=4096 rate=16 delay_us=100000 report_ms=100" \
		--console "file:$log" 2>/tmp/vm0.err &
	wait_for 30 grep -q ' iter ' "$log" || fail "guest starts on host a" "$(cat /tmp/vm0.err)"
else
	await key
fi

for hop in 1 2 3; do
	src=${ring[hop - 1]} dst=${ring[hop % 3]}
	if [ "$role" = "$dst" ]; then
		hop_receive "$hop" "$src"
	elif [ "$role" = "$src" ]; then
		hop_send "$hop" "$dst" "$(addr "$dst"):7437"
	fi
	await "checked.$hop"
	# A failed hop leaves the guest where it was: later hops would only cascade.
	[ ! -e "$S/failed" ] || exit 1
	[ "$test_failures" -eq 0 ] || { signal failed; exit 1; }
done
finish
