#!/usr/bin/env python3
"""monitor.py: one command to a test host's QEMU monitor, its answer on stdout.

  monitor.py SOCKET COMMAND

Connects to the human monitor at SOCKET (tests/testhost: -monitor unix:...),
sends COMMAND and prints what QEMU answers until its next prompt (5 s at
most), carriage returns removed. ask() does the same for frozen.py, for
one or more commands on one connection (a "cpu N" selects the vCPU that
the commands after it read)."""
import socket
import sys
import time


def ask(path, *commands):
    """The answer to the last of COMMANDS."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    out, prompts = b"", 1
    for command in commands:
        s.sendall(command.encode() + b"\n")
        out, end = b"", time.time() + 5
        while time.time() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            # (The first time the banner's prompt,) the answer and the next one.
            if out.rstrip().endswith(b"(qemu)") and out.count(b"(qemu)") > prompts:
                break
        prompts = 0
    s.close()
    return out.decode(errors="replace").replace("\r", "")


if __name__ == "__main__":
    sys.stdout.write(ask(sys.argv[1], sys.argv[2]))
