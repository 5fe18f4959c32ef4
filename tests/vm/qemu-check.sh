#!/bin/bash
# qemu-check.sh: `kvmmig-ctl qemu-check` against real QEMUs on this machine:
# Debian 12's 7.2 and bookworm-backports' 10.0 (unpacked by
# scripts/install-deps into /var/cache/kvmmig/qemu10, or KVMMIG_QEMU10).
# Each QEMU is started stopped (-S, 64 MiB, no device), so it costs no CPU.
# A good configuration must pass; each misconfiguration must be refused for
# its own reason. Where the reason is the RAM backend, QEMU itself is the
# oracle: migrated to /dev/null with x-ignore-shared, query-migrate's
# ram.total says whether QEMU skipped the guest RAM (~0.5 MiB left) or
# copied it (~64 MiB), and qemu-check must agree.
#
#   kvmmig-ctl qemu-check ──QMP (unix socket)──► qemu-system-x86_64 -S -accel kvm
#            └── /proc/PID/maps (dirty ring, other mappers of guest RAM)
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
ctl=$PWD/build/kvmmig-ctl
qmp=$PWD/tests/vm/qmp.py
[ -x "$ctl" ] || { fail "qemu-check: kvmmig-ctl is built" "no $ctl: run make user"; finish; exit; }
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	fail "qemu-check: /dev/kvm is usable" "the checks need a KVM guest (QEMU -accel kvm)"
	finish
	exit
fi

# The QMP client alone (tests/vm/qmpclient.c), built from the tool's own files.
client=$PWD/build/tests/qmpclient
mkdir -p build/tests
if ! gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iuser -Iinclude/uapi -o "$client" \
	tests/vm/qmpclient.c user/ctl/qmp.c user/ctl/peertext.c $(pkg-config --libs jansson) \
	2>build/tests/qmpclient.log; then
	fail "qemu-check: the QMP client test program builds" "$(head -n 3 build/tests/qmpclient.log | tr '\n' ' ')"
	finish
	exit
fi

tmp=$(mktemp -d)
shm=/dev/shm/kvmmig-qemu-check.$$
qpid=
holder=
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	[ -z "$holder" ] || kill "$holder" 2>/dev/null
	rm -rf "$tmp" "$shm" build/tests/qemu-check-ram.$$
}
trap cleanup EXIT
mkdir -p build/tests
disk_ram=$PWD/build/tests/qemu-check-ram.$$ # on the build tree's disk, not tmpfs

# Does this kernel offer KVM's dirty ring (KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING)?
ring_supported=$(python3 -c 'import fcntl, os
fd = os.open("/dev/kvm", os.O_RDWR)
print(1 if fcntl.ioctl(fd, 0xAE03, 192) > 0 else 0)')

# start_qemu QEMU ARGS...: QEMU stopped, its QMP socket at $tmp/qmp.sock.
start_qemu() {
	local q=$1
	shift
	rm -f "$tmp/qmp.sock"
	"$q" -S -nodefaults -display none -m 64M "$@" \
		-qmp "unix:$tmp/qmp.sock,server=on,wait=off" >"$tmp/qemu.log" 2>&1 &
	qpid=$!
	wait_for 10 test -S "$tmp/qmp.sock"
}
stop_qemu() {
	kill "$qpid" 2>/dev/null
	wait "$qpid" 2>/dev/null
	qpid=
	rm -f "$shm" "$disk_ram"
}

# check NAME pass|REGEX [qemu-says skipped|copied] -- QEMU ARGS...
check() {
	local name=$1 want=$2 oracle=
	shift 2
	if [ "$1" != -- ]; then oracle=$2; shift 2; fi
	shift
	if ! start_qemu "$@"; then
		fail "$name" "QEMU did not start: $(tail -n 2 "$tmp/qemu.log" | tr '\n' ' ')"
		stop_qemu
		return
	fi
	[ -z "${setup:-}" ] || eval "$setup"
	"$ctl" qemu-check "$tmp/qmp.sock" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$want" = pass ]; then
		if [ $rc = 0 ] && grep -q "kvmmig can move its memory" "$tmp/out"; then
			pass "$name: accepted"
		else
			fail "$name: accepted" "exit $rc: $(cat "$tmp/err" "$tmp/out" | tr '\n' ' ')"
		fi
	elif [ $rc = 1 ] && grep -Eq -- "$want" "$tmp/err" && [ "$(grep -c . "$tmp/err")" = 1 ]; then
		pass "$name: refused ($(grep -Eo -- "$want" "$tmp/err" | head -n 1))"
		# migrate --qemu refuses it too, before it connects anywhere
		# (nothing listens on port 9: getting that far would say so).
		"$ctl" migrate --qemu "$tmp/qmp.sock" 127.0.0.1:9 --insecure >"$tmp/mout" 2>"$tmp/merr"
		local mrc=$?
		if [ $mrc = 1 ] && grep -Eq -- "refused: .*($want)" "$tmp/merr" &&
			! grep -q "connection" "$tmp/merr"; then
			pass "$name: migrate --qemu refuses it before connecting"
		else
			fail "$name: migrate --qemu refuses it before connecting" "exit $mrc: $(tr '\n' ' ' <"$tmp/merr")"
		fi
	else
		fail "$name: refused for /$want/" "exit $rc: $(cat "$tmp/err" "$tmp/out" | tr '\n' ' ')"
	fi
	if [ -n "$oracle" ]; then
		local total
		total=$(python3 "$qmp" "$tmp/qmp.sock" ram-migrated 2>&1)
		if [[ "$total" =~ ^[0-9]+$ ]] &&
			{ { [ "$oracle" = skipped ] && [ "$total" -lt $((4 << 20)) ]; } ||
				{ [ "$oracle" = copied ] && [ "$total" -gt $((60 << 20)) ]; }; }; then
			pass "$name: QEMU agrees, it $oracle the guest RAM (ram.total $total)"
		else
			fail "$name: QEMU agrees, it $oracle the guest RAM" "ram.total: $total"
		fi
	fi
	stop_qemu
}

file_backend() { # file_backend PATH SHARE
	echo "-object memory-backend-file,id=mem,size=64M,mem-path=$1,share=$2 -machine memory-backend=mem"
}
memfd_backend="-object memory-backend-memfd,id=mem,size=64M -machine memory-backend=mem"

qemu10=${KVMMIG_QEMU10:-/var/cache/kvmmig/qemu10/usr/bin/qemu-system-x86_64}
qemus=("7.2 qemu-system-x86_64")
if [ -x "$qemu10" ]; then
	qemus+=("10.0 $qemu10")
else
	echo "SKIP: qemu-check under QEMU 10.0: no $qemu10 (scripts/install-deps unpacks it)"
fi

for entry in "${qemus[@]}"; do
	v=${entry%% *}
	q=${entry#* }
	# shellcheck disable=SC2046 # the backend options are words
	if start_qemu "$q" -accel kvm $(file_backend "$shm" on) &&
		"$client" "$tmp/qmp.sock" >"$tmp/client.out" 2>&1 &&
		grep -q "ok: QEMU refused no-such-command: CommandNotFound" "$tmp/client.out" &&
		grep -Eq "ok: MIGRATION events: setup active .*completed$" "$tmp/client.out"; then
		pass "QEMU $v: the QMP client maps QEMU's error and follows MIGRATION events to completed"
	else
		fail "QEMU $v: the QMP client maps QEMU's error and follows MIGRATION events to completed" \
			"$(tr '\n' ' ' <"$tmp/client.out")"
	fi
	stop_qemu
	check "QEMU $v, memory-backend-file on /dev/shm, share=on" pass qemu-says skipped -- \
		"$q" -accel kvm $(file_backend "$shm" on)
	check "QEMU $v, -m only (memory-backend-ram)" "memory-backend-ram" qemu-says copied -- \
		"$q" -accel kvm
	check "QEMU $v, memory-backend-file, share=off" "is not shared" qemu-says copied -- \
		"$q" -accel kvm $(file_backend "$shm" off)
	if [ "$v" = 7.2 ]; then
		check "QEMU $v, memory-backend-memfd" pass qemu-says skipped -- \
			"$q" -accel kvm $memfd_backend
	else
		check "QEMU $v, memory-backend-memfd" "is memory-backend-memfd: QEMU 10.0 copies it" \
			qemu-says copied -- "$q" -accel kvm $memfd_backend
	fi
	check "QEMU $v, memory-backend-file on a disk file system" "not on tmpfs" -- \
		"$q" -accel kvm $(file_backend "$disk_ram" on)
	check "QEMU $v, TCG" "start it with -accel kvm" -- "$q" -accel tcg $(file_backend "$shm" on)
	if [ "$ring_supported" = 1 ]; then
		check "QEMU $v, KVM dirty ring" "uses KVM's dirty ring" -- \
			"$q" -accel kvm,dirty-ring-size=4096 $(file_backend "$shm" on)
	else
		echo "SKIP: QEMU $v, KVM dirty ring: this kernel's KVM has no dirty ring"
	fi
	setup='python3 "$qmp" "$tmp/qmp.sock" migrate-set-capabilities "{\"capabilities\":[{\"capability\":\"postcopy-ram\",\"state\":true}]}" >/dev/null'
	check "QEMU $v, postcopy-ram on" "postcopy-ram is on" -- "$q" -accel kvm $(file_backend "$shm" on)
	# Another process maps guest RAM (as a vhost-user backend would).
	setup='rm -f "$tmp/holder"; python3 -c "import mmap, os, sys, time
f = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(f, 4096)
print(\"mapped\", flush=True)
time.sleep(60)" "$shm" >"$tmp/holder" & holder=$!; wait_for 10 grep -q mapped "$tmp/holder"'
	check "QEMU $v, guest RAM mapped by another process" "also mapped by process [0-9]+ \(python3\)" -- \
		"$q" -accel kvm $(file_backend "$shm" on)
	kill "$holder" 2>/dev/null
	holder=
	setup=
	# SMM as QEMU reports it: TCG has SMM (KVM here may not), so smm=on starts.
	# shellcheck disable=SC2046
	if start_qemu "$q" -accel tcg -machine pc,smm=on $(file_backend "$shm" on); then
		"$ctl" qemu-check "$tmp/qmp.sock" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc = 1 ] && grep -q "System Management Mode (smm=on)" "$tmp/err"; then
			pass "QEMU $v, -machine smm=on: refused (System Management Mode)"
		else
			fail "QEMU $v, -machine smm=on: refused (System Management Mode)" "exit $rc: $(tr '\n' ' ' <"$tmp/err")"
		fi
	else
		fail "QEMU $v, -machine smm=on: refused (System Management Mode)" "QEMU did not start"
	fi
	stop_qemu
done

# --json: one object per line, "refused" per reason, then "checked".
json_ok() {
	"$ctl" qemu-check "$tmp/qmp.sock" --json 2>/dev/null | python3 -c 'import json, sys
objs = [json.loads(l) for l in sys.stdin]
want_ok = sys.argv[1] == "ok"
refused = [o for o in objs if o["event"] == "refused"]
assert objs[-1]["event"] == "checked" and objs[-1]["ok"] == want_ok, objs
assert (len(refused) == 0) == want_ok and objs[-1]["refusals"] == len(refused), objs
assert objs[-1]["ram_bytes"] == 64 << 20, objs' "$1"
}
# shellcheck disable=SC2046
if start_qemu qemu-system-x86_64 -accel kvm $(file_backend "$shm" on) && json_ok ok; then
	stop_qemu
	if start_qemu qemu-system-x86_64 -accel kvm $(file_backend "$shm" off) && json_ok refused; then
		pass "qemu-check --json: valid lines, checked ok or refused with its reasons"
	else
		fail "qemu-check --json: valid lines, checked ok or refused with its reasons" "refused case"
	fi
else
	fail "qemu-check --json: valid lines, checked ok or refused with its reasons" "good case"
fi
stop_qemu

# A QEMU neither running nor paused (-S: prelaunch; likewise internal-error,
# guest-panicked) has nothing to migrate, and migrate --qemu must not claim
# the guest runs at the source: it says QEMU's state.
start_qemu qemu-system-x86_64 -accel kvm $(file_backend "$shm" on)
"$ctl" migrate --qemu "$tmp/qmp.sock" 127.0.0.1:9 --insecure >"$tmp/mout" 2>"$tmp/merr"
if [ $? = 1 ] && grep -q 'QEMU is prelaunch, not running or paused: nothing to migrate; the guest is NOT running on the source: QEMU is prelaunch$' "$tmp/merr"; then
	pass "migrate --qemu of a stopped QEMU (prelaunch) says the guest is not running, QEMU's state named"
else
	fail "migrate --qemu of a stopped QEMU (prelaunch) says the guest is not running, QEMU's state named" "$(tr '\n' ' ' <"$tmp/merr")"
fi
stop_qemu

# Not a QMP socket at all, and no socket: exit 2 with the reason.
expect_output "qemu-check: no socket is one line saying how to start QEMU" \
	"cannot reach QEMU's QMP socket .*-qmp unix:" "$ctl" qemu-check "$tmp/none.sock"
finish
