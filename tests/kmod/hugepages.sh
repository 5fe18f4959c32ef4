#!/bin/bash
# hugepages.sh: runs inside a test host: a payload guest in 2 MiB huge pages
# (kvmmig-vm --hugepages 2M: a hugetlb memfd on each side) migrates on one
# host with --verify and runs on at the destination, its own memory checks
# passing. It writes 4 MiB of its 64: holes stay holes on both sides, since
# kvmmig.ko tells a hugetlbfs hole from the page cache (kmod/memfd.c). It
# would otherwise fault in every huge page of the source in round 0 (a read
# of a hugetlb hole allocates one) and of the destination for each ZERO
# record; the huge pages in use, sampled throughout, show either.
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
echo 80 >$hp/nr_hugepages
trap 'cleanup; echo 0 >$hp/nr_hugepages' EXIT
read -r reserved <$hp/nr_hugepages
[ "$reserved" -ge 64 ] || { fail "the test host reserves 64 huge pages of 2 MiB" "it has $reserved"; finish; exit; }
hp_used() { local n f; read -r n <$hp/nr_hugepages; read -r f <$hp/free_hugepages; echo $((n - f)); }

vmm_opts=(--hugepages 2M)
start_source hps 1 "pages=1024 rate=16 delay_us=100000 verify_every=2 report_ms=100"
src_used=$(hp_used)
start_dest hpsin 1
before=$(last_iter "$tmp/hps.src.log")
# The most huge pages in use while it migrates, sampled with builtins.
(peak=0; while :; do u=$(hp_used); [ "$u" -gt "$peak" ] && peak=$u && echo "$peak" >"$tmp/peak"; nap 0.2; done) &
sampler=$!
if migrate_watched "$tmp/hps.mig.out" hps "127.0.0.1:$port" "${auth[@]}" --verify --max-downtime 10000; then
	pass "a guest in 2 MiB huge pages migrates with --verify: $(grep '^migrated' "$tmp/hps.mig.out")"
else
	fail "a guest in 2 MiB huge pages migrates with --verify" "$(tail -n 3 "$tmp/hps.mig.out" | tr '\n' ' ')"
fi
wait_for 10 sh -c "! kill -0 $(cat "$tmp/hps.src.pid")"
src_last=$(last_iter "$tmp/hps.src.log")
n0=$(reports "$tmp/hpsin.dst.log")
if wait_for 30 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $tmp/hpsin.dst.log) -ge $((n0 + 3)) ]" &&
	[ "$(last_iter "$tmp/hpsin.dst.log")" -gt "${src_last:-0}" ] && ! grep -q 'failures [1-9]\|FAIL' "$tmp/hpsin.dst.log"; then
	pass "it runs on at the destination, its memory checks passing: iteration $(last_iter "$tmp/hpsin.dst.log") > $src_last (before $before)"
else
	fail "it runs on at the destination, its memory checks passing" "$(why_stopped "$tmp/hpsin.dst.log" "$tmp/hpsin.dst.pid")"
fi
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null
peak=$(cat "$tmp/peak" 2>/dev/null || echo 0)
dst_used=$(hp_used)
# Source and destination each hold what the guest wrote, never the 32 pages
# of the whole guest: at most both copies at once.
if [ "$src_used" -lt 32 ] && [ "$dst_used" = "$src_used" ] && [ "$peak" -le $((2 * src_used)) ]; then
	pass "holes stay holes: the guest wrote $src_used huge pages of 32, the destination holds $dst_used, at most $peak in use on both sides"
else
	fail "holes stay holes" "the guest wrote $src_used huge pages of 32; the destination holds $dst_used; at most $peak in use on both sides"
fi
finish
