#!/usr/bin/python3
"""hub.py SOCKDIR ROLE...: the Ethernet hub of three or more test hosts.

Each test host's NIC is a QEMU unix datagram netdev whose remote end is
SOCKDIR/hub.sock; every frame that arrives from one host's socket
(SOCKDIR/ROLE.sock) goes out to every other host. Two hosts need no hub:
their sockets are joined directly. Runs until killed."""
import os
import socket
import sys

sockdir, roles = sys.argv[1], sys.argv[2:]
peers = [os.path.join(sockdir, r + ".sock") for r in roles]
hub = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
hub.bind(os.path.join(sockdir, "hub.sock"))
hub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
while True:
    frame, sender = hub.recvfrom(65536)
    for p in peers:
        if p != sender:
            try:
                hub.sendto(frame, p)
            except OSError:
                pass  # that host is not up yet, or gone: a hub drops frames
