#!/usr/bin/python3
"""sink.py PORT: accept one TCP connection, read and discard until EOF, print
"read N". Prints "listening" first. The benchmark's drain for page streams
(recv_into one reused 1 MiB buffer: cheap next to the senders it measures)."""
import socket, sys

ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("::", int(sys.argv[1])))
ls.listen(1)
print("listening", flush=True)
c, _ = ls.accept()
buf = bytearray(1 << 20)
got = 0
while True:
    n = c.recv_into(buf)
    if not n:
        break
    got += n
print("read", got, flush=True)
