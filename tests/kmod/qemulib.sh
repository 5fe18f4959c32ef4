# qemulib.sh: sourced by the tests that run a QEMU/KVM Linux guest
# (tests/kmod/qemu.sh on one test host, tests/twohost/qemu.sh across two),
# after tests/lib.sh, with $tmp (a directory of the test's own) and $qemu
# (the QEMU binary) set. The guest: Debian's bzImage and tests/guests/qemu's
# initramfs (memcounter writing memory, diskcheck reading a virtio-blk disk
# of known contents into memory with O_DIRECT and checking it), started by
# start_qemu; qemu_cleanup kills every QEMU it started.

# qemu_guest_kver: the kernel the guest boots: Debian 12's bookworm-backports
# 6.12 whatever the test host runs (the newest cached), else the test host's
# own, else any cached one. Not 7.3: as this nested guest under QEMU 7.2 in
# a 7.3 test host it panics at boot ("Attempted to kill the idle task", CR2
# 0x10, before any kvmmig step).
qemu_guest_kver() {
	local k
	for k in $(ls build/testhost 2>/dev/null | grep -x '6\.12\.[0-9]*+deb12-amd64' | sort -V -r) \
		"$(uname -r)" $(ls build/testhost 2>/dev/null); do
		if [ -f "build/testhost/$k/boot/vmlinuz-$k" ] && [ -f "build/testhost/$k/lib/modules/$k/modules.dep" ]; then
			echo "$k"
			return
		fi
	done
	uname -r
}

# qemu_guest KVER: $kernel, the bzImage of KVER from build/testhost/KVER, and
# $initrd, the guest's initramfs with KVER's virtio modules appended as a
# second cpio; the disk image at $tmp/disk.img.
qemu_guest() {
	local kver=$1 mods base f m
	kernel=build/testhost/$kver/boot/vmlinuz-$kver
	mods=build/testhost/$kver/lib/modules/$kver
	base=build/guests/qemu-initramfs.cpio.gz
	if ! [ -f "$base" ]; then
		base=$tmp/base.gz
		tests/guests/qemu/mkinitramfs.sh "$base"
	fi
	mkdir -p "$tmp/extra/lib/modules/$kver"
	cp "$mods/modules.dep" "$tmp/extra/lib/modules/$kver/"
	for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
		failover net_failover virtio_net; do
		f=$(grep -o "^kernel/[^:]*/$m\.ko[^:]*" "$mods/modules.dep")
		[ -n "$f" ] || continue # built in
		mkdir -p "$tmp/extra/lib/modules/$kver/$(dirname "$f")"
		cp "$mods/$f" "$tmp/extra/lib/modules/$kver/$f"
	done
	(cd "$tmp/extra" && find . | cpio -o -H newc --quiet | gzip) >"$tmp/extra.gz"
	initrd=$tmp/initrd.gz
	cat "$base" "$tmp/extra.gz" >"$initrd"
	# The disk: 32 MiB whose block b holds in word w (b << 20 | w) ^ 0x5ca1ab1e00000000.
	# (build/guests/qemu-disk.img, made by `make guests`, saves the emulated host the work.)
	# The guest only reads it: a copy of the same contents wherever it runs.
	[ -f build/guests/qemu-disk.img ] && cp build/guests/qemu-disk.img "$tmp/disk.img" ||
		python3 tests/guests/qemu/mkdisk.py "$tmp/disk.img"
}

mem=128
qpids=()
qemu_cleanup() {
	for p in "${qpids[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -f /dev/shm/kvmmig-qemu-*
}

# start_qemu NAME [ARGS...]: QEMU with its RAM in /dev/shm/kvmmig-qemu-NAME
# (the backend x-ignore-shared skips in 7.2 and 10.0), QMP at $tmp/NAME.qmp,
# the serial console in $tmp/NAME.console, its pid in $tmp/NAME.pid.
# One vCPU: the test hosts' emulator (QEMU TCG, its nested SVM) loses nested
# guests when two of the test host's vCPUs run guest code at once. Measured
# in a bookworm-backports 6.12 test host with kvmmig.ko never loaded: this
# guest with 2 vCPUs died at boot (silent reset, QEMU exit 0) 2 times in 8
# (and 1 in 2 with -accel tcg,thread=single); with 1 vCPU 16 of 16 boots
# ran. The vCPU count is QEMU's business (its stream carries vCPU state);
# kvmmig moves RAM.
# A name ending in "dst" runs $qemu_dst when set (another QEMU version at the
# destination); both run $machine (default q35). With $qnet (on or off: its
# vhost) the guest has a virtio-net NIC on a tap of its own (kqN, set up),
# which tests/kmod/netsend.py feeds (start_netsend).
guest_mac=52:54:00:6b:76:6d
ntaps=0
start_qemu() {
	local name=$1 bin=$qemu nic=() tap
	shift
	[[ $name == *dst ]] && bin=${qemu_dst:-$qemu}
	# (A socket left by an earlier QEMU of that name would pass the wait below.)
	rm -f "$tmp/$name.qmp"
	if [ -n "${qnet:-}" ]; then
		ntaps=$((ntaps + 1))
		tap=kq$ntaps
		nic=(-netdev tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=$qnet
			-device virtio-net-pci,netdev=n0,mac=$guest_mac)
	fi
	"$bin" -enable-kvm -M "${machine:-q35}",smm=off -cpu host -smp 1 -m ${mem}M \
		-object memory-backend-file,id=ram0,size=${mem}M,mem-path=/dev/shm/kvmmig-qemu-$name,share=on \
		-machine memory-backend=ram0 -nodefaults -no-user-config -display none -vga none \
		-serial file:"$tmp/$name.console" -no-reboot \
		-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 quiet panic=-1" \
		-drive file="$tmp/disk.img",format=raw,if=none,id=d0,cache=writeback \
		-device virtio-blk-pci,drive=d0 \
		"${nic[@]}" -qmp unix:"$tmp/$name.qmp",server=on,wait=off "$@" 2>"$tmp/$name.err" &
	qpids+=($!)
	echo $! >"$tmp/$name.pid"
	wait_for 30 test -S "$tmp/$name.qmp"
	[ -z "${qnet:-}" ] || wait_for 10 ip link set "$tap" up
}
# quit_qemu NAME: QEMU NAME (start_qemu) killed, gone with its RAM file.
quit_qemu() {
	kill -9 "$(cat "$tmp/$1.pid")" 2>/dev/null
	wait "$(cat "$tmp/$1.pid")" 2>/dev/null
	rm -f "/dev/shm/kvmmig-qemu-$1"
}
# start_netsend: the modules start_qemu's NICs need (tun, vhost_net) and
# tests/kmod/netsend.py sending to every kq* tap that is up, 50 datagrams a
# second, until stop_netsend.
netsend_pid=
start_netsend() {
	modprobe tun && modprobe vhost_net || return 1
	python3 tests/kmod/netsend.py kq "$guest_mac" 7777 50 &
	netsend_pid=$!
}
stop_netsend() {
	[ -z "$netsend_pid" ] || { kill "$netsend_pid" 2>/dev/null; wait "$netsend_pid" 2>/dev/null; }
	netsend_pid=
}
# qemu_vhost NAME: true when QEMU NAME's NIC runs on vhost-net (it holds
# /dev/vhost-net open: a vhost worker writes the guest's receive buffers).
qemu_vhost() {
	ls -l /proc/"$(cat "$tmp/$1.pid")"/fd 2>/dev/null | grep -q /dev/vhost-net
}
count() { grep -c "$1" "$2" 2>/dev/null || true; }
# net_packets NAME: the datagrams QEMU NAME's guest has received and found
# exact so far (netcheck's last count; 0 before its first).
net_packets() {
	local n
	n=$(grep -o 'netcheck: packets [0-9]* ok' "$tmp/$1.console" 2>/dev/null | tail -n 1 | cut -d' ' -f3)
	echo "${n:-0}"
}
# net_at_least NAME N: QEMU NAME's guest has received N exact datagrams.
net_at_least() { [ "$(net_packets "$1")" -ge "$2" ]; }
# boot_qemu NAME [SECONDS]: QEMU NAME (start_qemu) up to its workloads
# checking ok (diskcheck three times, memcounter once, with $qnet netcheck
# having received datagrams) within SECONDS
# (default 240); true if they did. A guest whose QEMU exits before that died
# before any migration touched it, on the emulator (docs/TESTING.md: nested
# guests die at boot a few times in a hundred with kvmmig.ko never loaded):
# it boots once more, said in an info line (not in tests/retry.sh's words: a
# guest booted again must not license a rerun of the script's real failures).
# Otherwise $booted_why says why.
# (Needs tests/flight.sh, its recorder started.)
boot_qemu() {
	local name=$1 secs=${2:-240} try pid rc
	for try in 1 2; do
		start_qemu "$name"
		pid=$(cat "$tmp/$name.pid")
		wait_for "$secs" sh -c "! kill -0 $pid || { [ \$(grep -c 'diskcheck: step .* ok' $tmp/$name.console) -ge 3 ] && grep -q 'memcounter: counter .* ok' $tmp/$name.console && { [ -z '${qnet:-}' ] || grep -q 'netcheck: packets [1-9][0-9]* ok' $tmp/$name.console; }; }"
		[ "$(count 'diskcheck: step .* ok' "$tmp/$name.console")" -ge 3 ] &&
			[ "$(count 'memcounter: counter .* ok' "$tmp/$name.console")" -ge 1 ] &&
			{ [ -z "${qnet:-}" ] || [ "$(net_packets "$name")" -gt 0 ]; } && return 0
		rc=running
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; rc="exited $?"; }
		booted_why="QEMU $rc; console: $(tail -n 5 "$tmp/$name.console" | tr '\n' ' ') QEMU: $(tail -n 3 "$tmp/$name.err" | tr '\n' ' ')$(flight_verdict)"
		[ "$rc" != running ] && [ $try = 1 ] || break
		echo "info: the guest of $name died at boot, before any migration touched it ($booted_why): the emulator's; booting it once more"
		flight_restart # (the recorder stopped at that death)
		rm -f "/dev/shm/kvmmig-qemu-$name" "$tmp/$name.qmp"
		mv "$tmp/$name.console" "$tmp/$name.console.died"
	done
	kill -9 "$pid" 2>/dev/null
	return 1
}
# qmp_status QMP: the run state QEMU reports (running, postmigrate, ...).
qmp_status() {
	timeout 30 python3 - "$1" <<'EOF' 2>&1
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", "query-status"):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(r.get("return", {}).get("status", r))
EOF
}
# qemu_state NAME: whether QEMU NAME still runs and its run state, for a
# failure's message.
qemu_state() {
	local pid
	pid=$(cat "$tmp/$1.pid")
	# (An exit with the guest's shutdown in the flight recorder: its last KVM
	# events; the console's last lines say whether its kernel panicked.)
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; echo "QEMU exited ($?): $(tail -n 2 "$tmp/$1.err" | tr '\n' ' '); console: $(tail -n 4 "$tmp/$1.console" | tr '\n' ' ')$(flight_verdict 2>/dev/null)"; return; }
	echo "QEMU runs, status $(qmp_status "$tmp/$1.qmp" | tail -n 1)"
}
