#!/bin/bash
# large.sh: runs inside a test host: a 64 GiB guest (memslot 0 below 3 GiB,
# memslot 1 of 61 GiB from 4 GiB) that writes 16 MiB migrates on one host
# with --verify and runs on at the destination. Its memfd holes cost
# nothing on either side: each side allocates within 10% of what the guest
# wrote, and round 0 sends the written pages and ZERO records for the rest.
# (Measured, printed: round 0's time, the verify pass, the downtime; the
# verify pass digests all 64 GiB, holes as zeros, which is O(guest size).)
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh
start_source big 1 "$light" 64G
start_dest bigin 1 64G
src_mib=$(memfd_mib "$tmp/big.src.pid")
migrate_watched "$tmp/big.mig.out" big "127.0.0.1:$port" "${auth[@]}" --verify --max-downtime 30000 &
mig=$!
# Allocation only grows: the last reading while the tool runs is the source's most.
src_peak=$src_mib
while kill -0 $mig 2>/dev/null && alive "$tmp/big.src.pid"; do
	m=$(memfd_mib "$tmp/big.src.pid")
	[ -n "$m" ] && src_peak=$m
	nap 0.5
done
if wait $mig; then
	pass "a 64 GiB guest that wrote $src_mib MiB migrates with --verify: $(grep '^migrated' "$tmp/big.mig.out")"
else
	fail "a 64 GiB guest migrates with --verify" "$(tail -n 3 "$tmp/big.mig.out" | tr '\n' ' ')"
fi
echo "info: $(grep '^round  0' "$tmp/big.mig.out")"
if runs_on "$tmp/bigin.dst.log" "$tmp/bigin.dst.pid"; then
	pass "it runs on at the destination, its memory checks passing"
else
	fail "it runs on at the destination, its memory checks passing" "$(why_stopped "$tmp/bigin.dst.log" "$tmp/bigin.dst.pid")"
fi
dst_mib=$(memfd_mib "$tmp/bigin.dst.pid")
within10() { [ -n "$1" ] && [ -n "$2" ] && [ $(($1 * 10)) -le $(($2 * 11)) ] && [ $(($1 * 10)) -ge $(($2 * 9)) ]; }
for side in "source:${src_peak:-}" "destination:${dst_mib:-}"; do
	if within10 "${side#*:}" "$src_mib"; then
		pass "the ${side%%:*} allocates what the guest wrote: ${side#*:} MiB of 65536 (it wrote $src_mib)"
	else
		fail "the ${side%%:*} allocates what the guest wrote, within 10%" "${side#*:} MiB (it wrote ${src_mib:-?})"
	fi
done
finish
