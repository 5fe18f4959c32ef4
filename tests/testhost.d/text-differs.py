#!/usr/bin/python3
"""text-differs.py VMLINUX LOG: exit 0 if the last oops in LOG died on
kernel text that differs from the kernel image VMLINUX, 1 otherwise.

An oops prints the text around the faulting instruction ("Code: ... <xx>
..."). kvmmig cannot write there: the kernel's text, and its alias in the
direct map, are read-only, so a stray store from any module faults with
that module on the stack instead. What can is whatever writes physical
memory without the test host's page tables: the emulator (QEMU's TCG,
running the nested SVM guests) and its devices. Seen once on 7.3 under
QEMU 7.2: __tcp_transmit_skb died at 0xffffffff81fffffe, "add
0x6fc(%r15),%eax" in the image, "41 03 00 00 00 00 00" in memory: the
bytes at physical 32 MiB zeroed (the size of the nested guest then
running), with no kvmmig frame in the report.

The faulting address is printed only as symbol+offset, so the text is found
in the image by the bytes before the fault, which must occur exactly once.
"""
import re
import sys


def load_text(path):
    with open(path, "rb") as f:
        return f.read()


def last_code_line(log):
    code = None
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"Code: ((?:<?[0-9a-f]{2}>? ?)+)$", line.strip())
            if m:
                code = m.group(1).split()
    return code


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: text-differs.py VMLINUX LOG")
    code = last_code_line(sys.argv[2])
    if not code:
        return 1
    at = next((i for i, b in enumerate(code) if b.startswith("<")), None)
    if at is None or at < 16:
        return 1
    data = bytes(int(b.strip("<>"), 16) for b in code)
    image = load_text(sys.argv[1])
    before = data[:at]
    pos = image.find(before)
    if pos < 0 or image.find(before, pos + 1) >= 0:
        return 1  # not core kernel text, or not told apart
    # The faulting instruction's first bytes: an instruction is at most 15
    # bytes, the text after it may legitimately be patched later.
    n = min(8, len(data) - at)
    want = image[pos + at:pos + at + n]
    got = data[at:at + n]
    if want == got:
        return 1
    print("the faulting instruction's bytes differ from the kernel image: "
          f"image {want.hex(' ')}, memory {got.hex(' ')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
