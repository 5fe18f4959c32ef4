#!/bin/bash
# malformed.sh: runs inside a test host started with --no-module. Feeds the
# destination side hand-made page streams (tests/kmod/streamtool.py) and
# proves invariant 5: every malformed stream ends the destination session's
# RECEIVE with a clear error (errno + the result's reason), the VM returns
# to idle, guest memory outside the announced pages is untouched, and the
# kernel log stays clean (the test host fails the run on any WARNING/BUG).
# A valid hand-made stream lands exactly where it says, and nothing after
# END is consumed.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh

MEM=8
PORT=7412
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }
mkfifo "$tmp/dst.in"
dirtier dst --mem $MEM --idle <"$tmp/dst.in" >"$tmp/dst.out" 2>&1 &
pids+=($!)
exec {dst_fd}>"$tmp/dst.in"
wait_for 10 grep -q attached "$tmp/dst.out" || { fail "destination VM attaches" "$(cat "$tmp/dst.out")"; exit 1; }

dst_hash() {
	local n
	n=$(wc -l <"$tmp/dst.out")
	echo "hash $tmp/dst.hash" >&"$dst_fd"
	wait_for 30 lines_gt "$tmp/dst.out" "$n"
	tail -n 1 "$tmp/dst.out"
}
empty=$(dst_hash)

# One streamtool process sends every case in turn, connecting to each
# destination session as it starts listening (python starts slowly here).
cases="truncated truncated-header outside across-end wrap misaligned unknown-type
	flags version magic page-size oversized length-mismatch zero-with-payload
	before-hello round-order end-mid-round random valid"
tests/kmod/streamtool.py send-many 127.0.0.1 $PORT $MEM $cases >"$tmp/sender.out" 2>&1 &
pids+=($!)

# receive: runs one destination session; prints its outcome.
receive() {
	timeout 60 kvmmig-ctl debug dest dst $PORT 2>&1 | grep -v listening
}

# check CASE REGEX
check() {
	local out
	out=$(receive)
	if echo "$out" | grep -Eq -- "$2"; then pass "$1 stream is refused: $out"
	else fail "$1 stream is refused" "expected /$2/, got: $out"; fi
}

check truncated "^error Connection reset by peer: the stream ended before its END record"
check truncated-header "^error Connection reset by peer: the stream ended before its END record"
check outside "^error Numerical result out of range: pages outside the VM's memory"
check across-end "^error Numerical result out of range: pages outside the VM's memory"
check wrap "^error Numerical result out of range: pages outside the VM's memory"
check misaligned "^error Protocol error: page address not page-aligned"
check unknown-type "^error Protocol error: record of unknown type"
check flags "^error Protocol error: record with unknown flags"
check version "^error Protocol error: unsupported page stream version"
check magic "^error Protocol error: not a kvmmig page stream"
check page-size "^error Protocol error: page size differs"
check oversized "^error Message too long: page run longer than allowed"
check length-mismatch "^error Protocol error: PAGES length is not npages pages"
check zero-with-payload "^error Protocol error: ZERO record with a payload"
check before-hello "^error Protocol error: pages before HELLO"
check round-order "^error Protocol error: ROUND_END out of sequence"
check end-mid-round "^error Protocol error: END not right after a ROUND_END"
check random "^error [A-Za-z ]+: "

expect_output "destination VM is idle after every refused stream" "^dst .* idle$" kvmmig-ctl list
after=$(dst_hash)
# Only "truncated" may have landed bytes, and only inside its own page 2.
bad=$(grep -v '^2 ' "$tmp/dst.hash" | awk '{print $2}' | sort -u | wc -l)
if [ "$bad" -eq 1 ]; then pass "refused streams wrote nothing outside the pages they announced"
else fail "refused streams wrote nothing outside the pages they announced" "$bad distinct page hashes ($empty -> $after)"; fi

out=$(receive)
expect_output "a valid hand-made stream is received" "^received round=2 .*sent=3 zero=4" echo "$out"
expect_output "nothing after END is consumed" "^after END: after-end$" echo "$out"
dst_hash >/dev/null
p2=$(awk '$1 == 2 {print $2}' "$tmp/dst.hash")
p3=$(awk '$1 == 3 {print $2}' "$tmp/dst.hash")
p9=$(awk '$1 == 9 {print $2}' "$tmp/dst.hash")
if [ "$p2" != "$p3" ] && [ "$p3" = "$p9" ]; then pass "pages land at their addresses, ZERO runs zero them"
else fail "pages land at their addresses, ZERO runs zero them" "p2=$p2 p3=$p3 p9=$p9"; fi

exec {dst_fd}>&-
wait 2>/dev/null
pids=()
expect "module unloads after refused streams" rmmod kvmmig
finish
