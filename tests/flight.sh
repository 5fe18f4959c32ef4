# flight.sh: a KVM flight recorder for tests that run guests inside a test
# host: a small trace ring of every VM's exits, NPT faults, injected
# exceptions and interrupts, and MMU-notifier unmaps, frozen by the first
# shutdown exit (a triple fault: SVM exit code 0x7f), so a guest that
# triple-faulted leaves what led there. Sourced after tests/lib.sh.
#
#   flight_start [KB]   start it (ring of KB per CPU, default 1024)
#   flight_detail [N]   the last N (default 16) events of the vCPU thread that
#                       stopped it, and the last unmaps; nothing if it runs
#   flight_stop         remove it
tracing=/sys/kernel/tracing
[ -d $tracing/events/kvm ] || tracing=/sys/kernel/debug/tracing
flight=$tracing/instances/kvmmig-flight

flight_start() {
	local e
	mkdir -p $flight 2>/dev/null && [ -w $flight/events/kvm/kvm_exit/trigger ] || return 0
	echo "${1:-1024}" >$flight/buffer_size_kb
	for e in kvm_exit kvm_page_fault kvm_inj_exception kvm_inj_virq kvm_unmap_hva_range; do
		[ -w $flight/events/kvm/$e/enable ] && echo 1 >$flight/events/kvm/$e/enable
	done
	echo 'traceoff if exit_reason == 127' >$flight/events/kvm/kvm_exit/trigger
}
flight_stop() {
	[ -d $flight ] || return 0
	echo '!traceoff if exit_reason == 127' >$flight/events/kvm/kvm_exit/trigger
	echo 0 >$flight/events/enable
	rmdir $flight
}
flight_detail() {
	local tid
	[ -r $flight/trace ] && [ "$(cat $flight/tracing_on)" = 0 ] || return
	tid=$(sed -n 's/^ *[^ ]*-\([0-9]*\) .*kvm_exit: .*reason shutdown.*/\1/p' $flight/trace | head -n 1)
	[ -n "$tid" ] || return
	printf '; last KVM events of the vCPU thread %s: %s' "$tid" \
		"$(grep -E -- "-$tid +\[" $flight/trace | tail -n "${1:-16}" | sed 's/^.*\] [^ ]* *[0-9.]*: //' | tr '\n' '|')"
	printf '; last unmaps: %s' "$(grep kvm_unmap_hva_range $flight/trace | tail -n 3 | sed 's/^.*: //' | tr '\n' '|')"
}
