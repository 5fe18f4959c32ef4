# vmlib.sh: what the kvmmig-vm tests share: building, starting VMMs, talking to them, reading guests.
# Source it after tests/lib.sh. Every VMM a test starts is killed on exit.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$repo/build
vm_bin=$build/kvmmig-vm
vmctl_bin=$build/tests/vmctl
dirtymem=$build/guests/dirtymem.bin

vm_tmp=$(mktemp -d /tmp/kvmmig-vm-test.XXXXXX)
export KVMMIG_RUN_DIR=$vm_tmp/run
# Where save-memory writes: kvmmig-vm's default image directory is its run directory.
vm_images=$KVMMIG_RUN_DIR
vm_pids=()

vm_cleanup() {
	local pid
	for pid in "${vm_pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$vm_tmp"
}
trap vm_cleanup EXIT

# Builds what the tests run; a build failure is one FAIL line and the end of the script.
vm_build() {
	local log=$vm_tmp/build.log
	# Inside a test host the repo is read-only: build only what is missing or stale.
	if ! { make -s -C "$repo" -q user 2>/dev/null || make -s -C "$repo" user; } >"$log" 2>&1 ||
		! { make -s -C "$repo/tests/guests" -q BUILD="$build" 2>/dev/null ||
			make -s -C "$repo/tests/guests" BUILD="$build"; } >>"$log" 2>&1 ||
		! vm_build_vmctl >>"$log" 2>&1; then
		fail "build kvmmig-vm, dirtymem and vmctl" "$(grep -m1 -iE 'error' "$log")"
		exit 1
	fi
	if [ ! -w /dev/kvm ]; then
		fail "open /dev/kvm" "not present or not writable: these tests need KVM"
		exit 1
	fi
}

vm_build_vmctl() {
	local src
	for src in "$repo/tests/vm/vmctl.c" "$repo"/user/vmm/*.[ch] "$repo"/user/common/*.[ch] \
		"$repo/tests/guests/dirtymem.h"; do
		[ "$src" -nt "$vmctl_bin" ] || continue
		# A test host sees build/ read-only: a stale vmctl is rebuilt in the test's own dir.
		[ -w "$build" ] || vmctl_bin=$vm_tmp/vmctl
		mkdir -p "$(dirname "$vmctl_bin")" &&
			gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -I"$repo/include/uapi" \
				-I"$repo/user" -o "$vmctl_bin" "$repo/tests/vm/vmctl.c" "$repo"/user/vmm/*.c \
				"$repo"/user/common/*.c -lpthread
		return
	done
}

# vm_start NAME ARGS...: a VMM in the background; console in $vm_tmp/NAME.out, stderr in NAME.err.
vm_start() {
	local name=$1
	shift
	"$vm_bin" --name "$name" --console "file:$vm_tmp/$name.out" "$@" 2>"$vm_tmp/$name.err" &
	local pid=$! deadline=$((SECONDS + 5))
	vm_pids+=($pid)
	eval "vm_pid_$name=$pid"
	# Up once its control socket answers; a guest may also be over before that.
	until [ -S "$KVMMIG_RUN_DIR/$name.sock" ] || ! kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		nap 0.02
	done
}

vm_pid() { eval "echo \$vm_pid_$1"; }

# vm_ctl NAME COMMAND [ARG]: one control request; payload on stdout.
vm_ctl() {
	local name=$1
	shift
	"$vmctl_bin" "$KVMMIG_RUN_DIR/$name.sock" "$@"
}

# vm_wait_exit NAME [SECONDS]: sets vm_status to the VMM's exit status, 124 if it still runs then.
# (Not in $(...): a subshell cannot wait for this shell's children.)
vm_wait_exit() {
	local pid deadline=$((SECONDS + ${2:-5}))
	pid=$(vm_pid "$1")
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			vm_status=124
			return
		fi
		nap 0.02
	done
	wait "$pid"
	vm_status=$?
}

vm_out() { cat "$vm_tmp/$1.out" 2>/dev/null; }

# Highest "iter" dirtymem reported for vCPU CPU in console file NAME.
# pause_times NAME: pauses and resumes VM NAME 8 times, at random moments;
# prints the median pause in ms, then each one's (a loaded machine may
# delay one or two).
pause_times() {
	local times=() t0 i
	for i in 1 2 3 4 5 6 7 8; do
		t0=${EPOCHREALTIME/./}
		vm_ctl "$1" pause >/dev/null
		times+=($(((${EPOCHREALTIME/./} - t0) / 1000)))
		vm_ctl "$1" resume >/dev/null
		sleep 0.$((RANDOM % 9 + 1))
	done
	echo "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 4p) ${times[*]}"
}
last_iter() {
	vm_out "$1" | sed -n "s/^dirtymem: cpu$2 \(done \)\?iter \([0-9]*\) .*/\2/p" | tail -n1
}
last_verifies() {
	vm_out "$1" | sed -n "s/^dirtymem: cpu$2 \(done \)\?iter [0-9]* verifies \([0-9]*\) .*/\2/p" |
		tail -n1
}

# wait_iter NAME CPU MIN [SECONDS]: waits until vCPU CPU reported an iteration above MIN.
wait_iter() {
	local deadline=$((SECONDS + ${4:-5})) it
	while :; do
		it=$(last_iter "$1" "$2")
		[ -n "$it" ] && [ "$it" -gt "$3" ] && return 0
		[ $SECONDS -lt $deadline ] || return 1
		nap 0.05
	done
}

# The iteration counter of vCPU CPU in a memory image (struct dirtymem_status at 0x9000).
image_iter() {
	od -An -tu8 -j $((0x9000 + $2 * 64 + 8)) -N8 "$1" | tr -d ' '
}

# vm_saved_blob: a 2-vCPU dirtymem source saves its state to $vm_tmp/good
# (in $good, its size in $size) and its memory to $vm_images/mem, then quits;
# an incoming VM "dst" starts on that memory, waiting for a state blob.
# Exits the test if no blob came.
vm_saved_blob() {
	vm_start src --cpus 2 --mem 64M --payload "$dirtymem" --append "pages=2048 verify_every=4 report_ms=20"
	wait_iter src 0 100 10 && wait_iter src 1 100 10
	vm_ctl src pause >/dev/null && vm_ctl src save-state >"$vm_tmp/good" &&
		vm_ctl src save-memory mem >/dev/null && vm_ctl src quit >/dev/null
	good=$vm_tmp/good
	size=$(stat -c %s "$good")
	if [ "$size" -gt 1000 ]; then
		pass "source guest saved ($size-byte blob)"
	else
		fail "source guest saved" "blob of ${size:-no} bytes"
		exit 1
	fi
	vm_start dst --cpus 2 --mem 64M --incoming --mem-file "$vm_images/mem"
}

# vm_refused CHECK REGEX REQUEST...: control request REQUEST (its payload on
# stdin) to "dst" must fail with an error matching REGEX.
vm_refused() {
	local name=$1 re=$2 out
	shift 2
	if out=$(vm_ctl dst "$@" 2>&1); then
		fail "$name" "$1 answered ok"
	elif echo "$out" | grep -Eq -- "$re"; then
		pass "$name: $(echo "$out" | sed 's/^vmctl: error //' | cut -c1-200)"
	else
		fail "$name" "expected /$re/, got: $out"
	fi
}
# vm_restore_refused BLOB CHECK REGEX: restore-state of BLOB into "dst" refused.
vm_restore_refused() { vm_refused "$2" "$3" restore-state <"$1"; }

# record_offset TYPE [INDEX]: offset of the first record of TYPE (hex) and
# INDEX (default 0) in the blob $good.
record_offset() {
	"$vmctl_bin" --records "$good" | awk -v t="$1" -v i="${2:-0}" '$2 == t && $3 == i { print $1; exit }'
}
