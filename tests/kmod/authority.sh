#!/bin/bash
# authority.sh: runs inside a test host started with --no-module. Invariant
# 8: authority over a VM's migrations is the /dev/kvmmig file that attached
# it. A process with every capability (root: CAP_NET_ADMIN, CAP_SYS_ADMIN)
# but without that file (tests/kmod/authority.py) cannot start, drive or
# stop a session on any VM, nor read its memory:
#  (a) generic netlink's session commands of family version 1 (4..9, by VM
#      name, with a socket of the caller's) are refused, before and during
#      a session that the VM's owner runs: no session starts, no byte of
#      the guest reaches the caller's socket, the owner's session goes on;
#  (b) SESSION_OPEN and CANCEL on a /dev/kvmmig file that attached nothing
#      fail (EINVAL);
#  (c) even with the VM's own file, a destination session on a running VM
#      (not attached as incoming) is refused (EPERM), and accepted on one
#      that is;
#  (d) a VM is attached at most once (EALREADY): not from a second file of
#      its VMM, nor with its VM fd taken by pidfd_getfd (CAP_SYS_ADMIN).
# On the version-1 module (netlink sessions) (a), (b), (c) and (d) fail.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh

MEM=16
PORT=7415
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

workers() { pgrep -c -P 2 '^kvmmig-' || true; }
rogue() { timeout 60 tests/kmod/authority.py "$@" 2>&1; }

# rogue_genl STATE: the version-1 session commands on src, each refused
# (EOPNOTSUPP: no such command; EINVAL: attributes the family no longer
# has); nothing of the guest on the rogue's socket; src still in STATE.
rogue_genl() {
	local out bad=
	out=$(rogue genl-v1 src)
	for cmd in "4 SOURCE_START" "5 SOURCE_ROUND" "6 SOURCE_STOP" "7 DEST_START" \
		"8 DEST_RECEIVE" "9 DEST_STOP"; do
		echo "$out" | grep -Eq "^cmd $cmd: (EOPNOTSUPP|EINVAL)$" ||
			bad="$bad $(echo "$out" | grep "^cmd $cmd:" || echo "cmd $cmd: no answer");"
	done
	if [ -z "$bad" ]; then pass "netlink's session commands of version 1 (4..9) are refused ($1)"
	else fail "netlink's session commands of version 1 (4..9) are refused ($1)" "$bad $(echo "$out" | grep -v '^cmd')"; fi
	expect_output "no byte of the guest reaches the rogue's socket ($1)" "^stream bytes 0$" echo "$out"
	expect_output "the VM is still $1 after the rogue's commands" "^src .* $1$" kvmmig-ctl list
}

bg src dirtier src --mem $MEM --fill
bg dst dirtier dst --mem $MEM --idle
wait_for 10 grep -q attached "$tmp/src.out" || { fail "source VM attaches" "$(cat "$tmp/src.out")"; exit 1; }
wait_for 10 grep -q attached "$tmp/dst.out" ||
	fail "destination VM attaches as incoming" "$(cat "$tmp/dst.out")"
ask src run >/dev/null

# (a) Nothing runs yet: the rogue cannot start one.
rogue_genl idle
expect_output "no kvmmig worker thread was started" "^0$" workers

# (a) The owner runs a source session; the rogue can neither drive nor stop it.
tests/kmod/streamtool.py sink $PORT 100000000 >"$tmp/sink.out" 2>&1 &
pids+=($!)
wait_for 60 grep -q listening "$tmp/sink.out"
bg tool kvmmig-ctl debug source src 127.0.0.1:$PORT
if wait_for 20 grep -q "^started" "$tmp/tool.out"; then pass "the owner (the VMM's file, from its control socket) opens a session"
else fail "the owner (the VMM's file, from its control socket) opens a session" "$(cat "$tmp/tool.out")"; fi
expect_output "the owner's first round runs" "^round round=0 " ask tool "round full"
rogue_genl source
# (b) A /dev/kvmmig file of its own gives the rogue nothing either.
out=$(rogue open-fresh)
expect_output "SESSION_OPEN (destination) on a file that attached nothing fails EINVAL" "^open-fresh: EINVAL$" echo "$out"
expect_output "SESSION_OPEN (source) on a file that attached nothing fails EINVAL" "^open-fresh source: EINVAL$" echo "$out"
expect_output "CANCEL on a file that attached nothing fails EINVAL" "^cancel-fresh: EINVAL$" rogue cancel-fresh
expect_output "after the rogue, the owner's session still runs" "^src .* source$" kvmmig-ctl list
expect_output "and the owner's next round works" "^round round=1 " ask tool "round"
expect_output "the owner stops its session (closes its fd)" "^stopped$" ask tool stop
if wait_for 20 sh -c "kvmmig-ctl list | grep -q '^src .* idle$' && [ \$(pgrep -c -P 2 '^kvmmig-' || true) = 0 ]"; then
	pass "the owner's stop releases the session"
else fail "the owner's stop releases the session" "$(kvmmig-ctl list) workers=$(workers)"; fi
eval "exec ${tool_fd}>&-"
pkill -f 'streamtool.py sink' 2>/dev/null

# (c) A destination session only on a VM attached as incoming.
expect_output "a destination session on a running VM is refused (EPERM), even with its own file" \
	"^dest-on: EPERM$" rogue dest-on src
expect_output "and the running VM is left idle" "^src .* idle$" kvmmig-ctl list
expect_output "a destination session on a VM attached as incoming opens" "^dest-on: ok$" rogue dest-on dst
if wait_for 20 sh -c "kvmmig-ctl list | grep -q '^dst .* idle$'"; then pass "closing that session fd ends it"
else fail "closing that session fd ends it" "$(kvmmig-ctl list)"; fi

# (d) One VM, one attachment.
expect_output "a second /dev/kvmmig file cannot attach the same VM (EALREADY)" "^error EALREADY$" \
	ask src "attach-again src2"
expect_output "nor an incoming VM (EALREADY)" "^error EALREADY$" ask dst "attach-again dst2"
expect_output "nor its VM fd taken with pidfd_getfd, even with CAP_SYS_ADMIN (EALREADY)" \
	"^pidfd-attach: EALREADY$" rogue pidfd-attach "$src_pid" src3
out=$(kvmmig-ctl list)
if ! echo "$out" | grep -Eq '^src[23] |^dst2 '; then pass "no second name for an attached VM"
else fail "no second name for an attached VM" "$out"; fi

eval "exec ${src_fd}>&- ${dst_fd}>&-"
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
wait 2>/dev/null
pids=()
wait_for 10 sh -c '[ -z "$(kvmmig-ctl list)" ]'
expect "module unloads (no reference left)" rmmod kvmmig
finish
