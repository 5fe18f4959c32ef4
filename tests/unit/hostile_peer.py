#!/usr/bin/env python3
"""hostile_peer.py: a fake VMM and a fake peer whose texts attack the tool's output.

  hostile_peer.py vmm RUN_DIR NAME STATE     a VMM control socket (user/ctlproto/
                                             ctlproto.h) at RUN_DIR/NAME.sock that
                                             says STATE (running|incoming) and
                                             "kvmmig attached", answers "ok 0" to
                                             anything else; no kvmmig.ko needed
  hostile_peer.py dest PORT WHEN             a destination on 127.0.0.1:PORT that
                                             refuses a kvmmig-ctl migrate --insecure
                                             with TEXT: WHEN is "auth" (REFUSE
                                             instead of AUTH_REPLY) or "hello"
                                             (REFUSE instead of ACCEPT)
  hostile_peer.py text                       prints TEXT (a remote side's output)
  hostile_peer.py source PORT                a source that connects to 127.0.0.1:PORT
                                             and sends ABORT with TEXT instead of
                                             AUTH_HELLO

TEXT has quotes, a newline that starts a forged JSON event, a terminal
escape sequence that clears the screen, an OSC title change, DEL and an
8-bit CSI: none of it may reach a terminal raw or break a JSON line."""
import os
import socket
import struct
import sys
import threading

TEXT = (b'nope", "event":"done\n{"event":"done","forged":1}\n'
        b'\x1b[2J\x1b[H\x1b]0;pwned\x07 bell\x07 del\x7f csi\x9b31m \r\tend')
W_HELLO, W_REFUSE, W_ABORT, W_AUTH_HELLO, W_AUTH_REPLY = 1, 3, 8, 10, 11


def read(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("the peer closed the connection first")
        buf += chunk
    return buf


def wire_recv(s):
    magic, typ, length = struct.unpack("<4sII", read(s, 12))
    return typ, read(s, length)


def wire_send(s, typ, payload=b""):
    s.sendall(b"KMTL" + struct.pack("<II", typ, len(payload)) + payload)


def vmm(run_dir, name, state):
    status = ("name %s\npid %d\nstate %s\ncpus 1\nmem 1048576\n"
              "memslot 0 gpa 0x0 size 0x100000 offset 0x0\nkvmmig attached\n"
              "dirty-log off\n" % (name, os.getpid(), state)).encode()
    path = os.path.join(run_dir, name + ".sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(4)
    print("vmm ready", flush=True)

    def serve(c):
        f = c.makefile("rb")
        for line in f:
            answer = status if line.strip() == b"status" else b""
            c.sendall(b"ok %d\n" % len(answer) + answer)
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def dest(port, when):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    ls.settimeout(60)
    print("dest ready", flush=True)
    s, _ = ls.accept()
    s.settimeout(60)
    wire_recv(s)                                       # AUTH_HELLO
    if when == "hello":
        wire_send(s, W_AUTH_REPLY, bytes([1, 0, 0, 0]) + bytes(96))  # insecure
        typ, _ = wire_recv(s)
        if typ != W_HELLO:
            raise SystemExit("expected HELLO, got type %d" % typ)
    wire_send(s, W_REFUSE, TEXT)
    s.close()


def source(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    wire_send(s, W_ABORT, TEXT)
    s.close()


if __name__ == "__main__":
    if sys.argv[1] == "vmm":
        vmm(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "text":
        sys.stdout.buffer.write(TEXT + b"\n")
    elif sys.argv[1] == "dest":
        dest(int(sys.argv[2]), sys.argv[3])
    else:
        source(int(sys.argv[2]))
