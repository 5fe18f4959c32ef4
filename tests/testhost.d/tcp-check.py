#!/usr/bin/env python3
"""Sends random bytes over TCP and checks they arrive intact (testhost selftest).

  tcp-check.py recv PORT READY_FILE     listen, touch READY_FILE, print "<bytes> <sha256>"
  tcp-check.py send PORT ADDR NBYTES    connect, send, print "<bytes> <sha256>"
"""
import hashlib
import os
import socket
import sys


def recv(port, ready_file):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    open(ready_file, "w").close()
    conn, _ = srv.accept()
    digest, total = hashlib.sha256(), 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        digest.update(chunk)
        total += len(chunk)
    print(total, digest.hexdigest())


def send(port, addr, nbytes):
    data = os.urandom(nbytes)
    conn = socket.create_connection((addr, port), timeout=60)
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    conn.recv(1)  # the receiver closes once it has everything
    conn.close()
    print(len(data), hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
