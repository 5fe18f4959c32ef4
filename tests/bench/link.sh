#!/bin/bash
# tests/bench/link.sh: runs inside a test host (tests/bench/run starts it).
# Raw TCP throughput of the link with iperf3: one stream (what kvmmig and
# single-channel QEMU use) and N streams (multifd). Loopback by default; with
# a peer address, against an iperf3 server there (link.sh server on the peer).
#   link.sh [PEER] [SECONDS] [STREAMS]   prints "link streams=N bits_per_second=..."
#   link.sh server                        runs iperf3 -s until killed
set -u
if [ "${1:-}" = server ]; then exec iperf3 -s -p 5201; fi
peer=${1:-127.0.0.1} secs=${2:-5} streams=${3:-2}
pid=
if [ "$peer" = 127.0.0.1 ]; then
	iperf3 -s -p 5201 >/dev/null 2>&1 &
	pid=$!
	sleep 2
fi
for n in 1 "$streams"; do
	bps=$(iperf3 -c "$peer" -p 5201 -t "$secs" -P "$n" -J 2>/dev/null |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))' 2>/dev/null)
	echo "link streams=$n bits_per_second=${bps:-0}"
done
[ -z "$pid" ] || kill "$pid"
