#!/usr/bin/env python3
"""ksyms.py: a test host's kernel text addresses, named.

  ksyms.py MAP BOOT_STEXT ADDR...

MAP: the kernel's sorted text symbols ("ADDR TYPE NAME", tests/testhost's
kallsyms.text, at the addresses of the boot that wrote them); BOOT_STEXT:
_stext of the boot the addresses come from (KASLR undone by the
difference). Prints one line per ADDR: "symbol+0xoff", or "-" for an
address outside the kernel's text (a module's, or not kernel code).
frozen.py names vCPUs' RIPs and stacks with load() and name();
tests/testhost's reset report calls it as a command."""
import bisect
import os
import sys


def load(path, boot_stext):
    """The symbols of MAP with this boot's slide, or None without them."""
    if not path or not os.path.exists(path):
        return None
    addrs, names = [], []
    stext = etext = None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
            if parts[2] == "_stext":
                stext = addrs[-1]
            elif parts[2] == "_etext":
                etext = addrs[-1]
    if stext is None or etext is None:
        return None
    return addrs, names, stext, etext, int(boot_stext, 16) - stext


def name(symbols, addr):
    """symbol+0xoff of a kernel text address of this boot, or None."""
    if symbols is None:
        return None
    addrs, names, stext, etext, slide = symbols
    at = addr - slide
    if not stext <= at < etext:
        return None
    i = bisect.bisect_right(addrs, at) - 1
    return f"{names[i]}+0x{at - addrs[i]:x}" if i >= 0 else None


if __name__ == "__main__":
    syms = load(sys.argv[1], sys.argv[2])
    for a in sys.argv[3:]:
        print(name(syms, int(a, 16)) or "-")
