# miglib.sh: sourced by the loopback migration tests (run inside a test
# host): a temp dir, the module loaded, payload-guest sources and incoming
# destinations, and the guest's own reports read back from its console.
. tests/lib.sh
TEST_SUFFIX=" [$(uname -r)]"
STOP_AT_EMULATOR_FAULT=1 # tests/lib.sh: fail()
# A check that fails because a test VMM is gone (the tool: "unable to reach
# the VMM of 'NAME'") says how it went, from its own log and stderr
# (why_stopped): the tool's words name only the missing socket (CI, 7.3's
# secure.sh: 'sb'; a KASAN test host: 'sa' after the wrong-key case).
eval "lib_$(declare -f fail)"
fail() {
	local why=$2 n role
	if [[ $why =~ unable\ to\ reach\ the\ VMM\ of\ \'([A-Za-z0-9_.-]+)\' ]]; then
		n=${BASH_REMATCH[1]}
		for role in src dst; do
			[ -e "$tmp/$n.$role.pid" ] || continue
			why="$why; VMM $n: $(why_stopped "$tmp/$n.$role.log" "$tmp/$n.$role.pid")"
			break
		done
	fi
	lib_fail "$1" "$why"
}
export PATH=$PWD/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
tmp=$(mktemp -d)
mkdir -p "$KVMMIG_RUN_DIR"
# The flight recorder (tests/flight.sh) keeps what led to a triple fault; it
# also sets $tracing, the tracing directory the diagnostics below read.
. tests/flight.sh
flight_start
# A trace instance records every shutdown exit (a triple fault: SVM exit
# code 0x7f) of every VM, with its guest RIP, for why_stopped: the VMM of a
# guest that triple-faulted is gone, and SVM resets the vCPU on the way.
shutdowns=$tracing/instances/kvmmig-shutdowns
if mkdir -p $shutdowns 2>/dev/null && [ -w $shutdowns/events/kvm/kvm_exit/filter ]; then
	echo 'exit_reason == 127' >$shutdowns/events/kvm/kvm_exit/filter
	echo 1 >$shutdowns/events/kvm/kvm_exit/enable
fi
cleanup() {
	pkill -9 -f 'kvmmig-ctl (migrate|incoming)' 2>/dev/null
	pkill -9 -f 'tests/kmod/(relay|fake)' 2>/dev/null
	pkill -9 kvmmig-vm 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp" "$KVMMIG_RUN_DIR"
	[ -d $shutdowns ] && echo 0 >$shutdowns/events/kvm/kvm_exit/enable && rmdir $shutdowns
	flight_stop
}
trap cleanup EXIT
# (The emulator control run, tests/stress/emulator-control.sh, never loads it.)
[ "${MIGLIB_NO_MODULE:-0}" = 1 ] || insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }

guest=build/guests/dirtymem.bin
port=7437
# A guest that dirties 16 pages every 100 ms (at most 160 pages/s) of a 16 MiB
# working set: it converges over kernel TLS, which the emulated test host
# runs at a few MB/s (AES-GCM in TCG), with room to spare.
light="pages=4096 rate=16 delay_us=100000 report_ms=100"
# Authentication is on by default: both sides hold the same key, and the
# stream runs over kernel TLS. start_dest and the migrations pass "${auth[@]}".
key=$tmp/migration.key
kvmmig-ctl keygen "$key" >/dev/null || fail "kvmmig-ctl keygen writes a key" "failed"
auth=(--key "$key")

# kvmmig_stacks: each kvmmig process and kthread with its kernel stack (8
# frames), read with shell builtins only: migrate_watched runs it every 2 s
# in the test host, where every fork and exec costs emulated CPU.
kvmmig_stacks() {
	local d comm frame frames n
	for d in /proc/[0-9]*; do
		# (2> first: a process gone since the glob fails the < redirection)
		read -r comm 2>/dev/null <"$d/comm" && [[ $comm == kvmmig* ]] || continue
		frames='' n=0
		while ((n++ < 8)) && read -r _ frame; do frames+="$frame "; done 2>/dev/null <"$d/stack"
		echo "$comm: $frames"
	done
}
# migrate_watched OUT ARGS...: kvmmig-ctl migrate ARGS >OUT, sampling every
# 2 s the kernel stacks of the session threads and tools (kvmmig-*); on
# failure the sample from about 10 s before the end is appended to OUT: a
# migration that stalled (a progress timeout) shows where it waited. With
# MIGRATE_TIMEOUT set, a tool still running after that many seconds is
# killed (a hang fails its own check instead of the whole test host).
migrate_watched() {
	local out=$1 sampler rc last
	shift
	rm -f "$tmp"/stacks.*
	while :; do
		kvmmig_stacks >"$tmp/stacks.$SECONDS"
		nap 2
	done &
	sampler=$!
	timeout -k 5 "${MIGRATE_TIMEOUT:-0}" kvmmig-ctl migrate "$@" >"$out" 2>&1
	rc=$?
	[ $rc = 124 ] || [ $rc = 137 ] && echo "the tool was still running after $MIGRATE_TIMEOUT s: killed" >>"$out"
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	if [ $rc != 0 ]; then
		last=$(ls "$tmp"/stacks.* 2>/dev/null | sort -t. -k2 -n | tail -n 6 | head -n 1)
		[ -n "$last" ] && echo "stacks at $((SECONDS - ${last##*.})) s before the end: $(tr '\n' '|' <"$last")" >>"$out"
	fi
	return $rc
}

# last_iter LOG: the highest iteration the guest reported in LOG.
last_iter() { grep -o 'iter [0-9]*' "$1" 2>/dev/null | awk '{print $2}' | sort -n | tail -n1; }
reports() { grep -c ' iter [0-9]* verifies ' "$1" 2>/dev/null; }

# $cpu_model: the VMM's --cpu (host unless the caller sets it for one call);
# vmm_opts: more options for both VMMs (hugepages.sh: --hugepages 2M).
vmm_opts=()
start_source() { # NAME CPUS APPEND [MEM]
	kvmmig-vm -v --name "$1" --cpus "$2" --mem "${4:-64M}" --cpu "${cpu_model:-host}" "${vmm_opts[@]}" \
		--payload "$guest" --append "$3" \
		--console "file:$tmp/$1.src.log" 2>"$tmp/$1.src.err" &
	echo $! >"$tmp/$1.src.pid"
	# A VMM that is not up is a failure of its own, named with why: the
	# migration after it would only say its socket is missing.
	wait_for 60 grep -q ' iter ' "$tmp/$1.src.log" ||
		fail "the source VMM of '$1' runs its guest within 60 s" "$(why_stopped "$tmp/$1.src.log" "$tmp/$1.src.pid")"
}
# port_free PORT: waits (up to 60 s) until nothing listens on PORT: the
# previous case's incoming tool, killed with its VMM, exits in its own time.
port_free() { wait_for 60 sh -c "! ss -Hltn 'sport = :$1' | grep -q ."; }
start_dest() { # NAME CPUS [MEM]
	kvmmig-vm -v --incoming --name "$1" --cpus "$2" --mem "${3:-64M}" --cpu "${cpu_model:-host}" "${vmm_opts[@]}" \
		--console "file:$tmp/$1.dst.log" 2>"$tmp/$1.dst.err" &
	echo $! >"$tmp/$1.dst.pid"
	wait_for 60 test -S "$KVMMIG_RUN_DIR/$1.sock" ||
		fail "the destination VMM of '$1' opens its control socket within 60 s" "$(why_stopped "$tmp/$1.dst.log" "$tmp/$1.dst.pid")"
	port_free $port ||
		fail "port $port is free for '$1''s incoming tool within 60 s" "$(ss -Hltnp "sport = :$port" | tr '\n' ' ')"
	kvmmig-ctl incoming "$1" --listen "127.0.0.1:$port" --timeout 120 "${auth[@]}" >"$tmp/$1.in.out" 2>&1 &
	echo $! >"$tmp/$1.in.pid"
	wait_for 60 grep -q waiting "$tmp/$1.in.out" ||
		fail "the incoming tool of '$1' waits for its source within 60 s" "$(tail -n 2 "$tmp/$1.in.out" | tr '\n' ' ')"
}
alive() { kill -0 "$(cat "$1")" 2>/dev/null; }
memfd_mib() { # PIDFILE: MiB allocated to the VMM's guest-memory memfd
	local fd
	for fd in /proc/$(cat "$1")/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		/memfd:kvmmig-guest-mem*) echo $(($(stat -L -c '%b*%B' "$fd") / 1048576)); return ;;
		esac
	done
}
# kvm_exits PIDFILE: the VM's KVM exit counters (debugfs) gained in a second.
kvm_exits() {
	local d f
	local -A before
	for d in /sys/kernel/debug/kvm/"$(cat "$1")"-*; do
		[ -d "$d" ] || continue
		for f in exits io_exits halt_exits signal_exits pf_taken; do before[$f]=$(cat "$d/$f" 2>/dev/null); done
		nap 1
		for f in exits io_exits halt_exits signal_exits pf_taken; do
			[ -n "${before[$f]}" ] && printf '%s +%d ' "${f%_*}" $(($(cat "$d/$f") - before[$f]))
		done
	done
}
# kvm_detail PIDFILE: where the VM's vCPUs are: the commonest KVM exits of 0.2 s
# of the kvm_exit tracepoint (count, thread, reason@guest rip, the first
# exit's info1/info2), and each vCPU's TSC offset and scaling ratio.
kvm_detail() {
	local d v
	if [ -w $tracing/events/kvm/kvm_exit/enable ]; then
		: >$tracing/trace
		echo 1 >$tracing/events/kvm/kvm_exit/enable
		nap 0.2
		echo 0 >$tracing/events/kvm/kvm_exit/enable
		printf 'exits: %s' "$(sed -n 's/^ *\([^ ]*\)-[0-9]* .*kvm_exit: .*reason \([^ ]*\) rip \(0x[0-9a-f]*\).*/\1 \2@\3/p' $tracing/trace |
			sort | uniq -c | sort -rn | head -n 4 | tr -s ' \n' '  ')"
		printf '(%s) ' "$(grep -m1 -o 'rip 0x[0-9a-f]* info1 [^ ]* info2 [^ ]*' $tracing/trace)"
		emulator_rips $tracing/trace
	fi
	for d in /sys/kernel/debug/kvm/"$(cat "$1")"-*; do
		for v in "$d"/vcpu*; do
			[ -d "$v" ] && printf '%s tsc-offset %s ratio %s; ' "${v##*/}" "$(cat "$v/tsc-offset" 2>/dev/null)" \
				"$(cat "$v/tsc-scaling-ratio" 2>/dev/null)"
		done
	done
}
# shutdown_detail PID [intact]: the triple faults of this test so far, what
# their RIPs are, and, from the flight recorder if it stopped at this VMM's
# (PID) shutdown, its last KVM events and (intact: the dead payload's memory
# was as its VMM wrote it) whether it lost its own code (tests/flight.sh).
# The recorder then starts afresh for the next death.
shutdown_detail() {
	[ -r $shutdowns/trace ] || return
	printf 'triple faults: %s' "$(grep -o 'kvm_exit: .* rip 0x[0-9a-f]*' $shutdowns/trace | sed 's/.* rip /rip /' | tr '\n' ' ')"
	emulator_rips $shutdowns/trace
	[ "${2:-}" = intact ] && flight_lost_code "its page tables and GDT in memory intact (its VMM's post mortem)" "$1"
	flight_detail 16 "$1"
	shutdown_of "$1" && flight_restart
}
# why_stopped LOG PIDFILE: what is known of a guest that stopped reporting: its
# console's last line; its VMM's threads, KVM exits and status if alive, its
# last words if gone; the kernel log's last lines.
why_stopped() {
	local name
	name=$(basename "$1" | cut -d. -f1)
	printf 'console (%s reports): %s; ' "$(reports "$1")" "$(tail -n 3 "$1" | tr '\n' ' ')"
	# A destination's incoming tool says why it gave up.
	case $1 in *.dst.log) [ -s "${1%.dst.log}.in.out" ] &&
		printf 'its incoming tool: %s; ' "$(tail -n 2 "${1%.dst.log}.in.out" | tr '\n' ' ')" ;;
	esac
	# A payload guest reports its own exceptions (tests/guests/fault.c).
	grep -q '^FAULT' "$1" && printf 'the guest reported: %s; ' "$(grep '^FAULT' "$1" | tr '\n' ' ')"
	if alive "$2"; then
		printf 'VMM alive: threads %s; KVM %s; %s; %s; ' "$(threads "$(cat "$2")")" "$(kvm_exits "$2")" "$(kvm_detail "$2")" \
			"$(kvmmig-ctl status "$name" 2>&1 | tr '\n' ' ')"
	else
		printf 'VMM gone: %s; %s; ' "$(tail -n 12 "${1%.log}.err" | tr '\n' ' ')" \
			"$(shutdown_detail "$(cat "$2")" "$(tables_intact "${1%.log}.err" && echo intact)")"
	fi
	dmesg >"$tmp/dmesg.why"
	printf 'dmesg: %s%s' "$(emulator_rips "$tmp/dmesg.why")" "$(tail -n 3 "$tmp/dmesg.why" | tr '\n' ' ')"
}

# runs_on LOG PIDFILE: the guest behind PIDFILE is alive and keeps reporting
# (new self-verifications within 30 s: a slow, busy test host) with no
# failure in LOG.
runs_on() {
	local n0
	n0=$(reports "$1")
	alive "$2" && wait_for 30 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $1) -gt $n0 ]" &&
		! grep -q 'failures [1-9]\|FAIL' "$1"
}
