# flight.sh: a KVM flight recorder for tests that run guests inside a test
# host: a small trace ring of every VM's exits, NPT faults, injected
# exceptions and interrupts, and MMU-notifier unmaps, frozen by the first
# shutdown exit (a triple fault: SVM exit code 0x7f), so a guest that
# triple-faulted leaves what led there. Sourced after tests/lib.sh.
#
#   flight_start [KB]   start it (ring of KB per CPU, default 1024)
#   flight_detail [N [PID]]  the last N (default 16) events of the vCPU thread
#                       that stopped it, and the last unmaps; nothing if it
#                       runs; with PID, only if that thread was PID's (the
#                       recorder stops at the first shutdown: a second death
#                       must not be read in the first one's trace)
#   flight_restart      start it afresh once a death in it has been described
#   flight_stop         remove it
#   flight_hold         once per boot (tests/testhost.d/stage2): its events
#                       held enabled, so that starting and stopping it patch
#                       no kernel text
#   emulator_rips FILE  names each guest RIP of FILE that is host kernel text
#   tables_intact ERRFILE  a payload VMM's post mortem found its tables intact
#   emulator_verdict [boot|intact|source|restored|qemu-source [PID]], flight_verdict [same]:
#                       whose fault a death was (PID: the dead guest's VMM)
tracing=/sys/kernel/tracing
[ -d $tracing/events/kvm ] || tracing=/sys/kernel/debug/tracing
flight=$tracing/instances/kvmmig-flight

flight_events="kvm_exit kvm_page_fault kvm_inj_exception kvm_inj_virq kvm_unmap_hva_range"

# flight_events_on INSTANCE: the recorder's events, with each line's
# process (record-tgid: the VMM whose vCPU shut down), on in INSTANCE.
flight_events_on() {
	local e
	[ -w "$1/options/record-tgid" ] && echo 1 >"$1/options/record-tgid"
	for e in $flight_events; do
		[ -w "$1/events/kvm/$e/enable" ] && echo 1 >"$1/events/kvm/$e/enable"
	done
}
flight_start() {
	mkdir -p $flight 2>/dev/null && [ -w $flight/events/kvm/kvm_exit/trigger ] || return 0
	echo "${1:-1024}" >$flight/buffer_size_kb
	flight_events_on $flight
	echo 'traceoff if exit_reason == 127' >$flight/events/kvm/kvm_exit/trigger
}
# A tracepoint patches kernel text on every CPU (its static key, its static
# call) when its probes go from 0 to 1 to 2 and back, never between 2 and
# more; each trace instance that enables an event adds one probe (and
# record-tgid holds sched_switch's the same way). Under QEMU TCG with nested
# SVM a text patch now and then leaves a vCPU running stale text: a 6.1
# test host froze in CI (December 2026) as async.sh's exit stopped the
# recorder, CPU 0 re-entering the int3 handler, CPU 1 patching. Two
# instances that record nothing (tracing off, 4 KiB rings) hold each event
# at 2 probes for the rest of the boot, so flight_start and flight_stop
# patch nothing; stage2's VM keeper does the same for KVM's own keys.
flight_hold() {
	local i
	for i in 0 1; do
		mkdir -p $tracing/instances/kvmmig-hold$i 2>/dev/null || return 0
		echo 0 >$tracing/instances/kvmmig-hold$i/tracing_on
		echo 4 >$tracing/instances/kvmmig-hold$i/buffer_size_kb
		flight_events_on $tracing/instances/kvmmig-hold$i
	done
}
flight_stop() {
	[ -d $flight ] || return 0
	echo '!traceoff if exit_reason == 127' >$flight/events/kvm/kvm_exit/trigger
	echo 0 >$flight/events/enable
	rmdir $flight
}
flight_restart() {
	flight_stop
	flight_start "$@"
}
# shutdown_tid: the vCPU thread whose shutdown exit stopped the recorder;
# shutdown_pid: its process (record-tgid; empty on a kernel without it).
shutdown_tid() {
	sed -n 's/^ *[^ ]*-\([0-9]*\) .*kvm_exit: .*reason shutdown.*/\1/p' $flight/trace | head -n 1
}
shutdown_pid() {
	sed -n 's/^ *[^ ]*-[0-9]* *( *\([0-9]*\)) .*kvm_exit: .*reason shutdown.*/\1/p' $flight/trace | head -n 1
}
# shutdown_of [PID]: true if the recorder stopped at a shutdown of PID's
# guest (without PID: at any shutdown).
shutdown_of() {
	[ -n "$(shutdown_tid)" ] || return 1
	[ -z "${1:-}" ] || [ "$(shutdown_pid)" = "$1" ]
}
# thread_lines TID: the recorder's lines of thread TID (with or without a TGID column).
thread_lines() {
	grep -E -- "-$1 +(\( *[0-9-]+\) +)?\[" $flight/trace
}
flight_detail() { # [N [PID]]
	local tid
	[ -r $flight/trace ] && [ "$(cat $flight/tracing_on)" = 0 ] || return
	if ! shutdown_of "${2:-}"; then
		[ -n "$(shutdown_tid)" ] && printf '; no KVM events of its own: the recorder had stopped at the shutdown of another VMM (pid %s)' "$(shutdown_pid)"
		return
	fi
	tid=$(shutdown_tid)
	printf '; last KVM events of the vCPU thread %s: %s' "$tid" \
		"$(thread_lines "$tid" | tail -n "${1:-16}" | sed 's/^.*\] [^ ]* *[0-9.]*: //' | tr '\n' '|')"
	printf '; last unmaps: %s' "$(grep kvm_unmap_hva_range $flight/trace | tail -n 3 | sed 's/^.*: //' | tr '\n' '|')"
}
# emulator_rips FILE: each guest RIP of FILE's kvm_exit trace lines or KVM
# kernel messages ("guest rIP: 0x...") that lies in this host's kernel text
# (_stext.._etext) or in a loaded module, named as the emulated CPU handing
# the guest host state. No payload guest can be there (they run at 0x100000,
# identity-mapped), nor the test Linux guest's own code but by chance: its
# initramfs loads no module, and its KASLR'd text rarely lands on the host's.
emulator_rips() {
	local rip sym
	for rip in $(sed -n -e 's/.*kvm_exit: .* rip 0x\(ffff[0-9a-f]\{12\}\) .*/\1/p' \
		-e 's/.*guest rIP: 0x\(ffff[0-9a-f]\{12\}\) .*/\1/p' "$1" | sort -u); do
		host_text "$rip" || continue
		sym=$(awk -v r="$rip" '($2 == "t" || $2 == "T") && $1 <= r && $1 > b {b = $1; n = $3 " " $4} END {print n}' /proc/kallsyms)
		printf '(the guest RIP 0x%s is the host kernel'"'"'s %s: a fault of the emulator (QEMU TCG)) ' "$rip" "$sym"
	done
}
# host_text ADDR (hex, no 0x): ADDR is in this kernel's text or a module's.
# (Kernel addresses are negative as bash's 64-bit integers: u() flips the
# sign bit so that < and >= compare them as unsigned.)
host_text() {
	local a name size base stext etext
	u() { echo $(((16#${1#0x}) ^ (1 << 63))); }
	a=$(u "$1")
	read -r stext _ < <(grep ' _stext$' /proc/kallsyms)
	read -r etext _ < <(grep ' _etext$' /proc/kallsyms)
	[ -n "$stext" ] && [ "$a" -ge "$(u "$stext")" ] && [ "$a" -lt "$(u "$etext")" ] && return 0
	while read -r name size _ _ _ base _; do
		[ "$a" -ge "$(u "$base")" ] && [ "$a" -lt $(($(u "$base") + size)) ] && return 0
	done </proc/modules
	return 1
}
# tables_intact ERRFILE: the VMM's post mortem found the payload's page
# tables and boot GDT as it wrote them (user/vm/payload.c).
tables_intact() {
	grep -q "post mortem: the payload's page tables ([^)]*): intact" "$1" &&
		grep -q "post mortem: the boot GDT: intact" "$1"
}
# emulator_verdict [boot|intact|qemu-source]: for a guest that died: the emulator named
# when the shut-down vCPU's RIP was the host's (tests/run runs a test host
# once more on that verdict, and only on it), or when it died on a page
# fault no page walk produces (impossible_pf); nothing otherwise. Also when
# the guest could not fetch the very instruction it was executing at its
# last exit (lost_own_code), or died as an interrupt was delivered where
# another had just been (lost_delivery), and its memory is known not to be
# the cause:
# "boot", a guest no migration session has touched (it is booting; seen: a
# rep movs of Linux's early boot, after four NPF exits at that RIP), or
# "intact", a payload guest whose VMM's post mortem found its page tables
# and GDT in memory exactly as the VMM wrote them (seen: a migrated guest,
# its memory digest verified, after NPF exits on fresh pages at that RIP;
# and the same death, NPF exits, RIP and error code alike, in a test host
# where kvmmig.ko was never loaded, of a fresh payload with a second guest
# running beside it: tests/stress/first-touch-loop.sh --neighbour, 1 in 223
# on 7.3 under QEMU 7.2, while 822 fresh payloads started alone lost none).
# Or "source", any guest at a migration's source that is not booting: the
# source module and tool read guest memory and never write it (KVM
# write-protects it for them), so between two VM entries nothing of
# kvmmig's can take a guest's code page out of its page tables. Seen: a
# payload guest (tests/tools/dirtier, kvmmig-vm's) dying in round 0, when
# KVM_CLEAR_DIRTY_LOG makes it take a write-protection NPF per page.
# Or "restored", a Linux guest kvmmig-vm restored from its own save (tests/
# vm/linux.sh, tests/stress/linux-restore-loop.sh): once it runs nothing
# but the guest writes its memory (a serial console; no DMA device, no
# kvmmig.ko), so its code cannot leave its page tables between two entries
# but by the emulator. Seen: vCPU 1 of a 2-vCPU restore, a triple fault
# 224 ms after the resume (1 in 33 cycles on a loaded machine, December 2026).
# Or "qemu-source", a QEMU guest at the source of a migration. Its memory
# is not known intact (QEMU's device models write it), but nothing of
# kvmmig writes it (the source module and tool only read the RAM file), and
# the same guest dies the same way with kvmmig.ko never loaded: QEMU's own
# migrations, cancelled at pre-switchover and the guest resumed
# (tests/stress/qemu-cancel-loop.sh, bookworm-backports' 6.12 test host,
# December 2026), lost it 5 times in about 150 cancels under QEMU 7.2.22
# and 10.0.2, each a not-present instruction fetch at the RIP of its NPF
# exit before or the host's RIP handed to the guest.
emulator_verdict() { # [boot|intact|source|restored|qemu-source [PID]]
	[ -r $flight/trace ] || return 0
	emulator_rips <(grep 'reason shutdown' $flight/trace)
	impossible_pf "${2:-}"
	case ${1:-} in
	boot) flight_lost_code "no migration session had touched it" "${2:-}" ;;
	intact) flight_lost_code "its page tables and GDT in memory intact (its VMM's post mortem)" "${2:-}" ;;
	qemu-source) flight_lost_code "a QEMU guest at a migration's source, which kvmmig only reads, lost the same way without kvmmig (tests/stress/qemu-cancel-loop.sh)" "${2:-}" ;;
	source) flight_lost_code "a guest at a migration's source, whose memory kvmmig.ko only reads (its page tables cannot have changed under it)" "${2:-}" ;;
	restored) flight_lost_code "a restored guest whose VMM writes none of its memory once it runs (kvmmig-vm's serial console only, kvmmig.ko not loaded)" "${2:-}" ;;
	esac
}
# flight_lost_code WHY [PID]: lost_own_code on the shut-down vCPU's last two
# exits; with PID, only if that vCPU was PID's.
flight_lost_code() {
	local lines
	[ -r $flight/trace ] && shutdown_of "${2:-}" || return 0
	lines=$(thread_lines "$(shutdown_tid)")
	grep 'kvm_exit:' <<<"$lines" | tail -n 2 | lost_own_code "$1"
	grep -E 'kvm_exit:|kvm_inj_virq:' <<<"$lines" | tail -n 40 | lost_delivery "$1"
}
# flight_verdict [boot|intact|qemu-source [PID]]: emulator_verdict, then the shut-down
# vCPU's last KVM events.
flight_verdict() {
	printf '%s %s' "$(emulator_verdict "$@")" "$(flight_detail 12 "${2:-}")"
}
# impossible_pf [PID]: names the emulator, whatever the guest's memory
# held, if the vCPU (PID's) shut down delivering a page fault whose error
# code no page walk produces: RSVD (bit 3) without P (bit 0). Reserved bits
# are checked only in present entries, so a reserved-bit fault has P set
# (KVM's own walker, emulating an access, sets both as well). Seen: a QEMU
# guest at a good hop's destination (qemu10.sh, QEMU 10.0, CI of December
# 2026), error code 0x1c after NPF exits on fresh pages at the same RIP.
impossible_pf() {
	local err
	shutdown_of "${1:-}" || return 0
	err=$(thread_lines "$(shutdown_tid)" | grep 'reason shutdown' | tail -n 1 |
		sed -n 's/.* intr_info 0x80000b0e error_code \(0x[0-9a-f]*\).*/\1/p')
	[ -n "$err" ] && (((err & 0x9) == 0x8)) || return 0
	printf '(the guest died on a page fault with error code %s, reserved bit without present, which no page walk produces: a fault of the emulator (QEMU TCG)) ' "$err"
}
# lost_delivery WHY: reads a vCPU's kvm_exit and kvm_inj_virq lines, the
# last its shutdown; names the emulator if the shutdown came while KVM
# delivered an external interrupt (EXITINTINFO 0x800000VV: valid, type 0,
# vector 0x20 or above) at the RIP of the exit just before (no guest
# instruction completed between), and an earlier interrupt of these lines
# was delivered (an exit at another RIP, its handler's, followed its
# injection). Both deliveries go through the same IDT page, GDT, TSS and
# kernel entry stack, which the guest set up at boot and does not change;
# kvmmig moves whole pages, so no page of its could have been right for
# the one delivery and wrong for the next. Seen: a QEMU guest at the fault
# sequence's source (qemu.sh, QEMU 7.2, CI of December 2026), IRQ 0x25
# delivered from user RIP 0x401618, then IRQ 0x28 at the same RIP a
# triple fault.
lost_delivery() {
	awk -v why="$1" '
	function rip_of(l) { return match(l, / rip 0x[0-9a-f]+ /) ? substr(l, RSTART + 5, RLENGTH - 6) : "" }
	/kvm_inj_virq:/ { injected = 1; inj_rip = last; next }
	/kvm_exit:/ {
		rip = rip_of($0)
		if ($0 ~ / reason shutdown /) {
			if (delivered && rip == last && match($0, /intr_info 0x800000[2-9a-f][0-9a-f] /))
				printf "(the guest died as KVM delivered interrupt 0x%s at %s, where it was at its exit before, through the IDT, GDT, TSS and stack that had just delivered another, %s: a fault of the emulator (QEMU TCG)) ", substr($0, RSTART + 18, 2), rip, why
			exit
		}
		if (injected && rip != inj_rip)
			delivered = 1
		injected = 0
		last = rip
	}'
}
# lost_own_code WHY: reads a vCPU's last two kvm_exit lines, the second its
# shutdown; names the emulator if the shutdown came of a not-present
# instruction-fetch #PF (EXITINTINFO 0x80000b0e, error code bit 4 set, bit 0
# clear) at the RIP of the exit just before, or (that exit one whose
# instruction KVM carried out and stepped over: an MMIO access at an NPF, a
# WRMSR or RDMSR, an IN or OUT, CPUID, HLT, VMMCALL, XSETBV) at most 15
# bytes after it on the same page: its code left its own page tables
# between two VM entries, no guest instruction completed between. Seen: a
# QEMU guest at qemu.sh's good hop source (QEMU 7.2, CI of December 2026),
# the fetch after the TSC-deadline WRMSR at 0xffffffff8c89d6e8.
lost_own_code() {
	local prev last rip prip where
	read -r prev || return 0
	read -r last || return 0
	rip=$(echo "$last" | sed -n 's/.* rip \(0x[0-9a-f]*\) .*intr_info 0x80000b0e error_code \(0x[0-9a-f]*\).*/\1 \2/p')
	set -- "$1" $rip
	[ $# = 3 ] && (((16#${3#0x} & 0x11) == 0x10)) || return 0
	prip=$(echo "$prev" | sed -n 's/.* rip \(0x[0-9a-f]*\) .*/\1/p')
	[ -n "$prip" ] || return 0
	if [ "$prip" = "$2" ]; then
		where="at $2 it was executing at its exit before"
	elif [[ $prev =~ \ reason\ (npf|msr|io|cpuid|hlt|vmmcall|xsetbv)\  ]] && (($2 > prip && $2 - prip <= 15 && ($2 >> 12) == (prip >> 12))); then
		where="at $2, right after the one at $prip KVM emulated at its exit before (the same page)"
	else
		return 0
	fi
	printf '(the guest could not fetch the instruction %s, %s: a fault of the emulator (QEMU TCG)) ' "$where" "$1"
}
