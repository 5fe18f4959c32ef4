# lib.sh: what the stress loops share, sourced once they have read their
# options: running themselves inside a test host, and busy loops beside the
# guests (a loaded CI machine).

# run_in_testhost TIMEOUT [TESTHOST OPTION...] -- SCRIPT ARGS...: runs SCRIPT
# inside a test host of kernel $kver and exits with its status.
run_in_testhost() {
	local status
	tests/testhost --kernel "$kver" --no-module --timeout "$1" "${@:2}"
	status=$?
	[ $status -lt 124 ] || fail "$(basename "$0") test host run" "tests/testhost exited $status"
	exit $status
}

# busy_loops N: starts N busy loops; their PIDs are in load_pids.
busy_loops() {
	local i
	load_pids=()
	for ((i = 0; i < $1; i++)); do
		sh -c 'while :; do :; done' &
		load_pids+=($!)
	done
}
