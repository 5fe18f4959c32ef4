#!/usr/bin/env python3
"""holdctl.py SOCKET [REQUEST...]: one control connection kept open.

Sends each REQUEST (one line) in turn and prints each answer's first line,
then does the same for every line read on stdin; at EOF of stdin it hangs
up. A test holds a VMM's throttle with it (the throttle lasts as long as
the connection), or kills it to play a tool that died.
"""
import socket
import sys


def ask(sock, f, line):
    sock.sendall((line.strip() + "\n").encode())
    head = f.readline().decode().rstrip("\n")
    if head.startswith("ok "):
        f.read(int(head[3:]))  # the payload, unused
    print(head, flush=True)


def main():
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sys.argv[1])
    f = sock.makefile("rb")
    for line in sys.argv[2:]:
        ask(sock, f, line)
    for line in sys.stdin:
        ask(sock, f, line)
    sock.close()


main()
