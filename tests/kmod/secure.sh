#!/bin/bash
# secure.sh: runs inside a test host: the secure channel (user/ctl/secure.h).
# A destination takes guest memory only from a source that holds its key,
# and the stream runs over kernel TLS. Wrong key, no key, a source or
# destination in the clear, bytes flipped in flight by a relay: each ends
# with a clear error, the guest running at the source, and the destination
# either still waiting untouched (handshake failures) or stopped (a stream
# altered after the handshake). The kernel log is checked by the test host.
set -u
cd "$(dirname "$0")/../.."
. tests/kmod/miglib.sh

rport=7450 # the relay's port: source -> relay -> destination
other=$tmp/other.key
kvmmig-ctl keygen "$other" >/dev/null

# migrate_via_relay NAME RELAY_ARGS... : migrates NAME through tests/kmod/relay.py;
# the tool's output in $tmp/relay.mig, its exit in $mig_rc, the relay's in $tmp/relay.out.
migrate_via_relay() {
	local name=$1
	shift
	# Python starts slowly in a loaded test host: wait for the relay to
	# listen (a migration started earlier meets a refused connection).
	port_free $rport
	tests/kmod/relay.py $rport $port "$@" >"$tmp/relay.out" 2>&1 &
	if ! wait_for 60 grep -q waiting "$tmp/relay.out"; then
		echo "the relay never listened: $(tail -n 1 "$tmp/relay.out")" >"$tmp/relay.mig"
		mig_rc=125
		return
	fi
	kvmmig-ctl migrate "$name" "127.0.0.1:$rport" "${mig_args[@]}" >"$tmp/relay.mig" 2>&1
	mig_rc=$?
	# The relay ends with the connection; one that still holds it after
	# 10 s (a half-open connection after a flip) is stopped.
	wait_for 10 sh -c '! pgrep -f tests/kmod/[r]elay.py' || pkill -f tests/kmod/relay.py
}
tls_records() { cat /proc/net/tls_stat 2>/dev/null | awk '$1 == "TlsTxSw" || $1 == "TlsRxSw" {n += $2} END {print n + 0}'; }

start_source sa 1 "$light"

# --- Keys that cannot be used stop the tool before it connects.
chmod 644 "$other"
expect_output "a key file readable by others is refused, saying how to fix it" \
	"readable by others \(mode 644\): chmod 600 $other" kvmmig-ctl migrate sa 127.0.0.1:$port --key "$other"
chmod 600 "$other"
expect_output "a missing key file is named with how to make one" \
	"no migration key at $tmp/none: create one with .kvmmig-ctl keygen" \
	kvmmig-ctl migrate sa 127.0.0.1:$port --key "$tmp/none"
expect_output "keygen never replaces a key" "never replaces a key" kvmmig-ctl keygen "$key"

# --- A destination holding another key: refused in the handshake, nothing moves.
start_dest sain 1
out=$(kvmmig-ctl migrate sa 127.0.0.1:$port --key "$other" 2>&1)
if [ $? -eq 1 ] && echo "$out" | grep -q 'does not hold this migration key.*the guest is running on the source'; then
	pass "wrong key: the source refuses the destination and says the guest runs at the source"
else
	fail "wrong key: the source refuses the destination and says the guest runs at the source" "$(echo "$out" | tail -n 1)"
fi
runs_on "$tmp/sa.src.log" "$tmp/sa.src.pid" && pass "wrong key: the guest runs on at the source" ||
	fail "wrong key: the guest runs on at the source" "$(why_stopped "$tmp/sa.src.log" "$tmp/sa.src.pid")"
if wait_for 10 grep -q 'refused a connection from 127.0.0.1: .*still waiting' "$tmp/sain.in.out" &&
	alive "$tmp/sain.in.pid" && alive "$tmp/sain.dst.pid"; then
	pass "wrong key: the destination logs the refusal and goes on waiting"
else
	fail "wrong key: the destination logs the refusal and goes on waiting" "$(tail -n 2 "$tmp/sain.in.out" | tr '\n' ' ')"
fi

# --- A source without a key (--insecure) at a destination that has one.
out=$(kvmmig-ctl migrate sa 127.0.0.1:$port --insecure 2>&1)
if [ $? -eq 1 ] && echo "$out" | grep -q 'warning: --insecure' &&
	echo "$out" | grep -q 'refused: the source did not authenticate.*the guest is running on the source'; then
	pass "no key: an unauthenticated source is refused by the destination, naming why"
else
	fail "no key: an unauthenticated source is refused by the destination, naming why" "$(echo "$out" | tail -n 1)"
fi
alive "$tmp/sain.in.pid" && pass "no key: the destination still waits" ||
	fail "no key: the destination still waits" "$(tail -n 1 "$tmp/sain.in.out")"

# --- Garbage from a stray connection: refused, logged, still waiting.
python3 -c 'import os, socket, sys; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(os.urandom(4096)); s.close()' $port
if wait_for 10 sh -c "[ \$(grep -c 'refused a connection' $tmp/sain.in.out) -ge 3 ]" && alive "$tmp/sain.in.pid"; then
	pass "random bytes from a stray connection: refused, logged, the destination still waits"
else
	fail "random bytes from a stray connection: refused, logged, the destination still waits" "$(tail -n 1 "$tmp/sain.in.out")"
fi

# --- The right key, through a recording relay: the same destination takes the
# guest, and nothing on the wire after the handshake is plaintext.
before=$(tls_records)
n0=$(last_iter "$tmp/sa.src.log")
mig_args=("${auth[@]}" --verify)
migrate_via_relay sa --record "$tmp/tls.rec"
if [ $mig_rc -eq 0 ] && grep -q 'memory verified' "$tmp/sain.in.out"; then
	pass "the right key: the waiting destination takes the guest over TLS, --verify matching"
else
	fail "the right key: the waiting destination takes the guest over TLS, --verify matching" \
		"exit $mig_rc: $(tail -n 1 "$tmp/relay.mig"); incoming: $(tail -n 1 "$tmp/sain.in.out")"
fi
if runs_on "$tmp/sain.dst.log" "$tmp/sain.dst.pid" && [ "$(last_iter "$tmp/sain.dst.log")" -gt "${n0:-0}" ]; then
	pass "over TLS the guest continues at the destination, its memory checks passing"
else
	fail "over TLS the guest continues at the destination, its memory checks passing" "$(why_stopped "$tmp/sain.dst.log" "$tmp/sain.dst.pid")"
fi
after=$(tls_records)
[ "$after" -gt "$before" ] && pass "kernel TLS carried the stream (/proc/net/tls_stat: $before -> $after sw contexts)" ||
	fail "kernel TLS carried the stream" "/proc/net/tls_stat did not count a software TLS context ($before -> $after)"
# The recording (source to destination) must be the source's two handshake
# messages, then TLS records end to end (type 23, version 3.3, a length,
# back to back; the last one may be cut by the 8 MiB the relay keeps).
wire_layout() {
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
at = 0
for n in range(2):
    if b[at:at + 4] != b"KMTL":
        sys.exit(f"no handshake message {n + 1} at byte {at}")
    at += 12 + struct.unpack_from("<I", b, at + 8)[0]
records = 0
while at + 5 <= len(b):
    if b[at:at + 3] != b"\x17\x03\x03":
        sys.exit(f"not a TLS record at byte {at} of {len(b)}: {b[at:at + 8].hex()}")
    at += 5 + struct.unpack_from(">H", b, at + 3)[0]
    records += 1
print(f"2 handshake messages, then {records} TLS records ({len(b)} bytes recorded)")
PY
}
if layout=$(wire_layout "$tmp/tls.rec" 2>&1) && ! grep -q 'page-size 4096' "$tmp/tls.rec" && ! grep -qa 'KVMMIG' "$tmp/tls.rec"; then
	pass "on the wire only the two handshake messages are in the clear: $layout"
else
	fail "on the wire only the two handshake messages are in the clear" \
		"$layout; shape text: $(grep -c 'page-size' "$tmp/tls.rec"), stream magic: $(grep -ac KVMMIG "$tmp/tls.rec")"
fi
kill "$(cat "$tmp/sain.dst.pid")" 2>/dev/null

# --- Both sides --insecure: allowed, warned, and in the clear (the recording
# sees the shape and the page stream: the control for the check above).
start_source sb 1 "$light"
auth=(--insecure)
start_dest sbin 1
mig_args=(--insecure)
migrate_via_relay sb --record "$tmp/clear.rec"
if [ $mig_rc -eq 0 ] && grep -q 'warning: --insecure: guest memory crosses the network in the clear' "$tmp/relay.mig" "$tmp/sbin.in.out" &&
	[ "$(grep -c 'warning: --insecure' "$tmp/relay.mig" "$tmp/sbin.in.out" | grep -c ':1$')" -eq 2 ]; then
	pass "both sides --insecure: the migration runs, each side warns"
else
	fail "both sides --insecure: the migration runs, each side warns" "exit $mig_rc: $(tail -n 1 "$tmp/relay.mig")"
fi
grep -q 'page-size 4096' "$tmp/clear.rec" && grep -qa 'KVMMIG' "$tmp/clear.rec" &&
	pass "--insecure sends the shape and the page stream in the clear (the recording sees them)" ||
	fail "--insecure sends the shape and the page stream in the clear (the recording sees them)" "not found in the recording"
runs_on "$tmp/sbin.dst.log" "$tmp/sbin.dst.pid" && pass "--insecure: the guest continues at the destination" ||
	fail "--insecure: the guest continues at the destination" "$(why_stopped "$tmp/sbin.dst.log" "$tmp/sbin.dst.pid")"

# --- A keyed source never sends to a destination in the clear.
start_source sc 1 "$light"
start_dest sbin2 1
out=$(kvmmig-ctl migrate sc 127.0.0.1:$port --key "$key" 2>&1)
if [ $? -eq 1 ] && echo "$out" | grep -q 'destination runs --insecure; refusing to send guest memory in the clear.*guest is running on the source'; then
	pass "a source with a key refuses a destination in the clear"
else
	fail "a source with a key refuses a destination in the clear" "$(echo "$out" | tail -n 1)"
fi
kill "$(cat "$tmp/sbin2.in.pid")" "$(cat "$tmp/sbin2.dst.pid")" 2>/dev/null
auth=(--key "$key")
mig_args=("${auth[@]}")

# --- A byte flipped in the handshake: the proofs fail, nothing moves.
start_dest scin 1
migrate_via_relay sc --flip 20
if grep -q '^flipped at 20' "$tmp/relay.out" && [ $mig_rc -eq 1 ] &&
	grep -q 'failed: .*the guest is running on the source' "$tmp/relay.mig"; then
	pass "a byte flipped in the handshake: the migration fails cleanly ($(sed -n 's/.*failed: \(.*\); the guest.*/\1/p' "$tmp/relay.mig"))"
else
	fail "a byte flipped in the handshake: the migration fails cleanly" "exit $mig_rc: $(tail -n 1 "$tmp/relay.mig")"
fi
if ! runs_on "$tmp/sc.src.log" "$tmp/sc.src.pid"; then
	fail "a byte flipped in the handshake: the guest runs at the source, the destination waits on" \
		"the source's guest stopped: $(why_stopped "$tmp/sc.src.log" "$tmp/sc.src.pid")"
elif ! alive "$tmp/scin.in.pid"; then
	fail "a byte flipped in the handshake: the guest runs at the source, the destination waits on" \
		"the destination stopped waiting: $(tail -n 1 "$tmp/scin.in.out")"
else
	pass "a byte flipped in the handshake: the guest runs at the source, the destination waits on"
fi

# --- A byte flipped in the page stream (3 MB in, inside round 0): the
# destination's kernel TLS rejects the record, the destination stops, the
# source resumes. (A slow debug test host can outlive the waiting
# destination's --timeout by now: it waits anew.)
if ! alive "$tmp/scin.in.pid"; then
	kill "$(cat "$tmp/scin.dst.pid")" 2>/dev/null
	wait_for 15 sh -c "! kill -0 $(cat "$tmp/scin.dst.pid") && ! test -e $KVMMIG_RUN_DIR/scin.sock"
	start_dest scin 1
fi
migrate_via_relay sc --flip 3000000
if grep -q '^flipped at' "$tmp/relay.out" && [ $mig_rc -eq 1 ] &&
	grep -q 'failed: .*the guest is running on the source' "$tmp/relay.mig"; then
	pass "a byte flipped in the page stream: the source fails cleanly and says the guest runs there"
else
	fail "a byte flipped in the page stream: the source fails cleanly and says the guest runs there" \
		"relay: $(tail -n 1 "$tmp/relay.out"); exit $mig_rc: $(tail -n 1 "$tmp/relay.mig")"
fi
if wait_for 15 sh -c "! kill -0 $(cat "$tmp/scin.dst.pid")" &&
	grep -q 'TLS record failed authentication: the stream was altered in flight' "$tmp/scin.in.out"; then
	pass "a byte flipped in the page stream: the destination names the tampering and stops its VMM"
else
	fail "a byte flipped in the page stream: the destination names the tampering and stops its VMM" \
		"incoming: $(tail -n 1 "$tmp/scin.in.out")"
fi
runs_on "$tmp/sc.src.log" "$tmp/sc.src.pid" && pass "a byte flipped in the page stream: the guest runs on at the source" ||
	fail "a byte flipped in the page stream: the guest runs on at the source" \
		"$(why_stopped "$tmp/sc.src.log" "$tmp/sc.src.pid")"
expect_output "the source VM is idle again" "^sc .* idle$" kvmmig-ctl list

# --- A send buffer smaller than one TLS record, on a link of ordinary MSS
# (TCP memory pressure shrinks sk_sndbuf that far). On 6.1, pages sent with
# MSG_SENDPAGE_NOTLAST over kernel TLS left each closed record unpushed in
# TCP's queue, and the sender slept for memory no ACK would ever free: the
# migration stalled in round 0 (kmod/compat.h, kvmmig_sendpage_flags).
lo_mtu=$(cat /sys/class/net/lo/mtu)
wmem=$(sysctl -n net.ipv4.tcp_wmem)
# A 2 MiB working set: on 6.5+ such a send buffer costs a probe timer's
# wait (200 ms) per record once the rest is acknowledged, so the stream is
# kept small; one record was enough for the stall.
start_source sd 1 "pages=512 rate=16 delay_us=100000 report_ms=100"
ip link set lo mtu 1500 && sysctl -qw net.ipv4.tcp_wmem="4096 8192 8192"
start_dest sdin 1
n0=$(last_iter "$tmp/sd.src.log")
MIGRATE_TIMEOUT=300 migrate_watched "$tmp/sd.mig" sd 127.0.0.1:$port "${auth[@]}" --verify --progress-timeout 10
mig_rc=$?
sysctl -qw net.ipv4.tcp_wmem="$wmem"
ip link set lo mtu "$lo_mtu"
if [ $mig_rc -eq 0 ] && grep -q 'memory verified' "$tmp/sdin.in.out"; then
	pass "a send buffer smaller than a TLS record (tcp_wmem 8 KiB, MTU 1500): the migration completes, --verify matching: $(grep '^migrated' "$tmp/sd.mig")"
else
	fail "a send buffer smaller than a TLS record (tcp_wmem 8 KiB, MTU 1500): the migration completes" \
		"exit $mig_rc: $(tail -n 2 "$tmp/sd.mig" | tr '\n' ' ')"
fi
if runs_on "$tmp/sdin.dst.log" "$tmp/sdin.dst.pid" && [ "$(last_iter "$tmp/sdin.dst.log")" -gt "${n0:-0}" ]; then
	pass "a send buffer smaller than a TLS record: the guest continues at the destination"
else
	fail "a send buffer smaller than a TLS record: the guest continues at the destination" \
		"$(why_stopped "$tmp/sdin.dst.log" "$tmp/sdin.dst.pid")"
fi

finish
