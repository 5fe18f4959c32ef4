#!/bin/bash
# vcpustate.sh: vCPU state that a save/restore must carry, each seen from inside the guest
# (tests/vm/vcpustate.c: the VMM library drives a tiny guest and pauses it at one exact point):
#   pending-db  a single-step #DB that KVM queued when it completed an OUT is delivered after
#               the restore, at the instruction after the OUT (KVM_SET_REGS clears a pending
#               exception: REGS must be restored before EVENTS)
#   sipi        an AP paused with INIT and SIPI latched starts at its SIPI vector after the
#               restore (KVM_GET_MP_STATE applies them: MP_STATE is read before everything else)
#   kvmclock    a guest resumed after a pause sees PVCLOCK_GUEST_STOPPED (KVM_KVMCLOCK_CTRL)
#   msrs        MTRRs, MCE bank controls and an armed TSC-deadline timer read back as written
#               (MTRRs and MCE banks are not in KVM's MSR index list: the VMM adds them)
#   pae-pdptrs  a PAE guest that changed its PDPT in memory without reloading CR3 still walks
#               through its loaded PDPTRs after the restore (KVM_GET/SET_SREGS2)
#   feature-msrs  an ARCH_CAPABILITIES value this host's KVM cannot give is refused, naming the
#               MSR, before anything is applied; one it can give is restored
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
only=${1:-}
vm_build

bin=$build/tests/vcpustate
# A test host sees build/ read-only: a stale harness is rebuilt in the test's own dir.
for src in tests/vm/vcpustate.c user/vmm/*.[ch] user/common/*.[ch]; do
	[ "$src" -nt "$bin" ] || continue
	[ -w "$build" ] || bin=$vm_tmp/vcpustate
	mkdir -p "$(dirname "$bin")"
	gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude/uapi -Iuser \
		-o "$bin" tests/vm/vcpustate.c user/vmm/*.c user/common/*.c -lpthread >"$vm_tmp/vcpustate.log" 2>&1 || {
		fail "build vcpustate" "$(grep -m1 error "$vm_tmp/vcpustate.log")"
		finish
		exit
	}
	break
done

# vcpustate.sh [CASE]: all cases, or only CASE.
check() {
	local name=$1 what=$2 out status
	[ -z "$only" ] || [ "$only" = "$name" ] || return 0
	out=$(timeout 60 "$bin" "$name" 2>&1)
	status=$?
	echo "$out" | sed "s/^/  $name: /"
	case $status in
	0) pass "$what" ;;
	77) echo "SKIP: $what: $(echo "$out" | tail -n 1)" ;;
	*) fail "$what" "exit $status: $(echo "$out" | tail -n 1)" ;;
	esac
}

check pending-db "a #DB pending at the pause is delivered after the restore, where it was due"
check sipi "an AP paused with INIT+SIPI latched starts at its SIPI vector after the restore"
check kvmclock "a guest resumed after a pause sees PVCLOCK_GUEST_STOPPED in its kvmclock"
check msrs "MTRRs, MCE bank controls and the TSC-deadline timer survive a save/restore"
check pae-pdptrs "a PAE guest's loaded PDPTRs survive a save/restore (SREGS2)"
check feature-msrs "a feature MSR value this host's KVM cannot give is refused before the restore"
finish
