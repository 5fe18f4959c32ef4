#!/bin/bash
# emulator-control.sh [SECONDS]: a control run for the source guests that
# died by triple fault after aborted migrations, inside a test host started
# with --no-module: kvmmig.ko is never loaded. Payload guests
# like migrate.sh's vmr run for SECONDS (default 240) while their VMMs do
# what the abort paths make them do (dirty logging on and off, pause,
# resume). A guest that dies here died without kvmmig: the death rate
# compares with migrate.sh's. KVM's MSR exits are traced too: the dirtymem
# payload has no RDMSR or WRMSR, so an MSR exit at a payload RIP would be
# one the emulated CPU made up. (KVM's "Unhandled WRMSR(0x1d9)" lines at
# payload RIPs in migrate.sh's hosts are not such exits: a destination
# VMM's KVM_SET_MSRS prints them with the vCPU's RIP.) Fails if a guest died.
set -u
cd "$(dirname "$0")/../.."
MIGLIB_NO_MODULE=1
. tests/kmod/miglib.sh
secs=${1:-240}
[ -e /dev/kvmmig ] && { fail "emulator control run without kvmmig.ko" "kvmmig.ko is loaded"; exit 1; }
msrs=$tracing/instances/kvmmig-msr-exits
mkdir -p $msrs && echo 'exit_reason == 124' >$msrs/events/kvm/kvm_exit/filter &&
	echo 1 >$msrs/events/kvm/kvm_exit/enable || { fail "trace MSR exits" "no kvm_exit tracepoint"; exit 1; }
start_source ctl1 1 "pages=8192 rate=512 delay_us=300000 report_ms=100"
start_source ctl2 2 "pages=4096 rate=16 delay_us=100000 verify_every=2 report_ms=100"
end=$(($(date +%s) + secs)) n=0
while [ "$(date +%s)" -lt $end ]; do
	for g in ctl1 ctl2; do
		alive "$tmp/$g.src.pid" || continue
		python3 -c 'import socket,sys
for cmd in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((cmd + "\n").encode()); s.recv(4096); s.close()' \
			"$KVMMIG_RUN_DIR/$g.sock" "dirty-log on" pause resume "dirty-log off" 2>/dev/null
	done
	n=$((n + 1))
	sleep 1
done
echo 0 >$msrs/events/kvm/kvm_exit/enable
bogus=$(grep -c 'kvm_exit: .*rip 0x10[0-9a-f]\{4\} ' $msrs/trace)
echo "info: $n rounds of dirty-log on, pause, resume, dirty-log off per guest in $secs s, kvmmig.ko absent"
echo "info: MSR exits at payload RIPs (the payload has no RDMSR/WRMSR): $bogus;" \
	"$(sed -n 's/.*kvm_exit: .* rip \(0x[0-9a-f]*\) info \([0-9a-f]*\) .*/rip \1 info \2/p' $msrs/trace | sort | uniq -c | sort -rn | head -n 5 | tr '\n' ';')"
echo "info: KVM's own lines: $(dmesg | grep -c 'Unhandled [RW][DR]MSR') unhandled-MSR messages: $(dmesg | grep 'Unhandled [RW][DR]MSR' | tail -n 3 | tr '\n' ' ')"
for g in ctl1 ctl2; do
	if alive "$tmp/$g.src.pid"; then
		pass "control guest $g ran $secs s without kvmmig.ko: $(reports "$tmp/$g.src.log") reports"
	else
		fail "control guest $g ran $secs s without kvmmig.ko" "$(why_stopped "$tmp/$g.src.log" "$tmp/$g.src.pid")"
	fi
done
rmdir $msrs 2>/dev/null
finish
