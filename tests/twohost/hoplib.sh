# hoplib.sh: sourced by the multi-host migration tests (tests/twohost/migrate.sh,
# tests/threehost/hop.sh). One payload guest (console in $log) hops between
# hosts that take turns through the caller's signal/await; the caller also
# provides $self, $key, $role, last_iter, reports and kernel, and may set
# $cpu_model (the guest's --cpu; host if unset). The caller starts the
# flight recorder (tests/flight.sh): a guest that dies leaves its verdict.

# vmm_death RC PID: after a failed hop, what is known of a source VMM (PID)
# that died in it: its last words (/tmp/vm0.err: a payload guest's triple
# fault comes with its VMM's post mortem), the kernel's (a crash, the OOM
# killer, kvmmig.ko's own lines) and the flight recorder's verdict
# on whose fault the death was (tests/flight.sh).
vmm_death() {
	[ "$1" != 0 ] && [ -n "$2" ] && ! kill -0 "$2" 2>/dev/null || return 0
	printf '; its VMM died: %s; kernel log: %s; %s' "$(tail -n 6 /tmp/vm0.err | tr '\n' ' ')" \
		"$(dmesg | grep -E 'kvmmig|segfault|traps:|oom|Killed process' | tail -n 3 | tr '\n' ' ')" \
		"$(flight_verdict "$(tables_intact /tmp/vm0.err && echo intact || echo source)" "$2")"
}

# hop_receive HOP SRC: an empty VM of the same shape takes the guest from
# host SRC; the guest must go on here with its memory checks passing.
hop_receive() {
	local hop=$1 src=$2 in_pid in_rc src_last n0
	rm -f "$log"
	kvmmig-vm --incoming --name vm0 --mem 64M --cpu "${cpu_model:-host}" --console "file:$log" \
		2>/tmp/vm0.err &
	wait_for 20 test -S "$KVMMIG_RUN_DIR/vm0.sock"
	kvmmig-ctl incoming vm0 --listen "$self:7437" --timeout 180 --key "$key" >/tmp/in.out 2>&1 &
	in_pid=$!
	wait_for 10 grep -q waiting /tmp/in.out
	signal "ready.$hop"
	wait $in_pid
	in_rc=$?
	await "migrated.$hop"
	src_last=$(cat "$S/migrated.$hop")
	n0=$(reports "$log")
	if [ $in_rc -eq 0 ] && wait_for 60 sh -c "[ \$(grep -c ' iter [0-9]* verifies ' $log) -ge $((n0 + 3)) ]" &&
		[ "$(last_iter "$log")" -gt "${src_last:-0}" ] && ! grep -q 'FAIL\|failures [1-9]' "$log"; then
		pass "hop $hop ($src -> $role, to $(kernel)): guest goes on, iteration $(last_iter "$log") > $src_last, $(grep -o 'verifies [0-9]*' "$log" | tail -n1), no failures"
	else
		fail "hop $hop ($src -> $role): guest goes on with its memory checks passing" \
			"incoming exit $in_rc: $(tail -n 1 /tmp/in.out); guest: $(tail -n 2 "$log" | tr '\n' ' ')"
	fi
	signal "checked.$hop"
}

# hop_send HOP TO ADDR: once host TO is ready, the guest migrates to ADDR with
# --verify; the tool must succeed and this host's VMM must exit.
hop_send() {
	local hop=$1 to=$2 out rc src_vmm_gone=1 vmm_pid
	await "ready.$hop"
	vmm_pid=$(pgrep -x kvmmig-vm | head -n 1)
	out=$(kvmmig-ctl migrate vm0 "$3" --key "$key" --verify 2>&1)
	rc=$?
	wait_for 10 sh -c '! pgrep -x kvmmig-vm >/dev/null' || src_vmm_gone=0
	if [ $rc -eq 0 ] && [ $src_vmm_gone = 1 ]; then
		pass "hop $hop ($role -> $to, from $(kernel)): $(echo "$out" | tail -n 1)"
	else
		fail "hop $hop ($role -> $to): migrate succeeds and the source VMM exits" \
			"exit $rc, source VMM gone: $src_vmm_gone: $(echo "$out" | tail -n 1)$(vmm_death "$rc" "$vmm_pid")"
	fi
	signal "migrated.$hop" "$(last_iter "$log")"
}
