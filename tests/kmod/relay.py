#!/usr/bin/env python3
"""relay.py: a man in the middle of a migration, for tests.

  relay.py LISTEN_PORT TARGET_PORT [--flip OFFSET] [--record FILE]

Accepts one connection on 127.0.0.1:LISTEN_PORT, connects it to
127.0.0.1:TARGET_PORT and copies bytes both ways. --flip inverts the byte
at OFFSET of the source-to-destination direction (and prints "flipped at
OFFSET" once it did); --record writes the first 8 MiB of that direction to
FILE, so a test can look for plaintext."""
import argparse
import socket
import sys
import threading

ap = argparse.ArgumentParser()
ap.add_argument("listen", type=int)
ap.add_argument("target", type=int)
ap.add_argument("--flip", type=int)
ap.add_argument("--record")
args = ap.parse_args()

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", args.listen))
ls.listen(1)
print("waiting", flush=True)
src, _ = ls.accept()
dst = socket.create_connection(("127.0.0.1", args.target))
# Unbuffered: a relay stopped by the test has written all it saw.
record = open(args.record, "wb", buffering=0) if args.record else None


def pump(a, b, forward):
    seen = 0
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if forward:
                if args.flip is not None and seen <= args.flip < seen + len(data):
                    i = args.flip - seen
                    data = data[:i] + bytes([data[i] ^ 0xff]) + data[i + 1:]
                    print("flipped at %d" % args.flip, flush=True)
                if record and seen < 8 << 20:
                    record.write(data)
                seen += len(data)
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


t = threading.Thread(target=pump, args=(dst, src, False), daemon=True)
t.start()
pump(src, dst, True)
t.join(10)
if record:
    record.close()
sys.exit(0)
