#!/bin/bash
# dirtyring.sh: runs inside a test host: guests whose VMM tracks dirty pages
# with KVM's dirty ring (kvmmig-vm --dirty-ring N) instead of its bitmap. The
# VMM reaps every vCPU's ring before each round and whenever one fills, and
# reports the pages to kvmmig.ko (KVMMIG_ATTACH_DIRTY_RING). Checks the guest
# itself: its own memory verification at the destination, --verify's digest.
#   1. A 2-vCPU ring VM migrates to a bitmap VM (either side may use either).
#   2. A ring-full storm: a 256-entry ring and a guest writing far more pages
#      than that between two rounds (the link is capped, so that a round
#      lasts seconds whatever the machine's speed): the ring fills again and
#      again during the migration and nothing is lost.
#   3. The same storm with the reaped pages dropped instead of reported
#      (--unsafe-dirty-ring-drop) must fail: the checks above catch a lost
#      dirty page. (Every reap's, not only a full ring's: the loss is then
#      certain whatever the guest's speed, as long as it writes anything
#      after round 0, which the test checks.)
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh
# Plain TCP: what is tested is the harvest, not the crypto (secure.sh).
auth=(--insecure)

# ring_line ERRFILE: the VMM's closing line on its dirty ring.
ring_line() { grep -o 'dirty ring: [0-9]* pages reaped, [0-9]* times full' "$1" | tail -n 1; }
full_times() { ring_line "$1" | awk '{print $6}'; }

# --- 1. A 2-vCPU ring VM, a bitmap destination.
vmm_opts=(--dirty-ring 4096)
start_source ring 2 "pages=4096 rate=16 delay_us=100000 verify_every=2 report_ms=100"
vmm_opts=()
start_dest ringin 2
expect_output "status says the VM tracks dirty pages with a ring" "^dirty pages tracked by KVM's dirty ring: 4096 entries per vCPU$" \
	sh -c "kvmmig-ctl status ring | grep 'dirty ring'"
if migrate_watched "$tmp/ring.mig.out" ring "127.0.0.1:$port" "${auth[@]}" --verify --max-downtime 10000; then
	pass "a 2-vCPU dirty-ring guest migrates with --verify: $(grep '^migrated' "$tmp/ring.mig.out")"
else
	fail "a 2-vCPU dirty-ring guest migrates with --verify" \
		"$(tail -n 3 "$tmp/ring.mig.out" | tr '\n' ' '); source: $(why_stopped "$tmp/ring.src.log" "$tmp/ring.src.pid")"
fi
wait_for 10 sh -c "! kill -0 $(cat "$tmp/ring.src.pid")"
reaped=$(ring_line "$tmp/ring.src.err")
[ -n "$reaped" ] && [ "$(echo "$reaped" | awk '{print $3}')" -gt 0 ] &&
	pass "the source VMM reaped its rings into the migration ($reaped)" ||
	fail "the source VMM reaped its rings into the migration" "$(tail -n 3 "$tmp/ring.src.err" | tr '\n' ' ')"
expect_output "--verify: the destination's memory digest matches the source's" \
	'^memory verified: digest [0-9a-f]{16} matches' cat "$tmp/ringin.in.out"
# Round 0 always has a round 1 after it (tests/unit/policy.sh), whose harvest
# is the first with an interval behind it: each vCPU's rate from its ring.
expect_output "round 1 shows each vCPU's dirty rate, read from its ring" \
	'^round +1: .*  vCPU pages/s [0-9]+ [0-9]+  ' cat "$tmp/ring.mig.out"
src_last=$(last_iter "$tmp/ring.src.log")
if runs_on "$tmp/ringin.dst.log" "$tmp/ringin.dst.pid" && [ "$(last_iter "$tmp/ringin.dst.log")" -gt "${src_last:-0}" ]; then
	pass "the guest runs on at the destination, both vCPUs' memory checks passing: iteration $(last_iter "$tmp/ringin.dst.log") > $src_last"
else
	fail "the guest runs on at the destination, its memory checks passing" "$(why_stopped "$tmp/ringin.dst.log" "$tmp/ringin.dst.pid")"
fi
kill "$(cat "$tmp/ring.src.pid")" "$(cat "$tmp/ringin.dst.pid")" 2>/dev/null
wait 2>/dev/null

# --- 2 and 3. The storm: 256 entries (KVM's least: one page of them), the
# guest writing 256 pages a millisecond over 4096, the link at 4 MB/s: round
# 0 alone (16 MiB written) lasts about 4 s, in which the guest dirties every
# page of its working set, 16 times the ring. The oracle is not its speed:
# each run says how often the rings filled, and a run where they never did
# proves nothing and fails as such.
storm="pages=4096 rate=256 delay_us=1000 verify_every=2 report_ms=100"
mig_started=0
storm_run() { # NAME [VMM OPTION]: a storm migration; the tool's status
	local name=$1 rc
	shift
	vmm_opts=(--dirty-ring 256 "$@")
	start_source "$name" 1 "$storm"
	vmm_opts=()
	start_dest "${name}in" 1
	mig_started=$(last_iter "$tmp/$name.src.log")
	migrate_watched "$tmp/$name.mig.out" "$name" "127.0.0.1:$port" "${auth[@]}" --verify \
		--max-downtime 10000 --bandwidth 4
	rc=$?
	return $rc
}

storm_run storm
rc=$?
wait_for 10 sh -c "! kill -0 $(cat "$tmp/storm.src.pid")" || kill "$(cat "$tmp/storm.src.pid")"
wait_for 10 sh -c "! kill -0 $(cat "$tmp/storm.src.pid")"
full=$(full_times "$tmp/storm.src.err")
if [ "${full:-0}" -gt 0 ]; then
	pass "the storm filled the 256-entry ring during the migration ($(ring_line "$tmp/storm.src.err"))"
else
	fail "the storm filled the 256-entry ring during the migration" "$(tail -n 3 "$tmp/storm.src.err" | tr '\n' ' ')"
fi
if [ $rc = 0 ] && grep -q '^memory verified: digest' "$tmp/stormin.in.out"; then
	pass "with full rings reaped and reported, the migration completes and --verify's digests match"
else
	fail "with full rings reaped and reported, the migration completes and --verify's digests match" \
		"exit $rc: $(tail -n 2 "$tmp/storm.mig.out" | tr '\n' ' ') / dest: $(tail -n 2 "$tmp/stormin.in.out" | tr '\n' ' ')"
fi
src_last=$(last_iter "$tmp/storm.src.log")
if runs_on "$tmp/stormin.dst.log" "$tmp/stormin.dst.pid" && [ "$(last_iter "$tmp/stormin.dst.log")" -gt "${src_last:-0}" ]; then
	pass "the storm guest runs on at the destination, its memory checks passing"
else
	fail "the storm guest runs on at the destination, its memory checks passing" "$(why_stopped "$tmp/stormin.dst.log" "$tmp/stormin.dst.pid")"
fi
kill "$(cat "$tmp/stormin.dst.pid")" 2>/dev/null
wait 2>/dev/null
port_free $port

storm_run drop --unsafe-dirty-ring-drop
rc=$?
if [ $rc != 0 ] && grep -q 'guest memory differs after the transfer' "$tmp/drop.mig.out" "$tmp/dropin.in.out"; then
	pass "with the rings' pages dropped (--unsafe-dirty-ring-drop) --verify catches the lost pages: $(grep -ho 'guest memory differs[^;]*' "$tmp/dropin.in.out" "$tmp/drop.mig.out" | head -n 1)"
else
	fail "with the rings' pages dropped (--unsafe-dirty-ring-drop) --verify catches the lost pages" \
		"exit $rc (the guest went from iteration $mig_started to $(last_iter "$tmp/drop.src.log") meanwhile): $(tail -n 2 "$tmp/drop.mig.out" | tr '\n' ' ') / dest: $(tail -n 2 "$tmp/dropin.in.out" | tr '\n' ' ')"
fi
if runs_on "$tmp/drop.src.log" "$tmp/drop.src.pid"; then
	pass "and the guest runs on at the source, its memory checks passing"
else
	fail "and the guest runs on at the source, its memory checks passing" "$(why_stopped "$tmp/drop.src.log" "$tmp/drop.src.pid")"
fi
# (Both VMMs: had nothing been lost, the guest would run at the destination.)
kill "$(cat "$tmp/drop.src.pid")" "$(cat "$tmp/dropin.dst.pid")" 2>/dev/null
pkill -9 -f 'kvmmig-ctl incoming' 2>/dev/null
wait 2>/dev/null
expect "the module unloads" rmmod kvmmig
finish
