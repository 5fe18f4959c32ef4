#!/bin/bash
# churn-loop.sh: does a running guest survive other VMs coming and going beside it, with no
# migration at all? A 1-vCPU payload guest (the victim) runs while, again and again, another
# payload VM is started, runs until it reports, and is stopped (SIGTERM, or a "quit" as a
# migration's source gets). After each cycle the victim must report again within 20 s with its
# memory checks passing; the loop stops at the first time it does not, saying what why_stopped
# (tests/kmod/miglib.sh) knows of it. The control experiment for tests/stress/hop-loop.sh.
#
#   tests/stress/churn-loop.sh [--kernel 6.1|6.12] [--cycles N] [--seconds S] [--load N]
cd "$(dirname "$0")/../.." || exit 1

kver=6.1 cycles=10000 seconds=600 load=0
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--cycles) cycles=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--load) load=$2; shift 2 ;;
	*) echo "usage: $0 [--kernel K] [--cycles N] [--seconds S] [--load N]" >&2
		exit 2 ;;
	esac
done

if [ -z "${KVMMIG_TESTHOST:-}" ]; then
	. tests/lib.sh
	tests/testhost --kernel "$kver" --no-module --timeout $((seconds + 300)) -- tests/stress/churn-loop.sh "${args[@]}"
	status=$?
	[ $status -lt 124 ] || fail "churn loop test host run" "tests/testhost exited $status"
	exit $status
fi

. tests/kmod/miglib.sh
load_pids=()
for ((i = 0; i < load; i++)); do
	sh -c 'while :; do :; done' &
	load_pids+=($!)
done
trap 'kill ${load_pids[*]} 2>/dev/null; cleanup' EXIT

start_source victim 1 "$light"
t0=$(date +%s) n=0 bad=''
while [ $n -lt "$cycles" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	start_source o$n 1 "$light"
	kill "$(cat "$tmp/o$n.src.pid")"
	wait "$(cat "$tmp/o$n.src.pid")" 2>/dev/null
	n0=$(reports "$tmp/victim.src.log")
	if ! alive "$tmp/victim.src.pid" ||
		! wait_for 20 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $tmp/victim.src.log) -gt $n0 ]" ||
		grep -q 'failures [1-9]\|FAIL' "$tmp/victim.src.log"; then
		bad="cycle $n: $(why_stopped "$tmp/victim.src.log" "$tmp/victim.src.pid")"
		break
	fi
	[ $((n % 10)) = 0 ] && echo "info: cycle $n ok ($(($(date +%s) - t0)) s)"
	rm -f "$tmp/o$n".*
done

summary="$n cycles ($(($(date +%s) - t0)) s, load $load)"
if [ -n "$bad" ]; then
	fail "a guest runs on while other VMs come and go" "$bad; $summary"
else
	pass "a guest runs on while other VMs come and go: $summary"
fi
finish
