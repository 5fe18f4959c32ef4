#!/bin/bash
# retry.sh: a test host that the emulator killed is run once more (tests/retry.sh), and a
# module suite runs once more only the scripts the fault hit or that never finished, keeping
# the verdicts of the scripts that finished clean of it; each
# finished script's block carries its own kernel-log check (tests/kmod-suite), so nothing of
# the dead boot goes unchecked. A stub tests/testhost plays the test host here; the real one
# is exercised by every module-suite run.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests"
cp tests/retry.sh "$tmp/tests/"
# The stub: each call appends its arguments to calls; the first $faults calls (1 unless
# the file faults says otherwise) play $mode.
cat >"$tmp/tests/testhost" <<'STUB'
#!/bin/bash
echo "$*" >>calls
n=$(wc -l <calls)
suite=0
for a in "$@"; do [ "$a" = tests/kmod-suite ] && suite=1; done
if [ "$n" -le "$(cat faults 2>/dev/null || echo 1)" ] && [ "$(cat mode)" != clean ]; then
	case $(cat mode) in
	die-in-c) for s in a b; do echo "== tests/kmod/$s.sh [k]"; echo "PASS: $s works"; echo "info: tests/kmod/$s.sh took 1 s [k]"; done
		echo "== tests/kmod/c.sh [k]"; echo "FAIL: c half done: the host died" ;;
	die-in-a) echo "== tests/kmod/a.sh [k]"; echo "FAIL: a half done: the host died" ;;
	die-at-end) for s in a b c d; do echo "== tests/kmod/$s.sh [k]"; echo "PASS: $s works"; echo "info: tests/kmod/$s.sh took 1 s [k]"; done ;;
	guest-in-b|guest-in-b-d) for s in a b c d; do echo "== tests/kmod/$s.sh [k]"
			if [ $s = b ] || [ "$s$(cat mode)" = dguest-in-b-d ]; then echo "FAIL: $s guest lost: rip 0xffffffffc04f083c (the guest RIP is the host kernel's __svm_vcpu_run [kvm_amd]: a fault of the emulator (QEMU TCG))"
			else echo "PASS: $s works"; fi
			echo "info: tests/kmod/$s.sh took 1 s [k]"; done
		echo "PASS: test host run ended cleanly"; exit 1 ;;
	esac
	case $(cat mode) in
	ours) echo "FAIL: a check of ours"; echo "testhost: the test host failed its checks"; exit 1 ;;
	silent) echo "testhost: the test host (k) stopped without a result (QEMU exit 0)"; exit 125 ;;
	*) echo "testhost: a fault of the emulator (QEMU TCG), kvmmig nowhere in the log"; exit 125 ;;
	esac
fi
shift_to=0
for a in "$@"; do
	[ $shift_to = 1 ] && { echo "== $a [k]"; echo "PASS: ${a##*/} works, attempt $n"; echo "info: $a took 1 s [k]"; }
	[ "$a" = tests/kmod-suite ] && shift_to=1
done
[ $suite = 1 ] || echo "PASS: the command works, attempt $n"
exit 0
STUB
chmod +x "$tmp/tests/testhost"
suite_args=(--kernel k -- tests/kmod-suite tests/kmod/a.sh tests/kmod/b.sh tests/kmod/c.sh tests/kmod/d.sh)
try() { # MODE OPTION... -- ARGS: runs testhost_retry in the stub's directory
	local mode=$1
	shift
	(cd "$tmp" && rm -f calls && echo "$mode" >mode && . tests/retry.sh && testhost_retry "$@" >out 2>err; echo $? >rc)
	rm -f "$tmp/faults"
}
counted() { grep -cE "^(PASS|FAIL): $1" "$tmp/out"; }

try die-in-c "${suite_args[@]}"
expect "a suite the emulator killed in its third script resumes there" \
	grep -qx -- "--kernel k -- tests/kmod-suite tests/kmod/c.sh tests/kmod/d.sh" "$tmp/calls"
expect "the scripts it had finished keep their verdicts" \
	test "$(counted 'a works$')$(counted 'b works$')" = 11
expect "the dead script's first lines are set aside, its rerun counts" \
	test "$(counted 'c half')$(counted 'c.sh works, attempt 2')$(grep -c '^info: set aside.*c half' "$tmp/out")" = 011
expect "the run's status is the resumed run's" test "$(cat "$tmp/rc")" = 0

try die-in-a "${suite_args[@]}"
expect "a suite killed in its first script runs whole once more" \
	test "$(sed -n 2p "$tmp/calls")" = "${suite_args[*]}"
expect "and nothing of the first attempt counts" test "$(counted 'a half')$(counted 'a.sh works')" = 01

try die-at-end "${suite_args[@]}"
expect "a suite killed after its last script boots once more for the end checks alone" \
	test "$(sed -n 2p "$tmp/calls")" = "--kernel k -- tests/kmod-suite"
expect "and every script keeps its verdict" test "$(grep -c '^PASS: [abcd] works$' "$tmp/out")$(cat "$tmp/rc")" = 40

try guest-in-b "${suite_args[@]}"
expect "a suite whose second script lost a guest to the emulator runs that script alone once more" \
	grep -qx -- "--kernel k -- tests/kmod-suite tests/kmod/b.sh" "$tmp/calls"
expect "the lost guest's failure is set aside, the other scripts' verdicts kept, the rerun counts" \
	test "$(counted 'b guest lost')$(counted 'a works$')$(counted 'c works$')$(counted 'd works$')$(counted 'b.sh works, attempt 2')$(grep -c '^info: set aside.*b guest lost' "$tmp/out")$(cat "$tmp/rc")" = 0111110
expect "the first attempt's end checks are set aside (the rerun makes its own)" \
	test "$(counted 'test host run ended cleanly')$(grep -c '^info: set aside.*ended cleanly' "$tmp/out")" = 01

try guest-in-b-d "${suite_args[@]}"
expect "guests lost in the second and fourth scripts: those two run once more, in order" \
	grep -qx -- "--kernel k -- tests/kmod-suite tests/kmod/b.sh tests/kmod/d.sh" "$tmp/calls"
expect "the clean ones between keep their verdicts, each lost guest is set aside" \
	test "$(counted 'a works$')$(counted 'c works$')$(counted '[bd] guest lost')$(grep -c '^info: set aside.*[bd] guest lost' "$tmp/out")$(counted '[bd].sh works, attempt 2')" = 11022

echo 2 >"$tmp/faults"
try guest-in-b "${suite_args[@]}"
expect "a second fault in the same script: it runs alone a third time" \
	test "$(sed -n 2,3p "$tmp/calls" | grep -cx -- "--kernel k -- tests/kmod-suite tests/kmod/b.sh")$(wc -l <"$tmp/calls")" = 23
expect "both faulted attempts are set aside, the third counts, the others kept once" \
	test "$(counted 'b guest lost')$(grep -c '^info: set aside.*b guest lost' "$tmp/out")$(counted 'b.sh works, attempt 3')$(counted 'a works$')$(cat "$tmp/rc")" = 02110

echo 3 >"$tmp/faults"
try fault --kernel k -- tests/twohost/sequence x.sh
expect "a third fault counts: three attempts and no more, the run fails" \
	test "$(wc -l <"$tmp/calls")$(cat "$tmp/rc")$(grep -c '^info: set aside' "$tmp/out")" = 31252

try ours "${suite_args[@]}"
expect "a failure of ours is not run again" test "$(wc -l <"$tmp/calls")$(cat "$tmp/rc")" = 11
expect "and its lines count" test "$(counted 'a check of ours')" = 1

try silent --kernel k -- tests/vm/linux.sh
expect "a silent stop is a failure by default" test "$(wc -l <"$tmp/calls")$(cat "$tmp/rc")" = 1125
try silent --any-stop --kernel k -- tests/vm/linux.sh
expect "with --any-stop a silent stop runs once more" test "$(wc -l <"$tmp/calls")$(cat "$tmp/rc")" = 20
try clean --live --kernel k -- tests/vm/linux.sh
expect "--live shows the lines as they come, stdout has them once" \
	test "$(grep -c 'works, attempt 1' "$tmp/err")$(grep -c 'works, attempt 1' "$tmp/out")" = 11

# tests/kmod-suite's own kernel-log check, with a file standing in for /dev/kmsg.
mkdir -p "$tmp/kmod"
printf '#!/bin/sh\necho "PASS: quiet"\n' >"$tmp/kmod/quiet.sh"
printf '#!/bin/sh\necho "WARNING: CPU: 0 PID: 1 at kmod/send.c:1" >>"$KVMMIG_SUITE_KMSG"\n' >"$tmp/kmod/warns.sh"
chmod +x "$tmp/kmod/"*.sh
echo "WARNING: an old one, before the suite" >"$tmp/kmsg"
suite_out=$(KVMMIG_SUITE_KMSG=$tmp/kmsg KVMMIG_KERNEL_LOG_BAD='WARNING:|BUG:' tests/kmod-suite "$tmp/kmod/quiet.sh" "$tmp/kmod/warns.sh" "$tmp/kmod/quiet.sh")
expect "kmod-suite fails the script during which the kernel warned, naming the line" \
	grep -q "^FAIL: the kernel log stays clean during $tmp/kmod/warns.sh \[.*\]: WARNING: CPU: 0 PID: 1 at kmod/send.c:1" <<<"$suite_out"
expect "and only that one: a script's check starts at its own marker" \
	test "$(grep -c '^FAIL' <<<"$suite_out")" = 1
block_end() { grep -A1 "^FAIL: the kernel log stays clean during $1" <<<"$suite_out" | tail -n 1 | grep -q "^info: $1 took "; }
expect "each block ends with its time, after its checks" block_end "$tmp/kmod/warns.sh"
finish
