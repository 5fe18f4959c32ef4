#!/usr/bin/env python3
"""fakedest.py: a migration destination that breaks the connection on cue.

  fakedest.py PORT CUT

Listens on 127.0.0.1:PORT, accepts one source (kvmmig-ctl migrate
--insecure: answers its AUTH_HELLO with an insecure AUTH_REPLY, user/ctl/
secure.h), answers HELLO with ACCEPT,
then reads the module's page stream record by record (include/uapi/linux/
kvmmig.h: 24-byte little-endian headers {u16 type, u16 flags, u32 len,
u64 gpa, u32 npages, u32 round}) and resets the connection at CUT:

  round0   after 50 records of round 0
  round1   at the first record of round 1
  round2   at the first record of round 2 (with --max-downtime large, the
           source's final round, sent with the guest paused)
  roundN   at the first record of round N (tests/kmod/converge.sh: round 6,
           the guest throttled by then)
  state    after 100 bytes of the STATE message
  nogo     answers STATE with RESTORED, reads GO, and closes without RUNNING
  silent   after ACCEPT reads nothing more and holds the connection (a peer
           that hangs: the source's progress timeout must end it)
  hold     reads the whole page stream, then holds the connection without
           a word: a migration to it can never complete, however fast it
           would converge (tests/kmod/converge.sh's cancel and kills)

Prints "cut at <where>" when it cut, so a test knows the point was reached."""
import socket
import struct
import sys
import time

REC_HELLO, REC_PAGES, REC_ZERO, REC_ROUND_END, REC_END = 1, 2, 3, 4, 5
W_HELLO, W_ACCEPT, W_STATE, W_RESTORED, W_GO, W_DIGEST = 1, 2, 4, 5, 6, 9
W_AUTH_REPLY = 11

port, cut = int(sys.argv[1]), sys.argv[2]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if cut == "silent":
    # A small window (inherited by the accepted socket): the source's
    # sends block after a few hundred KiB whatever the kernel's autotuning.
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", port))
ls.listen(1)
print("waiting", flush=True)
# A source that never comes (its tool failed first) must not hold the test.
ls.settimeout(120)
try:
    s, _ = ls.accept()
except socket.timeout:
    raise SystemExit("no source connected within 120 s")
s.settimeout(120)


def read(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("the source closed the connection first")
        buf += chunk
    return buf


def reset(where):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("cut at " + where, flush=True)
    sys.exit(0)


def wire_recv():
    magic, typ, length = struct.unpack("<4sII", read(12))
    return typ, length


def wire_send(typ, payload=b""):
    s.sendall(b"KMTL" + struct.pack("<II", typ, len(payload)) + payload)


typ, length = wire_recv()
read(length)
wire_send(W_AUTH_REPLY, bytes([1, 0, 0, 0]) + bytes(96))  # version 1, mode 0: insecure
typ, length = wire_recv()
read(length)
wire_send(W_ACCEPT)
if cut == "silent":
    print("silent", flush=True)
    time.sleep(600)
    sys.exit(0)

records = 0
while True:
    rtype, flags, length, gpa, npages, rnd = struct.unpack("<HHIQII", read(24))
    if rtype != REC_HELLO:
        if cut == "round0" and rnd == 0 and records >= 50:
            reset("round 0")
        if cut[:5] == "round" and cut != "round0" and rnd == int(cut[5:]):
            reset("round %d" % rnd)
    read(length)
    records += 1
    if rtype == REC_END:
        break

if cut == "hold":
    print("holding", flush=True)
    time.sleep(600)
    sys.exit(0)
typ, length = wire_recv()
if typ == W_DIGEST:
    read(length)
    typ, length = wire_recv()
if cut == "state":
    read(min(100, length))
    reset("state transfer")
read(length)
wire_send(W_RESTORED)
typ, length = wire_recv()
read(length)
if cut == "nogo" and typ == W_GO:
    s.close()
    print("cut at go", flush=True)
    sys.exit(0)
print("no cut: got to the end", flush=True)
