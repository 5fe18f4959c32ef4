#!/bin/bash
# datapath.sh: runs inside a test host started with --no-module. Migrates a
# running guest through kvmmig.ko over loopback TCP into a second VM of the
# same shape and proves the data path:
#
#   dirtier "src" (vCPU writing every page)      dirtier "dst" (--idle)
#        |  debug source src 127.0.0.1:PORT          ^  debug dest dst PORT
#        +----------- TCP page stream ---------------+
#
#  - oracle: the guest rewrites every page each pass and keeps running
#    through the rounds; after a final (not full) round with the guest
#    paused, every page of dst equals src (per-page hashes): no page the
#    guest wrote after a harvest was lost;
#  - memory equal by digest, zero pages sent as headers, runs batched;
#  - the socket is left right after END (a trailer line arrives intact);
#  - MARK_DIRTY: a page the VMM wrote itself reaches dst only if marked;
#  - round stats and state in replies and `list`; bad requests refused.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh

ask_wait=120
field() { echo "$1" | sed -n "s/.*$2=\([0-9]*\).*/\1/p"; }

MEM=${DATAPATH_MEM:-16}
PORT=7411
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

bg src dirtier src --mem "$MEM" --fill --stride 2
bg dst dirtier dst --mem "$MEM" --idle
wait_for 10 grep -q attached "$tmp/src.out" && wait_for 10 grep -q attached "$tmp/dst.out" ||
	{ fail "test VMs attach" "$(cat "$tmp"/*.out)"; exit 1; }

bg mon kvmmig-ctl debug monitor
mon_pid=${pids[-1]}
wait_for 60 grep -q monitoring "$tmp/mon.out"
# The script pauses between rounds (seconds each in an emulated test host
# under load) and the destination's RECEIVE spans them all: its progress
# timeout (no byte for N s ends it, default 30) is raised out of the way.
bg recv kvmmig-ctl debug dest dst $PORT --progress-timeout 600
wait_for 60 grep -q listening "$tmp/recv.out"
bg send kvmmig-ctl debug source src 127.0.0.1:$PORT
if wait_for 20 grep -q started "$tmp/send.out"; then pass "source session starts (dirty logging on, HELLO sent)"
else fail "source session starts (dirty logging on, HELLO sent)" "$(cat "$tmp/send.out")"; exit 1; fi
expect_output "list shows the source and destination states" "^src .* source$" kvmmig-ctl list
wait_for 10 sh -c "kvmmig-ctl list | grep -q '^dst .* receiving$'"
expect_output "destination is receiving" "^dst .* receiving$" kvmmig-ctl list

# The ioctl itself refuses these (EINVAL, so no reason text: "-"), and the
# session stays usable: the full round below runs on it. For a source
# session with known flags, not yet finished, a first round without FULL
# is the only EINVAL left.
out=$(ask send "round")
expect_output "a first round that is not full is refused (by the ioctl)" "^error Invalid argument: -$" echo "$out"
out=$(ask send "round bogus full")
expect_output "unknown round flags are refused (by the ioctl)" "^error Invalid argument: -$" echo "$out"
expect_output "a refused request leaves the session as it was" "^src .* source$" kvmmig-ctl list

echo run >&"$src_fd"
wait_for 10 grep -q running "$tmp/src.out"
r0=$(ask send "round full")
pages=$((MEM * 256))
sent=$(field "$r0" sent) zero=$(field "$r0" zero) bytes=$(field "$r0" bytes)
if [ "$((sent + zero))" -eq "$pages" ] && [ "$zero" -gt 0 ] && [ "$sent" -gt 0 ]; then
	pass "round 0 sends every page, zero pages as headers ($r0)"
else fail "round 0 sends every page, zero pages as headers" "$r0 (want sent+zero=$pages)"; fi
# Headers are 24 bytes: count the records. The lower half is one run of
# data pages, the upper half alternates (stride 2): batching must show.
records=$(((bytes - sent * 4096) / 24))
if [ "$records" -lt $((pages * 3 / 4)) ]; then pass "contiguous runs share headers ($records records for $pages pages)"
else fail "contiguous runs share headers" "$records records for $pages pages"; fi

# Dirty-log oracle: each guest pass rewrites all pages/2 odd pages, and
# thousands of passes run between two harvests, so every harvest must hold
# every one of them (extras are allowed, a missing page is a bug).
dirty_total=0
short=
for i in 1 2 3; do
	sleep 1
	p0=$(field "$(ask src passes)" passes)
	r=$(ask send "round")
	p1=$(field "$(ask src passes)" passes)
	d=$(field "$r" dirty)
	dirty_total=$((dirty_total + d))
	echo "  $r (guest passes $p0 -> $p1)"
	[ "${d:-0}" -ge $((pages / 2)) ] || short="$short round $i: dirty=$d;"
done
if [ -z "$short" ]; then pass "every page the guest wrote since the last harvest is in the next one (>= $((pages / 2)) per round)"
else fail "every page the guest wrote since the last harvest is in the next one" "$short"; fi
p1=$(ask src passes)
if [ "$dirty_total" -gt 0 ] && [ "$(field "$p1" passes)" -gt 1 ]; then
	pass "the running guest dirties pages between rounds (dirty=$dirty_total, $p1)"
else fail "the running guest dirties pages between rounds" "dirty=$dirty_total $p1"; fi

# The VMM writes a page itself: invisible to KVM's log, so it must mark it.
paused=$(ask src pause)
# Page 3000: upper half, even: neither filled nor ever written by the guest.
ask src "poke $((3000 * 4096 + 8)) 0x1122334455667788" >/dev/null
ask src "mark $((3000 * 4096)) 4096" >/dev/null
expect_output "MARK_DIRTY outside guest memory is refused" "^error EINVAL" ask src "mark $((MEM << 20)) 4096"
expect_output "misaligned MARK_DIRTY is refused" "^error EINVAL" ask src "mark 0x5001 4096"
# MARK_DIRTY_RUNS (a dirty-ring reap's report): pages 3004 and 3006 in one
# call arrive; a batch with one bad range records none of them (page 3008,
# restored at the source after the stream so that the memories compare).
ask src "poke $((3004 * 4096 + 8)) 0x3004" >/dev/null
ask src "poke $((3006 * 4096 + 8)) 0x3006" >/dev/null
ask src "poke $((3008 * 4096 + 8)) 0x3008" >/dev/null
expect_output "MARK_DIRTY_RUNS of two ranges is taken" "^ok" ask src "marks $((3004 * 4096)):4096,$((3006 * 4096)):4096"
expect_output "MARK_DIRTY_RUNS with one range outside guest memory is refused" "^error EINVAL" \
	ask src "marks $((3008 * 4096)):4096,$((MEM << 20)):4096"
expect_output "MARK_DIRTY_RUNS of no range is refused" "^error EINVAL" ask src "marks -"
expect_output "MARK_DIRTY_RUNS of more than 4096 ranges is refused" "^error E2BIG" ask src "marks 0:4096*4097"
rf=$(ask send "round final")
echo "  $rf ($paused)"
if [ "$(field "$rf" dirty)" -ge 1 ]; then pass "final round with the guest paused ($rf)"
else fail "final round with the guest paused" "$rf"; fi
expect_output "list shows source-done after the final round" "^src .* source-done$" kvmmig-ctl list
ask send "trailer state-transfer-follows" >/dev/null
out=$(ask send "round")
# Refused by the ioctl (EINVAL: the stream is complete), not a failed request.
expect_output "no round after the final one" "^error Invalid argument: -$" echo "$out"
expect_output "the refused round left the session done, not failed" "^src .* source-done$" kvmmig-ctl list

wait_for 30 grep -q "after END" "$tmp/recv.out"
recv=$(grep received "$tmp/recv.out")
if [ -n "$recv" ]; then pass "destination received the whole stream ($recv)"
else fail "destination received the whole stream" "$(cat "$tmp/recv.out")"; fi
expect_output "socket positioned right after END (trailer intact)" "^after END: state-transfer-follows$" \
	cat "$tmp/recv.out"

ask src "poke $((3008 * 4096 + 8)) 0" >/dev/null
hs=$(ask src "hash $tmp/src.hash")
hd=$(ask dst "hash $tmp/dst.hash")
lost=$(diff "$tmp/src.hash" "$tmp/dst.hash" | grep -c '^>')
if [ "$hs" = "$hd" ] && [ "$lost" -eq 0 ]; then
	pass "destination memory equals the source byte for byte ($hs, $pages pages, 0 lost)"
else fail "destination memory equals the source byte for byte" "src $hs dst $hd, $lost pages differ"; fi
if [ "$(grep '^3000 ' "$tmp/dst.hash" | cut -d' ' -f2)" != "$(grep '^3002 ' "$tmp/dst.hash" | cut -d' ' -f2)" ]; then
	pass "a page only the VMM wrote (not the guest) arrived because it was marked dirty"
else fail "a page only the VMM wrote (not the guest) arrived because it was marked dirty" "page 3000 is still zero on dst"; fi
page_hash() { grep "^$1 " "$tmp/$2.hash" | cut -d' ' -f2; }
zero=$(page_hash 3002 dst)
if [ "$(page_hash 3004 dst)" != "$zero" ] && [ "$(page_hash 3006 dst)" != "$zero" ]; then
	pass "both ranges of one MARK_DIRTY_RUNS arrived"
else fail "both ranges of one MARK_DIRTY_RUNS arrived" "page 3004 or 3006 is still zero on dst"; fi
[ "$(page_hash 3008 dst)" = "$zero" ] &&
	pass "a refused MARK_DIRTY_RUNS recorded none of its ranges (page 3008 never sent)" ||
	fail "a refused MARK_DIRTY_RUNS recorded none of its ranges" "page 3008 reached the destination"

out=$(ask send stop)
expect_output "source session stops (its fd closed)" "^stopped$" echo "$out"
wait_for 10 sh -c "kvmmig-ctl list | grep -q '^src .* idle$'"
expect_output "list shows idle after stop" "^src .* idle$" kvmmig-ctl list
# Closing the session restores the VM's previous manual-protect mode
# (KVM_ENABLE_CAP accepts 0); the module logs when it cannot.
if dmesg | grep -qE "kvmmig: src: (manual dirty-log protection could not be restored|dirty logging left on)"; then
	fail "stop restores dirty logging and manual-protect mode" "$(dmesg | grep 'kvmmig: src:' | tail -n 2)"
else pass "stop restores dirty logging and manual-protect mode"; fi
expect_output "dst is idle after its stream ended" "^dst .* idle$" kvmmig-ctl list

# Multicast: one event per source round and per destination ROUND_END,
# and state changes (source, receiving, source-done, idle).
sleep 1
src_ev=$(grep -c "^event round vm=src " "$tmp/mon.out")
dst_ev=$(grep -c "^event round vm=dst " "$tmp/mon.out")
st_ev=$(grep -c "^event vm vm=src event=3 " "$tmp/mon.out")
if [ "$src_ev" -eq 5 ] && [ "$dst_ev" -eq 5 ] && [ "$st_ev" -ge 3 ]; then
	pass "events: a round event per round on both sides, state changes ($src_ev+$dst_ev rounds, $st_ev src states)"
else fail "events: a round event per round on both sides, state changes" "src $src_ev, dst $dst_ev round events, $st_ev src state events"; fi

# Everything else exits when its stdin closes; the monitor never does.
kill "$mon_pid" 2>/dev/null
eval "exec ${send_fd}>&- ${src_fd}>&- ${dst_fd}>&- ${recv_fd}>&- ${mon_fd}>&-"
wait 2>/dev/null
pids=()
expect "module unloads after a migration" rmmod kvmmig
finish
