#!/bin/bash
# fuzz.sh: runs inside a test host started with --no-module. The fuzzer of
# the module's own surfaces (tests/fuzz/kfuzz.py: ioctls, attach, sessions,
# memslots changed under them, generic netlink, hostile page streams) for
# FUZZ_SECONDS (default 12 on Debian's kernels, which catch a crash or a
# hang but not a bad access: their run proves each kernel's compat paths
# survive hostile input; 600 on the debug lane's KASAN/KCSAN kernels, where
# the fuzzer finds what the others cannot see), seeded by
# FUZZ_SEED (random otherwise, printed for replay). The kernel is judged by
# the test host (log, unload, leftover VMs); this script fails when a fuzzer
# worker hangs or dies, and when the module no longer serves a plain
# request afterwards.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
TEST_SUFFIX=" [$(uname -r)]"
PATH=$PWD/build:$PATH
log=$(mktemp -d)/kfuzz.log
insmod "$KVMMIG_KO" || { fail "module loads" "insmod failed"; exit 1; }
case $(uname -r) in
*-kvmmig-*) secs=${FUZZ_SECONDS:-600} ;; # the debug lane's kernels
*) secs=${FUZZ_SECONDS:-12} ;;
esac
out=$(tests/fuzz/kfuzz.py --seconds "$secs" ${FUZZ_SEED:+--seed "$FUZZ_SEED"} --log "$log" 2>&1)
rc=$?
echo "$out" | sed 's/^/info: /'
seed=$(echo "$out" | sed -n 's/^kfuzz: seed \([0-9]*\).*/\1/p')
if [ $rc = 0 ] && echo "$out" | grep -q '^kfuzz: [0-9]* executions'; then
	pass "the fuzzer ran $secs s, no worker hung or died: $(echo "$out" | grep '^kfuzz: [0-9]* executions' | cut -d' ' -f2-)"
else
	fail "the fuzzer ran $secs s, no worker hung or died (replay: FUZZ_SEED=$seed)" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"
fi
# Everything the fuzzer held is gone with its processes: no VM is attached.
if wait_for 20 sh -c 'out=$(kvmmig-ctl list 2>&1) && [ -z "$out" ]'; then
	pass "after the fuzzer the module answers and no VM is left attached"
else
	fail "after the fuzzer the module answers and no VM is left attached" "$(kvmmig-ctl list 2>&1 | tr '\n' ' ')"
fi
finish
