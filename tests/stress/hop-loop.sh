#!/bin/bash
# hop-loop.sh: the reproducer of a guest that stops after a migration. A 1-vCPU payload guest is
# migrated on loopback again and again inside one test host, each destination the source of the
# next hop, alternating kernel TLS and --insecure; before every third hop a migration to the
# next destination is cancelled first (the guest must run on at the source). After each step the
# guest must run on (runs_on: new reports within 30 s, its memory checks passing); the loop stops
# at the first guest that does not, saying what why_stopped (tests/kmod/miglib.sh) knows of it.
#
#   tests/stress/hop-loop.sh [--kernel 6.1|6.12] [--hops N] [--seconds S] [--load N] [--verify]
#                            [--via restore]
#
# --load N runs N busy loops in the test host beside the guests (a loaded CI machine).
# --verify migrates with --verify (the memory digests compared before the destination runs).
# --via restore hops without kvmmig: pause, save-state and save-memory through the VMM's control
# socket, quit, restore into a fresh incoming VMM (--mem-file), resume; no cancels. The control
# experiment: a failure seen both ways is not the migration's.
# Slow (a few seconds a hop): not in tests/run.
cd "$(dirname "$0")/../.." || exit 1

kver=6.1 hops=1000 seconds=900 load=0 via=migrate verify=()
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--hops) hops=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--load) load=$2; shift 2 ;;
	--via) via=$2; shift 2 ;;
	--verify) verify=(--verify); shift ;;
	*) echo "usage: $0 [--kernel K] [--hops N] [--seconds S] [--load N] [--verify] [--via migrate|restore]" >&2
		exit 2 ;;
	esac
done

. tests/lib.sh
. tests/stress/lib.sh
[ -n "${KVMMIG_TESTHOST:-}" ] || run_in_testhost $((seconds + 300)) -- tests/stress/hop-loop.sh "${args[@]}"

. tests/kmod/miglib.sh
vmctl_bin=build/tests/vmctl # built by tests/vm's tests (tests/vm/vmlib.sh)
[ "$via" = migrate ] || [ -x "$vmctl_bin" ] || { fail "hop loop" "no $vmctl_bin: run tests/run vm first"; exit 1; }
busy_loops "$load"
trap 'kill ${load_pids[*]} 2>/dev/null; cleanup' EXIT

start_source h0 1 "$light"
cur=h0.src t0=$(date +%s) n=0 ok=0 bad=''
while [ $n -lt "$hops" ] && [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	name=${cur%%.*}
	if [ $((n % 2)) = 0 ]; then auth=(--insecure); else auth=(--key "$key"); fi
	if [ "$via" = restore ]; then
		# The same hop through the VMM alone: no module, no network.
		ctl() { "$vmctl_bin" "$KVMMIG_RUN_DIR/$1.sock" "${@:2}"; }
		rm -f "$KVMMIG_RUN_DIR/s.mem" # save-memory writes only a new file, in the run directory
		if ! { ctl "$name" pause && ctl "$name" save-state >"$tmp/s.state" &&
			ctl "$name" save-memory s.mem && ctl "$name" quit; } >/dev/null 2>"$tmp/mig.out"; then
			bad="hop $n: save failed: $(tail -n 1 "$tmp/mig.out")"
			break
		fi
		wait_for 10 sh -c "! kill -0 $(cat "$tmp/$cur.pid")"
		kvmmig-vm -v --incoming --name h$n --cpus 1 --mem 64M --mem-file "$KVMMIG_RUN_DIR/s.mem" \
			--console "file:$tmp/h$n.dst.log" 2>"$tmp/h$n.dst.err" &
		echo $! >"$tmp/h$n.dst.pid"
		wait_for 20 test -S "$KVMMIG_RUN_DIR/h$n.sock"
		if ! { ctl h$n restore-state <"$tmp/s.state" && ctl h$n resume; } >/dev/null 2>"$tmp/mig.out"; then
			bad="hop $n: restore failed: $(tail -n 1 "$tmp/mig.out")"
			break
		fi
		echo "restored h$n" >"$tmp/mig.out"
		cur=h$n.dst
		if ! runs_on "$tmp/$cur.log" "$tmp/$cur.pid"; then
			bad="hop $n (restore): the guest stopped: $(why_stopped "$tmp/$cur.log" "$tmp/$cur.pid")"
			break
		fi
		ok=$((ok + 1))
		echo "info: hop $n ok ($(($(date +%s) - t0)) s, restore)"
		continue
	fi
	if [ $((n % 3)) = 0 ]; then
		# A cancelled migration first: the guest runs on at the source.
		start_dest c$n 1
		kvmmig-ctl migrate "$name" "127.0.0.1:$port" "${auth[@]}" --bandwidth 1 >"$tmp/cancel.out" 2>&1 &
		mig=$!
		wait_for 20 sh -c "kvmmig-ctl status $name | grep -q 'kvmmig: source'"
		sleep 0.$((RANDOM % 10))
		kvmmig-ctl cancel "$name" >/dev/null 2>&1
		wait $mig
		wait_for 10 sh -c "! kill -0 $(cat "$tmp/c$n.dst.pid")"
		if ! runs_on "$tmp/$cur.log" "$tmp/$cur.pid"; then
			bad="hop $n: after a cancel ($(tail -n 1 "$tmp/cancel.out")) the guest stopped at the source: $(why_stopped "$tmp/$cur.log" "$tmp/$cur.pid")"
			break
		fi
	fi
	start_dest h$n 1
	if ! kvmmig-ctl migrate "$name" "127.0.0.1:$port" "${auth[@]}" "${verify[@]}" >"$tmp/mig.out" 2>&1; then
		bad="hop $n (${auth[0]}): migration failed: $(tail -n 1 "$tmp/mig.out")"
		break
	fi
	wait_for 10 sh -c "! kill -0 $(cat "$tmp/$cur.pid")"
	cur=h$n.dst
	if ! runs_on "$tmp/$cur.log" "$tmp/$cur.pid"; then
		bad="hop $n (${auth[0]}): $(tail -n 1 "$tmp/mig.out"), then the guest stopped at the destination: $(why_stopped "$tmp/$cur.log" "$tmp/$cur.pid")"
		break
	fi
	ok=$((ok + 1))
	echo "info: hop $n ok ($(($(date +%s) - t0)) s, ${auth[0]}): $(tail -n 1 "$tmp/mig.out")"
done

summary="$ok of $n hops via $via ($(($(date +%s) - t0)) s, load $load)"
if [ -n "$bad" ]; then
	fail "a payload guest survives repeated hops" "$bad; $summary"
else
	pass "a payload guest survives repeated hops: $summary"
fi
finish
