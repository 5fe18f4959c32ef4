#!/bin/bash
# frozen.sh: tests/testhost.d/frozen.py on a fake QEMU monitor. A 6.1 test
# host in CI froze (December 2026) with CPU#1 in smp_call_function_many_cond
# (the soft lockup's task) and CPU#0 in exc_int3 at every read: RIPs that
# only said something once named. frozen.py names each RIP in the kernel's
# text (KASLR undone), reads the kernel text on each vCPU's stack, and
# gives the int3-loop verdict only for a vCPU in the int3 handler at all
# three reads.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
# Text symbols as kallsyms lists them, at the addresses of the boot that
# wrote them (_stext 0xffffffff81000000); this boot's _stext is 0x200000 higher.
cat >"$tmp/map" <<'EOF'
ffffffff81000000 T _stext
ffffffff81070000 t read_hpet
ffffffff81170350 T smp_call_function_many_cond
ffffffff81170700 T smp_call_function
ffffffff81a44fb0 T exc_int3
ffffffff81a45100 T default_idle
ffffffff81c00ba0 T asm_exc_int3
ffffffff81c00c00 T asm_exc_nmi
ffffffff82000000 T _etext
EOF
slide=0x200000
at() { printf '%016x' $((16#$1 + slide)); }
# fake_monitor SOCKET CPU0-RIPS: answers 'info registers -a' with CPU#0 at the
# next of CPU0-RIPS (CPU#1 always in smp_call_function_many_cond) and 'x' with
# a stack holding an exception frame's RIP and a return address.
fake_monitor() {
	python3 - "$@" <<'PY' &
import os, socket, sys
path, rips = sys.argv[1], sys.argv[2].split(",")
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
reads = 0
while True:
    c, _ = s.accept()
    c.sendall(b"QEMU 10.0.2 monitor - type 'help' for more information\r\n(qemu) ")
    buf = b""
    while True:
        data = c.recv(4096)
        if not data:
            break
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().strip()
            if cmd == "info registers -a":
                rip = rips[min(reads, len(rips) - 1)]
                reads += 1
                out = ""
                for cpu, r, fl in ((0, rip, "00000046"), (1, sys.argv[3], "00000246")):
                    out += (f"\r\nCPU#{cpu}\r\nRAX=0 RBX=0 RCX=0 RDX=0\r\nRSI=0 RDI=0 RBP=0 RSP=ffffc9000000{cpu}e00\r\n"
                            f"RIP={r} RFL={fl} [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n"
                            f"CR0=80050033 CR2=0 CR3=000000000605e000 CR4=00350ef0\r\n")
                c.sendall(out.encode() + b"(qemu) ")
            elif cmd.startswith("x/"):
                c.sendall((f"ffffc90000000e00: 0x0000000000000001 0x{sys.argv[4]}\r\n"
                           f"ffffc90000000e10: 0xffff888000001000 0x{sys.argv[5]}\r\n(qemu) ").encode())
            else:
                c.sendall(b"(qemu) ")
    c.close()
PY
	local n=50
	until [ -S "$1" ] || [ $((n -= 1)) = 0 ]; do sleep 0.1; done
}
loop="$(at ffffffff81a44ffe),$(at ffffffff81c00ba0),$(at ffffffff81a44ffe)"
fake_monitor "$tmp/mon1" "$loop" "$(at ffffffff81170441)" "$(at ffffffff81a45109)" "$(at ffffffff81170441)"
out=$(tests/testhost.d/frozen.py "$tmp/mon1" "$tmp/map" "$(at ffffffff81000000)" 2>&1)
echo "$out" | sed 's/^/  frozen.py: /'
echo "$out" | grep -q "^CPU#0 RIP=$(at ffffffff81a44ffe) (exc_int3+0x4e) CPL=0 IF=0 CR3=000000000605e000; CPU#1 RIP=$(at ffffffff81170441) (smp_call_function_many_cond+0xf1) CPL=0 IF=1" &&
	pass "each vCPU's RIP is named in the kernel's text, KASLR undone, with CPL, IF and CR3" ||
	fail "each vCPU's RIP is named in the kernel's text" "$(echo "$out" | head -n 1)"
echo "$out" | grep -q "^CPU#0 stack (kernel-text words from RSP up): default_idle+0x9 smp_call_function_many_cond+0xf1$" &&
	pass "the kernel text on a vCPU's stack is named, other words left out" ||
	fail "the kernel text on a vCPU's stack is named" "$(echo "$out" | grep stack | head -n 1)"
echo "$out" | grep -qx "verdict: int3-loop CPU#0" && [ "$(echo "$out" | grep -c '^verdict')" = 1 ] &&
	pass "a vCPU in the int3 handler at all three reads is named an int3 loop (only it)" ||
	fail "a vCPU in the int3 handler at all three reads is named an int3 loop" "$(echo "$out" | grep verdict)"
# The control: in the handler at two reads of three is a CPU that got past it.
fake_monitor "$tmp/mon2" "$(at ffffffff81a44ffe),$(at ffffffff81a45109),$(at ffffffff81c00ba0)" \
	"$(at ffffffff81170441)" "$(at ffffffff81a45109)" "$(at ffffffff81170441)"
out=$(tests/testhost.d/frozen.py "$tmp/mon2" "$tmp/map" "$(at ffffffff81000000)" 2>&1)
[ "$(echo "$out" | grep -c '^CPU#0 RIP')" = 3 ] && ! echo "$out" | grep -q '^verdict' &&
	pass "a vCPU in the int3 handler at two reads of three is no int3 loop" ||
	fail "a vCPU in the int3 handler at two reads of three is no int3 loop" "$(echo "$out" | tr '\n' ' ')"
# Without the symbols: addresses and raw stack words, no verdict.
fake_monitor "$tmp/mon3" "$loop" "$(at ffffffff81170441)" "$(at ffffffff81a45109)" "$(at ffffffff81170441)"
out=$(tests/testhost.d/frozen.py "$tmp/mon3" 2>&1)
echo "$out" | grep -q "^CPU#0 RIP=$(at ffffffff81a44ffe) CPL=0 IF=0" && echo "$out" | grep -q "^CPU#1 stack words: " &&
	! echo "$out" | grep -q '^verdict' &&
	pass "without the kernel's symbols: the addresses, the raw stack words, no verdict" ||
	fail "without the kernel's symbols: the addresses, the raw stack words, no verdict" "$(echo "$out" | tr '\n' ' ')"
finish
