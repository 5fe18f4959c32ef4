#!/usr/bin/env python3
"""cutrelay.py: the link of a migration, cut on cue, for tests.

  cutrelay.py LISTEN_PORT TARGET_PORT [--cut CONN:BYTES | --cut-when CONN:BYTES:MS:THEN |
                                       --cut-after CONN:DIR:FILE:REGEX | --lose-after CONN:FILE:REGEX]

Accepts connections on 127.0.0.1:LISTEN_PORT, each joined to a new one to
127.0.0.1:TARGET_PORT, and copies bytes both ways (migrate --qemu opens two:
kvmmig's, then QEMU's device stream). Prints "waiting" once it listens.
With --cut, once connection CONN (1 = the first accepted) has carried BYTES
bytes from the source, every connection is shut down at once and it prints
"cut at connection CONN after N bytes": the link is gone, both ends see it
break. With --cut-when the cut waits for connection CONN to have carried
BYTES from the source, then (MS > 0) for its source to resume after a
silence of at least MS milliseconds, and comes at the next bytes connection
THEN's source sends, none of them forwarded. migrate --qemu: QEMU's stream
(connection 2) carries a short handshake, is silent through the pre-copy,
carries QEMU's own small RAM blocks from `migrate` on, and is silent again
while QEMU waits at pre-switchover for kvmmig's final round and verify
pass; then come the device state. So 2:4096:0:1 cuts kvmmig's final
round as it starts, 2:4096:200:2 QEMU's device state. With --cut-after
the cut comes at the first bytes connection CONN carries in direction DIR
(to: from its source, back: from its destination) once FILE has a line
matching REGEX, none of them forwarded: the bytes the relay reads after a
tool printed that line. migrate --qemu prints "verified:" before
migrate-continue, so 2:to:OUT:^verified: cuts QEMU's device state, and
1:back:OUT:^verified: the destination tool's LOADED (its QEMU loaded all
of it). With --lose-after the link dies after the source's last byte:
once FILE has a line matching REGEX, what connection CONN's source sends
is read and dropped (its writes succeed), and when that source closes,
every connection is cut; 2:OUT:^verified: loses QEMU's whole device
state after QEMU sent it and completed. Without a cut option it relays
until killed (kill -9 cuts it the same way).
Each connection that ends says how many bytes it carried from the source.
"""
import argparse
import os
import re
import socket
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("listen", type=int)
ap.add_argument("target", type=int)
ap.add_argument("--cut")
ap.add_argument("--cut-when")
ap.add_argument("--cut-after")
ap.add_argument("--lose-after")
args = ap.parse_args()
cut_conn, cut_bytes = (int(x) for x in args.cut.split(":")) if args.cut else (0, 0)
when = [int(x) for x in args.cut_when.split(":")] if args.cut_when else [0, 0, 0, 0]
when_conn, when_bytes, when_ms, then_conn = when
after_conn, after_dir, after_file, after_re = 0, "", "", None
if args.cut_after:
    c, after_dir, after_file, r = args.cut_after.split(":", 3)
    after_conn, after_re = int(c), re.compile(r, re.M)
    assert after_dir in ("to", "back")
lose_conn, lose_file, lose_re = 0, "", None
if args.lose_after:
    c, lose_file, r = args.lose_after.split(":", 2)
    lose_conn, lose_re = int(c), re.compile(r, re.M)


def line_printed(path, regex):
    try:
        with open(path, errors="replace") as f:
            return regex.search(f.read()) is not None
    except OSError:
        return False

armed = threading.Event()

socks = []
lock = threading.Lock()


def cut(conn, seen, forward=True, lost=None):
    with lock:
        print("cut at connection %d after %d bytes%s%s" % (conn, seen, "" if forward else " from its destination",
              "" if lost is None else ", the %d after them lost" % lost), flush=True)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        os._exit(0)


def pump(a, b, conn, forward):
    seen, last, lost = 0, time.monotonic(), None
    try:
        while True:
            data = a.recv(65536)
            if not data:
                if lost is not None:
                    cut(conn, seen, forward, lost)
                break
            if lost is not None or (forward and conn == lose_conn and line_printed(lose_file, lose_re)):
                lost = (lost or 0) + len(data)
                continue
            now = time.monotonic()
            if forward and conn == when_conn and not armed.is_set() and seen >= when_bytes:
                if when_ms == 0 or (now - last) * 1000 >= when_ms:
                    print("connection %d: %d bytes, then %.0f ms of silence" % (conn, seen, (now - last) * 1000), flush=True)
                    armed.set()
            last = now
            if forward and conn == then_conn and armed.is_set():
                cut(conn, seen)
            if conn == after_conn and forward == (after_dir == "to") and line_printed(after_file, after_re):
                cut(conn, seen, forward)
            if forward and conn == cut_conn and seen + len(data) >= cut_bytes:
                b.sendall(data[: max(cut_bytes - seen, 0)])
                cut(conn, cut_bytes)
            b.sendall(data)
            seen += len(data)
    except OSError:
        pass
    if forward:
        print("connection %d carried %d bytes" % (conn, seen), flush=True)
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", args.listen))
ls.listen(4)
print("waiting", flush=True)
conn = 0
while True:
    src, _ = ls.accept()
    conn += 1
    dst = socket.create_connection(("127.0.0.1", args.target))
    with lock:
        socks.extend((src, dst))
    threading.Thread(target=pump, args=(src, dst, conn, True), daemon=True).start()
    threading.Thread(target=pump, args=(dst, src, conn, False), daemon=True).start()
