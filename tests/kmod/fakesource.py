#!/usr/bin/env python3
"""fakesource.py: a hostile or mismatched migration source for tests.

  fakesource.py HOST PORT HELLO_TEXT

Connects to `kvmmig-ctl incoming`, sends one HELLO (the tool's framing:
b"KMTL", le32 type, le32 length, payload) and prints the answer as
"<TYPE> <payload>". The text may use \\n escapes."""
import socket
import struct
import sys

TYPES = {1: "HELLO", 2: "ACCEPT", 3: "REFUSE", 4: "STATE", 5: "RESTORED", 6: "GO",
         7: "RUNNING", 8: "ABORT", 9: "DIGEST"}

host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape")
s = socket.create_connection((host, port), timeout=30)
s.sendall(b"KMTL" + struct.pack("<II", 1, len(text)) + text.encode())
hdr = b""
while len(hdr) < 12:
    chunk = s.recv(12 - len(hdr))
    if not chunk:
        print("CLOSED")
        sys.exit(0)
    hdr += chunk
magic, typ, length = hdr[:4], *struct.unpack("<II", hdr[4:])
body = b""
while len(body) < length:
    chunk = s.recv(length - len(body))
    if not chunk:
        break
    body += chunk
print(TYPES.get(typ, str(typ)), body.decode(errors="replace"))
