#!/bin/bash
# twohost/datapath.sh: runs on two linked test hosts (tests/testhost --hosts
# 6.1,6.12, KVMMIG_ROLE=a|b, module loaded). Host a migrates a running guest
# through its kvmmig.ko to host b's kvmmig.ko over the real link:
#
#   a 10.250.0.1: dirtier "src" + debug source --TCP--> b 10.250.0.2:
#                                                       dirtier "dst" + debug dest
#
# Round 0 full, three rounds with the guest running, final round paused;
# then a sends its memory digest on the same socket right after END, and b
# compares it with its own: memory equal across hosts and kernels.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/kmod/bglib.sh
TEST_SUFFIX=" [$(uname -r) $KVMMIG_ROLE]"
ask_wait=180
MEM=16
PORT=7430
grep -q '^kvmmig ' /proc/modules || insmod "$KVMMIG_KO"

if [ "$KVMMIG_ROLE" = b ]; then
	bg dst dirtier dst --mem $MEM --idle
	wait_for 10 grep -q attached "$tmp/dst.out"
	# RECEIVE spans the source script's pauses between rounds: raise its
	# progress timeout (default 30 s) out of the way.
	out=$(timeout 300 kvmmig-ctl debug dest dst $PORT --progress-timeout 600 2>&1 | grep -v listening)
	expect_output "destination host received the stream" "^received round=5 " echo "$out"
	mine=$(ask dst "hash $tmp/dst.hash")
	theirs=$(echo "$out" | sed -n 's/^after END: //p')
	if [ -n "$theirs" ] && [ "$mine" = "$theirs" ]; then
		pass "memory equals the source host's after the final round ($mine)"
	else fail "memory equals the source host's after the final round" "source '$theirs', here '$mine'"; fi
	finish
	exit
fi

bg src dirtier src --mem $MEM --fill --stride 2
wait_for 10 grep -q attached "$tmp/src.out"
ask src run >/dev/null
# b listens once its VM is up: retry until it does.
for i in $(seq 60); do
	bg tool kvmmig-ctl debug source src 10.250.0.2:$PORT
	wait_for 10 grep -Eq "started|unable" "$tmp/tool.out"
	grep -q started "$tmp/tool.out" && break
	rm -f "$tmp/tool.in"
	sleep 1
done
expect_output "source session to the other host starts" "^started" cat "$tmp/tool.out"
# Round 0 sends every page, as data or as a zero-page header ("dirty" is
# only what the dirty log held).
r0=$(ask tool "round full")
sent=$(echo "$r0" | sed -n 's/.* sent=\([0-9]*\).*/\1/p') zero=$(echo "$r0" | sed -n 's/.* zero=\([0-9]*\).*/\1/p')
if [[ $r0 == "round round=0 "* ]] && [ "$((${sent:-0} + ${zero:-0}))" -eq "$((MEM * 256))" ]; then
	pass "round 0 over the link sends every page ($r0)"
else fail "round 0 over the link sends every page" "$r0 (want sent+zero=$((MEM * 256)))"; fi
for i in 1 2 3; do
	sleep 1
	r=$(ask tool round)
	echo "  $r"
done
ask src pause >/dev/null
expect_output "final round over the link" "^round round=4 " ask tool "round final"
h=$(ask src "hash $tmp/src.hash")
ask tool "trailer $h" >/dev/null
expect_output "source session stops" "^stopped" ask tool stop
finish
