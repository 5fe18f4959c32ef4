#!/usr/bin/env python3
"""mkdisk.py OUT: the 32 MiB disk tests/guests/qemu/diskcheck.c checks: block b
(4 KiB) holds in word w (little-endian) (b << 20 | w) ^ 0x5ca1ab1e00000000."""
import struct
import sys

with open(sys.argv[1] + ".tmp", "wb") as f:
    for b in range(8192):
        f.write(struct.pack("<512Q", *[((b << 20) | w) ^ 0x5ca1ab1e00000000 for w in range(512)]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
