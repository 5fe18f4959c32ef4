#!/bin/bash
# converge.sh: runs inside a test host: a guest that dirties memory faster
# than a capped link (loopback, --bandwidth) carries it.
#   --converge off   the migration gives up, the guest runs on at the
#                    source, the figure that fails it named;
#   default (auto)   the tool throttles the guest's vCPUs (kvmmig-vm's
#                    "throttle", 20% then +10% a round) until it fits: the
#                    migration completes, the guest's own memory checks
#                    pass at the destination, and no throttle remains: the
#                    guest's work rate there is what it was before;
#   cancel, and a killed tool, with a throttle in force leave none.
#
# Independent of the machine's speed and load: the guest paces itself by
# its TSC (24 pages, then 10 ms: about 9.8 MB/s, ten times the 1 MB/s
# link), and a throttled vCPU paces only while it runs, so its dirty rate
# falls with the throttle (at 99%: about 0.1 MB/s). The link is paced by
# the test host's clock too. The guest outruns the link as long as it gets
# a tenth of its pace; every rate compared is measured in the same run.
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh

pace="pages=256 rate=24 delay_us=10000 verify_every=4 report_ms=100 gap_ms=100000"
bw=1

# throttle_of NAME [FIELD]: the VMM's "throttle" (or FIELD's) status line.
throttle_of() {
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"status\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    head, _, rest = data.partition(b"\n")
    if head.startswith(b"ok ") and len(rest) >= int(head[3:]):
        break
for line in rest.decode().splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(line.split()[1])' "$KVMMIG_RUN_DIR/$1.sock" "${2:-throttle}" 2>/dev/null
}
# until_throttle NAME TEST SECS [FIELD [PID]]: waits until the VMM's throttle
# (or FIELD) passes [ N TEST ] (e.g. -gt 0); gives up early once PID (the
# migration that would throttle it) has exited.
until_throttle() {
	local deadline=$((SECONDS + $3)) t
	while :; do
		t=$(throttle_of "$1" "${4:-throttle}")
		[ -n "$t" ] && [ "$t" $2 ] && return 0
		[ $SECONDS -lt $deadline ] || return 1
		[ -z "${5:-}" ] || kill -0 "$5" 2>/dev/null || return 1
		nap 0.3
	done
}
# rate LOG SECS: the guest's iterations per second over SECS seconds, as its console reports them.
rate() {
	local i0 i1
	i0=$(last_iter "$1")
	sleep "$2"
	i1=$(last_iter "$1")
	echo $(((${i1:-0} - ${i0:-0}) / $2))
}
# json_summary OUT: the rounds' throttles and the link and dirty rates of a --json migration.
json_summary() {
	python3 -c 'import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rounds = [o for o in objs if o.get("event") == "round" and not o.get("final")]
print("throttles", ",".join(str(o["throttle_pct"]) for o in rounds),
      "link %.2f MB/s" % (max([o["bandwidth"] for o in rounds] or [0]) / 1e6),
      "dirtied %.2f MB/s" % (max([o["dirty_rate"] for o in rounds[1:]] or [0]) / 1e6),
      "last", objs[-1].get("event"))' "$1" 2>&1
}

start_source cv 1 "$pace" 24M
before=$(rate "$tmp/cv.src.log" 4)
slept_before=$(asleep "$(cat "$tmp/cv.src.pid")" 2)
echo "info: the guest does $before iterations/s (24 pages each) before any migration; its vCPU sleeps $slept_before% of the time"

# --- --converge off: today's behaviour.
start_dest cvin 1 24M
MIGRATE_TIMEOUT=300 migrate_watched "$tmp/off.out" cv "127.0.0.1:$port" "${auth[@]}" \
	--bandwidth $bw --converge off --json
rc=$?
reason=$(python3 -c 'import json, sys
print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1].get("reason", ""))' "$tmp/off.out" 2>/dev/null)
if [ $rc -ne 0 ] && echo "$reason" | grep -Eq "working set of [0-9.]+ MiB comes back|faster than the link|stopped shrinking"; then
	pass "--converge off: the migration gives up naming the figure: $(echo "$reason" | cut -d: -f1) ($(json_summary "$tmp/off.out"))"
else
	fail "--converge off: the migration gives up naming the figure" "exit $rc: $reason; $(json_summary "$tmp/off.out"); $(tail -n 2 "$tmp/off.out" | tr '\n' ' ')"
fi
if runs_on "$tmp/cv.src.log" "$tmp/cv.src.pid" && [ "$(throttle_of cv)" = 0 ]; then
	pass "--converge off: the guest runs on at the source, never throttled"
else
	fail "--converge off: the guest runs on at the source, never throttled" "throttle '$(throttle_of cv)'; $(why_stopped "$tmp/cv.src.log" "$tmp/cv.src.pid")"
fi
wait_for 15 sh -c "! kill -0 $(cat "$tmp/cvin.dst.pid")"

# --- The default, --converge auto: the same guest, the same link.
start_dest cvin 1 24M
MIGRATE_TIMEOUT=600 migrate_watched "$tmp/auto.out" cv "127.0.0.1:$port" "${auth[@]}" \
	--bandwidth $bw --verify --json
rc=$?
summary=$(json_summary "$tmp/auto.out")
if [ $rc -eq 0 ] && echo "$summary" | grep -q ' last done$' &&
	python3 -c 'import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rounds = [o for o in objs if o.get("event") == "round" and not o.get("final")]
seen = []
for o in rounds:
    if o["throttle_pct"] and (not seen or seen[-1] != o["throttle_pct"]):
        seen.append(o["throttle_pct"])
want = [min(20 + 10 * i, 99) for i in range(len(seen))]
assert seen and seen == want, (seen, want)
assert objs[-1]["throttle_max_pct"] == seen[-1], objs[-1]' "$tmp/auto.out" 2>"$tmp/auto.err"; then
	pass "--converge auto: the migration completes, the vCPUs throttled 20% then +10% a round ($summary)"
else
	fail "--converge auto: the migration completes, the vCPUs throttled 20% then +10% a round" \
		"exit $rc: $summary; $(tail -n 1 "$tmp/auto.err"); $(tail -n 2 "$tmp/auto.out" | tr '\n' ' ')"
fi
src_last=$(last_iter "$tmp/cv.src.log")
if runs_on "$tmp/cvin.dst.log" "$tmp/cvin.dst.pid" && [ "$(last_iter "$tmp/cvin.dst.log")" -gt "${src_last:-0}" ] &&
	! grep -q 'failures [1-9]\|FAIL' "$tmp/cv.src.log" "$tmp/cvin.dst.log"; then
	pass "the guest runs on at the destination, its own memory checks passing: $(grep -o 'verifies [0-9]*' "$tmp/cvin.dst.log" | tail -n1)"
else
	fail "the guest runs on at the destination, its own memory checks passing" \
		"$(grep -h -m2 'FAIL\|failures [1-9]' "$tmp/cv.src.log" "$tmp/cvin.dst.log" | tr '\n' ' ') $(why_stopped "$tmp/cvin.dst.log" "$tmp/cvin.dst.pid")"
fi
expect_output "--verify: the destination's memory matches the source's at the pause" \
	'^memory verified: digest [0-9a-f]{16} matches' cat "$tmp/cvin.in.out"
# The rate moves with the machine's load; the vCPU's sleep share does not:
# a throttle left behind shows there whatever the load.
after=$(rate "$tmp/cvin.dst.log" 4)
slept=$(asleep "$(cat "$tmp/cvin.dst.pid")" 2)
if [ "$(throttle_of cvin)" = 0 ] && [ "$slept" -le $((slept_before + 15)) ] && [ "$before" -gt 0 ] &&
	[ $((after * 3)) -ge "$before" ]; then
	pass "no throttle remains: the destination says throttle 0, its vCPU sleeps $slept% of the time ($slept_before% before), the guest does $after iterations/s ($before before)"
else
	fail "no throttle remains" "destination throttle '$(throttle_of cvin)', its vCPU sleeps $slept% of the time ($slept_before% before), the guest does $after iterations/s ($before before)"
fi
kill "$(cat "$tmp/cvin.dst.pid")" 2>/dev/null

# --- cancel, and a killed tool, with a throttle in force.
start_source cw 1 "$pace" 24M
before=$(rate "$tmp/cw.src.log" 4)
slept_before=$(asleep "$(cat "$tmp/cw.src.pid")" 2)
fport=7499
for how in cancel kill destination-killed; do
	# A destination that takes the page stream and never answers the state
	# (tests/kmod/fakedest.py hold): the migration cannot complete before
	# this test acts, however slow the test host. (With a real destination
	# it converged first under KASAN, December 2026: a guest throttled to
	# 60% at the debug kernel's pace dirtied no page in a round, and such a
	# round fits any downtime.) Throttled to at most 80%, it gives up 5
	# rounds after 80%; not lower: a throttle's sleep (10 ms at 50%) that a
	# loaded host overshoots is lost, and the check below of the sleep share
	# in force failed at 50% (11% asleep) on a loaded 6.1 host.
	port_free $fport
	tests/kmod/fakedest.py $fport hold >"$tmp/hold.$how" 2>&1 &
	hold=$!
	wait_for 60 grep -q waiting "$tmp/hold.$how"
	kvmmig-ctl migrate cw "127.0.0.1:$fport" --insecure --bandwidth $bw --max-downtime 1 \
		--max-throttle 80 >"$tmp/$how.out" 2>&1 &
	mig=$!
	if ! until_throttle cw "-ge 30" 120 throttle $mig; then
		fail "$how with a throttle in force" "no throttle of 30% or more: $(tail -n 2 "$tmp/$how.out" | tr '\n' ' ')"
		kill -9 $mig 2>/dev/null
		# The cases after it need the same source.
		alive "$tmp/cw.src.pid" || { fail "the throttled source runs on" "$(why_stopped "$tmp/cw.src.log" "$tmp/cw.src.pid")"; break; }
		continue
	fi
	held=$(throttle_of cw)
	slept_held=$(asleep "$(cat "$tmp/cw.src.pid")" 1)
	if [ $how = cancel ]; then
		kvmmig-ctl cancel cw >/dev/null
		wait $mig
		grep -q 'guest is running on the source' "$tmp/$how.out" || fail "cancel says the guest runs at the source" "$(tail -n 1 "$tmp/$how.out")"
	elif [ $how = kill ]; then
		kill -9 $mig
		wait $mig 2>/dev/null
	else
		kill -9 $hold
		wait $mig
		grep -q 'guest is running on the source' "$tmp/$how.out" ||
			fail "the destination killed: the tool says the guest runs at the source" "$(tail -n 1 "$tmp/$how.out")"
	fi
	if until_throttle cw "-eq 0" 10; then
		now=$(rate "$tmp/cw.src.log" 4)
		slept=$(asleep "$(cat "$tmp/cw.src.pid")" 2)
		if [ "$slept_held" -ge $((slept_before + held / 3)) ] && [ "$slept" -le $((slept_before + 15)) ] &&
			[ $((now * 3)) -ge "$before" ]; then
			pass "$how with the vCPUs throttled to $held% (asleep $slept_held% then, $slept_before% before): no throttle remains, asleep $slept%, the guest does $now iterations/s ($before before)"
		else
			fail "$how with a throttle in force: the guest's work comes back" "throttled to $held%: asleep $slept_held%, then $slept% ($slept_before% before); $now iterations/s ($before before)"
		fi
	else
		fail "$how with a throttle in force: no throttle remains" "the VMM still says throttle $(throttle_of cw) (was $held)"
	fi
	kill -9 $hold 2>/dev/null
	wait $hold 2>/dev/null
done

# --- The connection cut with a throttle in force (a fake destination resets
# it at round 8: the throttle is 40% or more by then), and a GO never confirmed
# (the source stays paused, for a person to resume): no throttle remains.
for cut in round8 nogo; do
	tests/kmod/fakedest.py $fport $cut >"$tmp/fake.$cut" 2>&1 &
	fake=$!
	wait_for 60 grep -q waiting "$tmp/fake.$cut"
	MIGRATE_TIMEOUT=300 migrate_watched "$tmp/cut.$cut.out" cw "127.0.0.1:$fport" --insecure --bandwidth $bw
	rc=$?
	wait $fake
	most=$(grep -o 'throttle [0-9]*%' "$tmp/cut.$cut.out" | tr -dc '0-9\n' | sort -n | tail -n1)
	want_rc=1
	if [ $cut = nogo ]; then
		want_rc=2
		kvmmig-ctl resume cw >/dev/null
		# What the progress lines of a throttled migration look like.
		sed 's/^/info:   /' "$tmp/cut.$cut.out" | grep -E '^info:   (round|final)' | cut -c1-400
	fi
	slept=$(asleep "$(cat "$tmp/cw.src.pid")" 2)
	if grep -q '^cut at' "$tmp/fake.$cut" && [ $rc = $want_rc ] && [ "${most:-0}" -ge 40 ] &&
		[ "$(throttle_of cw)" = 0 ] && [ "$slept" -le $((slept_before + 15)) ]; then
		pass "connection cut ($(sed -n 's/^cut at //p' "$tmp/fake.$cut")) with the vCPUs throttled up to $most%: exit $rc, throttle 0, asleep $slept%"
	else
		fail "connection cut ($cut) with a throttle in force: no throttle remains" \
			"fake: $(tail -n 1 "$tmp/fake.$cut"); exit $rc; throttled up to ${most:-0}%; now throttle '$(throttle_of cw)', asleep $slept% ($slept_before% before); $(tail -n 2 "$tmp/cut.$cut.out" | tr '\n' ' ')"
	fi
done
if runs_on "$tmp/cw.src.log" "$tmp/cw.src.pid"; then
	pass "after cancel, a killed tool, a killed destination and the cuts the guest runs on at the source, its memory checks passing"
else
	fail "after cancel, a killed tool, a killed destination and the cuts the guest runs on at the source" "$(why_stopped "$tmp/cw.src.log" "$tmp/cw.src.pid")"
fi
kill "$(cat "$tmp/cw.src.pid")" "$(cat "$tmp/cv.src.pid")" 2>/dev/null

# --- A dirty-ring VM whose vCPU 1 alone dirties fast: the tool limits the
# dirty rate (the VMM's dirty-limit, QEMU's) of only the vCPUs whose own
# rate (its ring's pages) exceeds their share of the link. vCPU 1 writes 48
# pages every 20 ms over its 2048 (9.8 MB/s), vCPU 0 one page every 20 ms
# (0.2 MB/s); the link, 2 MB/s here, gives each 1 MB/s. Both paced by the
# guest's TSC, 50 iterations a second, and each reports every 100 ms of it:
# judged by the guest itself, its iterations per report of vCPU 0 (a tick
# of guest time) before and while the limit holds: vCPU 0's must not fall
# by more than 10%, vCPU 1's fall under half (the window before, 3 s with no
# limit, is the same guest's own pace). The span the limit held comes from
# the tool's own record (--json: the wall time of the rounds run with a
# dirty limit in force), not from when the test noticed it (0 to 15 of the
# guest's reports fell after that, however long the limit held): the
# guest's last reports before the final round paused it, one per 100 ms of
# that span less one at its start, at most 10. Too short a span for 3 (2
# ticks, enough to tell 5 iterations from 4.5 and 2.5) is said on an info
# line; the tool's choice of vCPUs (its record's masks) is checked either
# way. Under load the rounds grow long and vCPU 1's distinct pages per
# second fall under its share (170 against 244 pages/s over a 12 s round in
# CI): the tool then limits the vCPUs over the guest's mean rate, still
# vCPU 1 alone (policy_vcpus_to_limit).
vmm_opts=(--dirty-ring 4096)
start_source cr 2 "pages=4096 rate=48 rate0=1 delay_us=20000 verify_every=4 report_ms=100 gap_ms=100000" 24M
vmm_opts=()
from=$(wc -l <"$tmp/cr.src.log")
sleep 3
to=$(wc -l <"$tmp/cr.src.log")
start_dest crin 2 24M
MIGRATE_TIMEOUT=600 migrate_watched "$tmp/ring.out" cr "127.0.0.1:$port" "${auth[@]}" --bandwidth 2 --verify --json &
mig=$!
# per_tick LOG FROM [TO]: vCPU 0's reports between those lines of LOG, and
# each vCPU's iterations per report of vCPU 0 (x100).
per_tick() {
	python3 -c 'import re, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
lines = lines[int(sys.argv[2]):int(sys.argv[3]) if len(sys.argv) > 3 else None]
it = {0: [], 1: []}
ticks = 0
for l in lines:
    m = re.search(r"dirtymem: cpu([01]) iter ([0-9]+)", l)
    if m:
        it[int(m.group(1))].append(int(m.group(2)))
        ticks += m.group(1) == "0"
per = [100 * (v[-1] - v[0]) // max(ticks - 1, 1) if len(v) > 1 else 0 for v in (it[0], it[1])]
print(ticks, per[0], per[1])' "$@"
}
# report_line LOG K: the line number (0-based) of the K-th last vCPU 0 report in LOG.
report_line() { grep -n 'dirtymem: cpu0 iter' "$1" | tail -n "$2" | head -n 1 | awk -F: '{print $1 - 1}'; }
# limit_record JSON: from the tool's record, the dirty limits (pages/s) and
# the vCPU masks in force, each once ("none" without one), and the wall
# time in ms of the rounds run with a limit, e.g. "164,185 0x2 2935".
limit_record() {
	python3 -c 'import json, sys
limits, masks, ns = set(), set(), 0
for l in open(sys.argv[1], errors="replace"):
    try:
        r = json.loads(l)
    except ValueError:
        continue
    if r.get("event") == "round" and r.get("dirty_limit_pages_per_s", 0) > 0:
        limits.add(r["dirty_limit_pages_per_s"])
        masks.add(hex(r.get("throttle_vcpus", 0)))
        ns += r.get("wall_ns", 0)
print(",".join(map(str, sorted(limits))) or "none", ",".join(sorted(masks)) or "none", ns // 1000000)' "$1"
}
read -r ticks_before free0 free1 < <(per_tick "$tmp/cr.src.log" "$from" "$to")
# Judged on the tool's own record once the migration ended, not by polling
# the VMM while it ran (a poll can miss a short limit, or find the source
# VMM gone).
wait $mig
rc=$?
read -r limit mask held_ms < <(limit_record "$tmp/ring.out")
[ "$mask" = 0x2 ] && pass "a dirty-ring guest: the tool limits only vCPU 1, which dirties fast ($limit pages/s, vCPUs $mask)" ||
	fail "a dirty-ring guest: the tool limits only vCPU 1, which dirties fast" \
		"dirty limits $limit, vCPU masks $mask in its record; its rounds: $(grep -c '"event": *"round"' "$tmp/ring.out"), throttle steps: $(grep -o '"throttle_pct": *[0-9]*' "$tmp/ring.out" | awk '{print $2}' | sort -un | tr '\n' ' ')"
k=$((held_ms / 100 - 1))
[ $k -gt 10 ] && k=10
if [ "$mask" != 0x2 ]; then
	: # no span to judge the guest's pace by
elif [ $k -ge 3 ]; then
	read -r ticks held0 held1 < <(per_tick "$tmp/cr.src.log" "$(report_line "$tmp/cr.src.log" $k)")
	# vCPU 0 not slowed (at least 90% of its pace): faster is no harm of
	# the limit, and where both vCPUs share a starved CPU (KASAN: 3.3 ->
	# 5.0 iterations per 100 ms) vCPU 1's sleep speeds vCPU 0 up.
	if [ $((held0 * 10)) -ge $((free0 * 9)) ] && [ $((held1 * 2)) -lt "$free1" ]; then
		pass "and by the guest's own clock only vCPU 1 slowed: iterations per 100 ms, vCPU 0 $((free0 / 100)).$((free0 % 100)) -> $((held0 / 100)).$((held0 % 100)), vCPU 1 $((free1 / 100)).$((free1 % 100)) -> $((held1 / 100)).$((held1 % 100)) (its last $ticks reports; the limit held $held_ms ms)"
	else
		fail "and by the guest's own clock only vCPU 1 slowed" \
			"iterations per 100 ms x100: vCPU 0 $free0 -> $held0, vCPU 1 $free1 -> $held1 (its last $ticks reports, the limit held $held_ms ms; $ticks_before reports before)"
	fi
else
	echo "info: the dirty limit held $held_ms ms of the migration: too short a span for the guest's 100 ms reports to judge its pace by"
fi

if [ $rc = 0 ] && grep -q '^memory verified: digest' "$tmp/crin.in.out" &&
	runs_on "$tmp/crin.dst.log" "$tmp/crin.dst.pid"; then
	pass "and the migration completes: --verify's digests match, the guest runs on at the destination ($(json_summary "$tmp/ring.out"))"
else
	fail "and the migration completes" "exit $rc: $(tail -n 2 "$tmp/ring.out" | tr '\n' ' '); dest: $(tail -n 1 "$tmp/crin.in.out"); $(why_stopped "$tmp/crin.dst.log" "$tmp/crin.dst.pid")"
fi
dl=$(throttle_of crin dirty-limit)
[ "$(throttle_of crin)" = 0 ] && [ "${dl:-0}" = 0 ] && pass "no throttle or dirty limit at the destination" ||
	fail "no throttle or dirty limit at the destination" "throttle '$(throttle_of crin)', dirty-limit '$(throttle_of crin dirty-limit)'"
kill "$(cat "$tmp/crin.dst.pid")" 2>/dev/null
finish
