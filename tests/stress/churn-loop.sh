#!/bin/bash
# churn-loop.sh: does a running guest survive other VMs coming and going beside it, with no
# migration at all? A 1-vCPU payload guest (the victim) runs while, again and again, another
# payload VM is started, runs until it reports, and is stopped (SIGTERM). After each cycle the
# victim must run on (runs_on: new reports within 30 s, its memory checks passing); the loop
# stops at the first time it does not, saying what why_stopped (tests/kmod/miglib.sh) knows.
# The control experiment for tests/stress/hop-loop.sh.
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

. tests/lib.sh
. tests/stress/lib.sh
[ -n "${KVMMIG_TESTHOST:-}" ] || run_in_testhost $((seconds + 300)) -- tests/stress/churn-loop.sh "${args[@]}"

. tests/kmod/miglib.sh
busy_loops "$load"
trap 'kill ${load_pids[*]} 2>/dev/null; cleanup' EXIT

start_source victim 1 "$light"
t0=$(date +%s) n=0 bad=''
while [ $n -lt "$cycles" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	start_source o$n 1 "$light"
	kill "$(cat "$tmp/o$n.src.pid")"
	wait "$(cat "$tmp/o$n.src.pid")" 2>/dev/null
	if ! runs_on "$tmp/victim.src.log" "$tmp/victim.src.pid"; then
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
