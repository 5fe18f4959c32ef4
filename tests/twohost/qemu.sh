#!/bin/bash
# qemu.sh: runs on two test hosts (tests/testhost --hosts A,B; tests/run
# pairs Debian 12's 6.1 as host a with bookworm-backports' 6.12 as host b).
# The QEMU/KVM Linux guest of tests/kmod/qemu.sh (tests/kmod/qemulib.sh:
# memcounter writing memory, diskcheck reading a virtio-blk disk into
# memory and checking it, netcheck checking the datagrams each host's
# netsend.py sends to its vhost-net NIC; its kernel bookworm-backports' 6.12 on both
# hosts) boots on host a, migrates to host b with `kvmmig-ctl migrate
# --qemu` / `incoming --qemu`, then back to host a: kvmmig.ko moves the
# RAM file, QEMU its devices over a second kernel-TLS connection, both
# under the key host a makes in the shared scratch dir.
#
#   host a 10.250.0.1: QEMU a1 ◄QMP─ migrate --qemu ══TLS══► incoming --qemu ─QMP► QEMU b1 (-incoming defer -S): host b 10.250.0.2
#   host a: QEMU a2 (-incoming defer -S) ◄QMP─ incoming --qemu ◄══TLS══ migrate --qemu ─QMP► QEMU b1: host b
#
# The guest is the oracle. At each destination both workloads keep printing
# "ok", memcounter's counter goes on past the last value the source printed
# (the same guest, not a new boot) and no MISMATCH appears on either side;
# the tool reports success, its verify pass repaired pages (QEMU's device
# writes, which KVM's dirty log never sees) and the source QEMU stays
# stopped (postmigrate): exactly one side runs. The disk: each host its own
# copy of build/guests/qemu-disk.img (the guest only reads it).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/flight.sh
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
role=$KVMMIG_ROLE self=$KVMMIG_SELF_ADDR peer=$KVMMIG_PEER_ADDR
S=$KVMMIG_SCRATCH
qemu=${QEMU_BIN:-qemu-system-x86_64}
qver=$("$qemu" --version | head -n1 | grep -o 'version [0-9.]*' | cut -d' ' -f2)
TEST_SUFFIX=" [$role: $(uname -r), QEMU $qver]"
tmp=$(mktemp -d)
mkdir -p "$KVMMIG_RUN_DIR"
port=7437
flight_start
. tests/kmod/qemulib.sh
trap 'qemu_cleanup; stop_netsend; pkill -9 -f "kvmmig-ctl (migrate|incoming)" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; flight_stop' EXIT
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }
# Both hosts boot (and receive) the same guest: bookworm-backports' 6.12,
# the kernel the QEMU guest was validated on, whatever the host runs.
gkver=$(qemu_guest_kver)
[[ $gkver == 6.12.*+deb12-amd64 ]] ||
	{ fail "the guest kernel is cached" "no build/testhost/6.12.*+deb12-amd64 (tests/testhost --kernel 6.12 unpacks it)"; exit 1; }
qemu_guest "$gkver"
# The guest's NIC on vhost-net, fed by each host's own netsend.py: the
# guest receives wherever it runs.
qnet=on
start_netsend || fail "tun and vhost_net load for the guest's NIC" "modprobe failed"

# signal NAME [TEXT]: tells the peer; await NAME: waits for it, and gives up
# (exit, the peer has said why) if the peer signals "failed" instead.
signal() { echo "${2:-}" >"$S/$1.tmp" && mv "$S/$1.tmp" "$S/$1"; }
await() {
	wait_for "${2:-600}" sh -c "test -e '$S/$1' || test -e '$S/failed'"
	[ -e "$S/$1" ] && return 0
	[ -e "$S/failed" ] || fail "waiting for the peer ($1)" "timed out"
	exit 1
}
give_up() { signal failed; exit 1; }
counters() { sed -n 's/^memcounter: counter \([0-9]*\) checksum [0-9]* ok\r\?$/\1/p' "$1"; }
# why_gone NAME: a guest that stopped: its QEMU's state, console and stderr
# (a KVM internal error's suberror, extra data and registers first).
why_gone() {
	local pid alive=running
	pid=$(cat "$tmp/$1.pid")
	if kill -0 "$pid" 2>/dev/null; then
		alive="running, status $(qmp_status "$tmp/$1.qmp" | tail -n 1)"
	else
		wait "$pid"
		alive="exited $?"
	fi
	printf 'QEMU %s; console: %s QEMU: %s ... %s%s' "$alive" "$(tail -n 5 "$tmp/$1.console" | tr '\n' ' ')" \
		"$(grep -m 6 -E 'internal error|Suberror|extra data|emulation failure|^RAX=|^RIP=|^CR0=' "$tmp/$1.err" | tr '\n' ' ')" \
		"$(tail -n 3 "$tmp/$1.err" | tr '\n' ' ')" "$(flight_verdict)"
}

# receive HOP SRC NAME: QEMU NAME waits here (-incoming defer -S) with
# `kvmmig-ctl incoming --qemu`; once the guest came from host SRC it must
# go on here: both workloads ok, the counter past the source's last, no
# MISMATCH, QEMU running.
receive() {
	local hop=$1 src=$2 name=$3 ipid in_rc last src_rc first now given_up=
	start_qemu "$name" -incoming defer -S
	kvmmig-ctl incoming --qemu "$tmp/$name.qmp" --listen "$self:$port" "${auth[@]}" \
		--timeout 600 >"$tmp/$name.in.out" 2>&1 &
	ipid=$!
	wait_for 30 grep -q 'waiting for a source' "$tmp/$name.in.out" ||
		{ fail "hop $hop: the destination waits" "$(tail -n 2 "$tmp/$name.in.out" | tr '\n' ' ')"; give_up; }
	signal "ready.$hop"
	while kill -0 $ipid 2>/dev/null && [ ! -e "$S/failed" ]; do
		# A source that failed before it connected would leave this tool
		# waiting out its --timeout: 30 s after the source said so, stop it.
		if [ -z "$given_up" ] && [ -e "$S/migrated.$hop" ]; then
			read -r _ src_rc <"$S/migrated.$hop"
			[ "${src_rc:-1}" = 0 ] || given_up=$SECONDS
		fi
		[ -n "$given_up" ] && [ $((SECONDS - given_up)) -ge 30 ] && kill $ipid 2>/dev/null
		nap 0.5
	done
	[ -e "$S/failed" ] && exit 1
	wait $ipid
	in_rc=$?
	echo "info: hop $hop: destination: $(tr '\n' '|' <"$tmp/$name.in.out")"
	await "migrated.$hop"
	read -r last src_rc <"$S/migrated.$hop"
	if [ "$in_rc" = 0 ] && [ "${src_rc:-1}" = 0 ]; then
		pass "hop $hop ($src -> $role): the incoming tool reports success: $(tail -n 1 "$tmp/$name.in.out")"
	else
		fail "hop $hop ($src -> $role): the incoming tool reports success" \
			"exit $in_rc (source's $src_rc): $(tail -n 3 "$tmp/$name.in.out" | tr '\n' ' ')"
		# A failed hop leaves the guest at the source: it must not run here too.
		[ ! -s "$tmp/$name.console" ] &&
			pass "hop $hop: after the failed migration the guest never ran here" ||
			fail "hop $hop: after the failed migration the guest never ran here" "$(head -n 2 "$tmp/$name.console" | tr '\n' ' ')"
		give_up
	fi
	if wait_for 180 sh -c "[ \$(grep -c 'diskcheck: step .* ok' $tmp/$name.console) -ge 5 ] && [ \$(grep -c 'memcounter: counter .* ok' $tmp/$name.console) -ge 5 ]"; then
		first=$(counters "$tmp/$name.console" | head -n 1)
		now=$(counters "$tmp/$name.console" | tail -n 1)
		if [ "${first:-0}" -gt "${last:-0}" ] && [ "$now" -gt "$first" ]; then
			pass "hop $hop: the guest runs on at $role ($(uname -r)): memcounter $last at $src, then $first .. $now here; $(grep 'diskcheck: step' "$tmp/$name.console" | tail -n 1)"
		else
			fail "hop $hop: the guest runs on at $role, its counter past the source's" \
				"last at $src ${last:-none}, here $first .. $now: $(head -n 3 "$tmp/$name.console" | tr '\n' ' ')"
		fi
	else
		fail "hop $hop: the guest runs on at $role with both workloads ok" "$(why_gone "$name")"
		give_up
	fi
	local p0
	p0=$(net_packets "$name")
	wait_for 60 net_at_least "$name" $((p0 + 100)) && wait_for 10 qemu_vhost "$name" &&
		pass "hop $hop: the guest's network runs at $role on vhost-net: netcheck received $(($(net_packets "$name") - p0)) more datagrams, every byte as sent" ||
		fail "hop $hop: the guest's network runs at $role on vhost-net" "vhost-net $(qemu_vhost "$name" && echo held || echo 'not held'); netcheck: $(grep netcheck "$tmp/$name.console" | tail -n 2 | tr '\n' ' ')"
	[ "$(qmp_status "$tmp/$name.qmp")" = running ] &&
		pass "hop $hop: QEMU runs the guest at $role" ||
		fail "hop $hop: QEMU runs the guest at $role" "status: $(qmp_status "$tmp/$name.qmp")"
	grep -q MISMATCH "$tmp/$name.console" &&
		fail "hop $hop: no lost write: the guest's checks never fail at $role" "$(grep -m2 MISMATCH "$tmp/$name.console" | tr '\n' ' ')" ||
		pass "hop $hop: no lost write: the guest's checks never fail at $role"
	signal "checked.$hop"
}

# send HOP TO NAME: once host TO waits, the guest in QEMU NAME migrates
# there; the tool must succeed, repair pages, and leave NAME stopped.
send() {
	local hop=$1 to=$2 name=$3 rc last n repaired st
	await "ready.$hop"
	timeout -k 5 600 kvmmig-ctl migrate --qemu "$tmp/$name.qmp" "$peer:$port" "${auth[@]}" \
		--max-downtime 20000 >"$tmp/$name.mig.out" 2>&1
	rc=$?
	echo "info: hop $hop: source: $(tr '\n' '|' <"$tmp/$name.mig.out")"
	last=$(counters "$tmp/$name.console" | tail -n 1)
	if [ $rc = 0 ]; then
		pass "hop $hop ($role -> $to, from $(uname -r)): the tool reports success: $(grep '^migrated' "$tmp/$name.mig.out")"
	else
		fail "hop $hop ($role -> $to): the tool reports success" "exit $rc: $(tail -n 4 "$tmp/$name.mig.out" | tr '\n' ' ')"
	fi
	signal "migrated.$hop" "${last:-0} $rc"
	n=$(wc -l <"$tmp/$name.console")
	if [ $rc = 0 ]; then
		repaired=$(grep -o '[0-9]* pages repaired' "$tmp/$name.mig.out" | cut -d' ' -f1)
		# Pages only QEMU wrote since round 0 (disk reads into memory): KVM's log has none of them.
		[ "${repaired:-0}" -gt 0 ] &&
			pass "hop $hop: the verify pass found and resent $repaired pages KVM's dirty log missed (QEMU's device writes)" ||
			fail "hop $hop: the verify pass finds pages KVM's dirty log missed" "repaired: ${repaired:-none}"
		nap 5
		st=$(qmp_status "$tmp/$name.qmp")
		[ "$(wc -l <"$tmp/$name.console")" = "$n" ] && [ "$st" = postmigrate ] &&
			pass "hop $hop: the source QEMU stays stopped (postmigrate) after the hop" ||
			fail "hop $hop: the source QEMU stays stopped after the hop" \
				"status $st, console $n -> $(wc -l <"$tmp/$name.console") lines"
	else
		# Exactly one side runs: after a failed migration, the source.
		wait_for 60 sh -c "[ \$(wc -l <$tmp/$name.console) -gt $n ]" &&
			pass "hop $hop: after the failed migration the guest runs on at the source" ||
			fail "hop $hop: after the failed migration the guest runs on at the source" "$(why_gone "$name")"
	fi
	grep -q MISMATCH "$tmp/$name.console" &&
		fail "hop $hop: no lost write: the guest's checks never failed at $role" "$(grep -m2 MISMATCH "$tmp/$name.console" | tr '\n' ' ')" ||
		pass "hop $hop: no lost write: the guest's checks never failed at $role"
	await "checked.$hop"
	[ $rc = 0 ] || give_up
	quit_qemu "$name"
}

# Every migration authenticates and runs over kernel TLS with one key, made
# by host a in the shared scratch directory.
key=$S/migration.key
auth=(--key "$key")
if [ "$role" = a ]; then
	kvmmig-ctl keygen "$key" >/dev/null && signal key || { fail "kvmmig-ctl keygen" "no key in $key"; give_up; }
fi
await key

if [ "$role" = a ]; then
	if boot_qemu a1 300; then
		pass "the guest boots on host a and its workloads check ok ($(grep -m1 'kvmmig-guest: userspace up' "$tmp/a1.console"))"
	else
		fail "the guest boots on host a and its workloads check ok" "$booted_why"
		give_up
	fi
	send 1 b a1
	receive 2 b a2
else
	receive 1 a b1
	send 2 a b1
fi
finish
