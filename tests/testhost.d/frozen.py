#!/usr/bin/env python3
"""frozen.py: where the vCPUs of a test host that stopped its heartbeat are.

  frozen.py SOCKET [MAP BOOT_STEXT]

Asks the QEMU monitor at SOCKET (tests/testhost.d/monitor.py) for every
vCPU's registers three times, 1 s apart, and prints one line per read:
"CPU#0 RIP=... (symbol+0x..) CPL=0 IF=1 CR3=...; CPU#1 ...". After the
third read, one line per vCPU names the kernel-text words on its stack
(a poor man's backtrace: return addresses, and the interrupted RIP of an
exception frame). MAP and BOOT_STEXT are ksyms.py's, which names the
addresses; without them, addresses only.

A last line "verdict: int3-loop CPU#N" when vCPU N was inside the kernel's
int3 handler at all three reads: it re-enters the breakpoint of a text
patch (a static key, a tracepoint) over and over and never takes the IPI
that the patching CPU waits for."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ksyms import load, name  # noqa: E402
from monitor import ask  # noqa: E402

INT3_HANDLER = {"asm_exc_int3", "exc_int3", "do_int3", "poke_int3_handler", "do_int3_user"}


def registers(sock):
    """{cpu: {RIP, RSP, RFL, CPL, CR3}} (hex strings) from 'info registers -a'."""
    cpus, cpu = {}, None
    for line in ask(sock, "info registers -a").splitlines():
        m = re.match(r"CPU#(\d+)", line)
        if m:
            cpu = int(m.group(1))
            cpus[cpu] = {}
            continue
        if cpu is None:
            continue
        for key, val in re.findall(r"\b(RIP|RSP|RFL|CPL|CR3)=([0-9a-f]+)", line):
            cpus[cpu][key] = val
    return cpus


def main():
    sock = sys.argv[1]
    symbols = load(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else None
    in_int3 = None
    last = {}
    for n in range(3):
        if n:
            time.sleep(1)
        last = registers(sock)
        parts = []
        hit = set()
        for cpu, r in sorted(last.items()):
            rip = int(r.get("RIP", "0"), 16)
            sym = name(symbols, rip)
            flags = int(r.get("RFL", "0"), 16)
            parts.append(f"CPU#{cpu} RIP={rip:016x}{f' ({sym})' if sym else ''} CPL={r.get('CPL', '?')} "
                         f"IF={(flags >> 9) & 1} CR3={r.get('CR3', '?')}")
            if sym and sym.split("+")[0] in INT3_HANDLER:
                hit.add(cpu)
        in_int3 = hit if in_int3 is None else in_int3 & hit
        print("; ".join(parts), flush=True)
    for cpu, r in sorted(last.items()):
        if "RSP" not in r or r.get("CPL") != "0":
            continue
        words = re.findall(r"0x([0-9a-f]{16})", ask(sock, f"cpu {cpu}", f"x/96gx 0x{r['RSP']}"))
        frames = [s for s in (name(symbols, int(w, 16)) for w in words) if s]
        if frames:
            print(f"CPU#{cpu} stack (kernel-text words from RSP up): {' '.join(frames[:16])}")
        elif symbols is None:
            print(f"CPU#{cpu} stack words: {' '.join(words[:24])}")
    for cpu in sorted(in_int3 or ()):
        print(f"verdict: int3-loop CPU#{cpu}")


if __name__ == "__main__":
    main()
