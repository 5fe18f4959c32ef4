#!/usr/bin/env python3
"""monitor.py: one command to a test host's QEMU monitor, its answer on stdout.

  monitor.py SOCKET COMMAND

Connects to the human monitor at SOCKET (tests/testhost: -monitor unix:...),
sends COMMAND and prints what QEMU answers until its next prompt (5 s at
most), carriage returns removed."""
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out, end = b"", time.time() + 5
while time.time() < end:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    out += chunk
    # The banner's prompt, then the answer and the next one.
    if out.rstrip().endswith(b"(qemu)") and out.count(b"(qemu)") > 1:
        break
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
