#!/usr/bin/env python3
"""fakesource.py: a hostile or mismatched migration source for tests.

  fakesource.py HOST PORT HELLO_TEXT [hold SEC]

Connects to `kvmmig-ctl incoming --insecure`, runs the insecure handshake
(user/ctl/secure.h: AUTH_HELLO mode 0, AUTH_REPLY), sends one HELLO (the tool's framing:
b"KMTL", le32 type, le32 length, payload) and prints the answer as
"<TYPE> <payload>". The text may use \\n escapes. With "hold SEC" it then
keeps the connection open and silent for SEC seconds (a source that stopped
sending), printing "CLOSED by the destination" when it speaks or closes,
else "HELD"."""
import socket
import struct
import sys
import time

TYPES = {1: "HELLO", 2: "ACCEPT", 3: "REFUSE", 4: "STATE", 5: "RESTORED", 6: "GO",
         7: "RUNNING", 8: "ABORT", 9: "DIGEST", 10: "AUTH_HELLO", 11: "AUTH_REPLY"}

host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape")
hold = int(sys.argv[5]) if len(sys.argv) == 6 and sys.argv[4] == "hold" else 0
s = socket.create_connection((host, port), timeout=30)


def recv_msg():
    hdr = b""
    while len(hdr) < 12:
        chunk = s.recv(12 - len(hdr))
        if not chunk:
            print("CLOSED")
            sys.exit(0)
        hdr += chunk
    typ, length = struct.unpack("<II", hdr[4:])
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return typ, body


# AUTH_HELLO: version 1, mode 0 (insecure), nonce and share unused.
s.sendall(b"KMTL" + struct.pack("<II", 10, 68) + bytes([1, 0, 0, 0]) + bytes(64))
typ, body = recv_msg()
if typ != 11:
    print(TYPES.get(typ, str(typ)), body.decode(errors="replace"))
    sys.exit(0)
s.sendall(b"KMTL" + struct.pack("<II", 1, len(text)) + text.encode())
typ, body = recv_msg()
print(TYPES.get(typ, str(typ)), body.decode(errors="replace"))
sys.stdout.flush()
if hold:
    s.settimeout(hold)
    try:
        s.recv(4096)  # its ABORT text, or the end of the connection
        print("CLOSED by the destination")
    except socket.timeout:
        print("HELD")
