#!/bin/bash
# linux-boot-loop.sh: boots the 2-vCPU Linux guest of tests/vm/linux.sh (Debian's bzImage, the
# test initramfs) in kvmmig-vm again and again inside one test host, kvmmig.ko never loaded, and
# counts the boots that die. CI saw one such boot end in "guest shutdown (triple fault)" during
# the kernel's i8042 probe: with no migration code anywhere, that death is the VMM's or the test
# host's. Each death prints the last KVM events of the vCPU thread that shut down (tests/flight.sh).
#
#   tests/stress/linux-boot-loop.sh [--kernel 6.1|6.12] [--seconds S] [--cpus N] [--load N]
#
# Slow (15-30 s a boot): not in tests/run.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/stress/lib.sh

kver=6.1 seconds=1200 cpus=2 load=0
args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kver=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--load) load=$2; shift 2 ;;
	*) echo "usage: $0 [--kernel K] [--seconds S] [--cpus N] [--load N]" >&2; exit 2 ;;
	esac
done

if [ -z "${KVMMIG_TESTHOST:-}" ]; then
	. tests/vm/vmlib.sh
	vm_build
	# The scratch dir keeps the whole flight recorder trace of each death.
	scratch=$PWD/build/boot-loop/$(date +%Y%m%d-%H%M%S)
	mkdir -p "$scratch"
	echo "info: the trace of each death goes to $scratch"
	run_in_testhost $((seconds + 420)) --scratch "$scratch" -- tests/stress/linux-boot-loop.sh "${args[@]}"
fi

. tests/vm/vmlib.sh
. tests/flight.sh
vm_build
TEST_SUFFIX=" [$(uname -r)]"
kernel=$repo/build/testhost/$(uname -r)/boot/vmlinuz-$(uname -r)
initrd=$build/guests/linux-initramfs.cpio.gz
append="console=ttyS0 reboot=k panic=-1"
up() { grep -q "userspace up, $cpus CPUs" "$vm_tmp/$1.out" && grep -q '^memcounter: counter' "$vm_tmp/$1.out"; }
alive() { kill -0 "$(vm_pid "$1")" 2>/dev/null; }
up_or_dead() { up "$1" || ! alive "$1"; }

busy_loops "$load"
trap 'kill ${load_pids[*]} 2>/dev/null; flight_stop; vm_cleanup' EXIT
flight_start 4096

t0=$(date +%s) n=0 deaths=0 emulator=0 hangs=0
while [ $(($(date +%s) - t0)) -lt "$seconds" ]; do
	n=$((n + 1))
	name=b$n
	"$vm_bin" -v --name $name --console "file:$vm_tmp/$name.out" --cpus "$cpus" --mem 160M \
		--kernel "$kernel" --initrd "$initrd" --append "$append" 2>"$vm_tmp/$name.err" &
	vm_pids+=($!)
	eval "vm_pid_$name=$!"
	b0=$(date +%s)
	wait_for 300 up_or_dead $name
	if up $name; then
		echo "info: boot $n up in $(($(date +%s) - b0)) s"
		vm_ctl $name quit >/dev/null
		vm_wait_exit $name 20
	elif ! alive $name; then
		deaths=$((deaths + 1))
		echo "info: boot $n died after $(($(date +%s) - b0)) s: $(grep -h 'VM stopped' "$vm_tmp/$name.err" | head -n 1)"
		echo "info:   console: $(tail -n 3 "$vm_tmp/$name.out" | tr '\n' ' ')"
		echo "info:   $(flight_detail 60 | tr '|' '\n' | sed 's/^/info:     /')"
		verdict=$(emulator_verdict boot)
		echo "info:   verdict: $verdict"
		echo "info:   host modules: $(awk '{print $1 "@" $6 "+" $2}' /proc/modules | tr '\n' ' ')"
		[ -n "$verdict" ] && emulator=$((emulator + 1))
		[ -n "${KVMMIG_SCRATCH:-}" ] && cp $flight/trace "$KVMMIG_SCRATCH/boot-$n.trace" &&
			cp "$vm_tmp/$name.out" "$KVMMIG_SCRATCH/boot-$n.console"
		flight_stop
		flight_start 4096
	else
		hangs=$((hangs + 1))
		echo "info: boot $n neither up nor dead in 300 s: $(tail -n 2 "$vm_tmp/$name.out" | tr '\n' ' ')"
		vm_ctl $name quit >/dev/null
		vm_wait_exit $name 20
	fi
	rm -f "$vm_tmp/$name.out" "$vm_tmp/$name.err"
done
echo "info: $n boots of a $cpus-vCPU Linux guest in $(($(date +%s) - t0)) s: $deaths died ($emulator named the emulator's), $hangs hung"
if [ $deaths = 0 ] && [ $hangs = 0 ]; then
	pass "$n boots of a $cpus-vCPU Linux guest, none died or hung"
else
	fail "$n boots of a $cpus-vCPU Linux guest, none died or hung" "$deaths died, $hangs hung"
fi
