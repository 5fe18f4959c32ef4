#!/usr/bin/env python3
"""netsend.py: the network traffic of the QEMU test guest (tests/guests/qemu/netcheck.c).

    netsend.py PREFIX MAC PORT [PER_SECOND]

Sends UDP datagram n (1024 bytes: word 0 = n, word w = pattern(n, w), as
netcheck checks them) to MAC, 10.99.0.2:PORT, PER_SECOND times a second
(default 50), as a raw Ethernet frame into every network interface whose
name starts with PREFIX and that is up: the tap of each QEMU that runs the
guest (start_qemu in tests/kmod/qemulib.sh). Raw frames, so no address,
route, neighbour or bridge is needed in the test host: a tap is enough, and
a migrating guest finds the traffic on whichever side it runs. Runs until
killed.
"""
import os
import socket
import struct
import sys
import time

WORDS = 1024 // 8


def pattern(seq, word):
    return ((seq << 16 | word) ^ 0x6E6574636B000000) & (2**64 - 1)


def checksum(data):
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(mac, port, seq):
    payload = struct.pack("<%dQ" % WORDS, seq, *(pattern(seq, w) for w in range(1, WORDS)))
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload  # no UDP checksum (IPv4 allows it)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                     socket.inet_aton("10.99.0.1"), socket.inet_aton("10.99.0.2"))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return mac + bytes.fromhex("525400000001") + b"\x08\x00" + ip + udp


def taps(prefix):
    up = []
    for name in os.listdir("/sys/class/net"):
        if not name.startswith(prefix):
            continue
        try:
            with open("/sys/class/net/%s/flags" % name) as f:
                if int(f.read(), 16) & 1:
                    up.append(name)
        except OSError:
            pass
    return up


def main():
    prefix, mac, port = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 50.0
    socks, seq, rescan = {}, 0, 0.0
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= rescan:
            names = taps(prefix)
            for name in list(socks):
                if name not in names:
                    socks.pop(name).close()
            for name in names:
                if name not in socks:
                    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                    try:
                        s.bind((name, 0))
                        socks[name] = s
                    except OSError:
                        s.close()
            rescan = now + 0.5
        data = frame(mac, port, seq)
        for name, s in list(socks.items()):
            try:
                s.send(data)
            except OSError:  # a tap whose QEMU is gone, or whose queue is full
                pass
        seq += 1
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main()
