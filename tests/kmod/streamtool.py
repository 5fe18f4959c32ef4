#!/usr/bin/python3
"""streamtool.py: hand-made page streams for the module tests.

  streamtool.py send CASE HOST PORT MEM_MIB   send stream CASE, then close
  streamtool.py send-many HOST PORT MEM_MIB CASE...
                                              the same for each CASE in turn,
                                              (re)connecting as listeners appear
  streamtool.py send-staged HOST PORT TRIGGER
                                              round 0 (page 2), then, once the
                                              file TRIGGER exists, round 1
                                              (pages 4-5) and END
  streamtool.py sink PORT READ_BYTES          accept, read READ_BYTES, close
  streamtool.py stall PORT                    accept, never read (hold 600 s)

Wire format: include/uapi/linux/kvmmig.h (little-endian, 24-byte headers).
"""
import os, socket, struct, sys, time

MAGIC = 0x0A0D47494D4D564B
HELLO, PAGES, ZERO, ROUND_END, END = 1, 2, 3, 4, 5
PAGE = 4096


def rec(typ, ln=0, gpa=0, npages=0, rnd=0, flags=0):
    return struct.pack("<HHIQII", typ, flags, ln, gpa, npages, rnd)


def hello(version=1, magic=MAGIC, page=PAGE):
    return rec(HELLO, 16) + struct.pack("<QII", magic, version, page)


def page(fill):
    return bytes([fill]) * PAGE


def case(name, mem):
    top = mem << 20
    good = hello()
    return {
        # A good stream: data, a zero run, two rounds, END.
        "valid": good + rec(PAGES, PAGE, 0x2000, 1) + page(0x5A)
        + rec(ZERO, 0, 0x3000, 4) + rec(ROUND_END, rnd=0)
        + rec(PAGES, 2 * PAGE, 0x4000, 2) + page(1) + page(2)
        + rec(ROUND_END, rnd=1) + rec(END) + b"after-end\n",
        "truncated": good + rec(PAGES, PAGE, 0x2000, 1) + page(1)[:100],
        "truncated-header": good + rec(ROUND_END)[:10],
        "outside": good + rec(PAGES, PAGE, top, 1) + page(1),
        "across-end": good + rec(PAGES, 2 * PAGE, top - PAGE, 2) + page(1) * 2,
        "wrap": good + rec(ZERO, 0, 0xFFFFFFFFFFFFF000, 2),
        "misaligned": good + rec(PAGES, PAGE, 0x2001, 1) + page(1),
        "unknown-type": good + rec(99),
        "flags": good + rec(ROUND_END, flags=1),
        "version": hello(version=2) + rec(ROUND_END) + rec(END),
        "magic": hello(magic=0x1234) + rec(ROUND_END) + rec(END),
        "page-size": hello(page=65536) + rec(ROUND_END) + rec(END),
        "oversized": good + rec(PAGES, 1024 * PAGE, 0, 1024),
        "length-mismatch": good + rec(PAGES, 2 * PAGE, 0x2000, 1) + page(1) * 2,
        "zero-with-payload": good + rec(ZERO, PAGE, 0x2000, 1) + page(0),
        "before-hello": rec(PAGES, PAGE, 0x2000, 1) + page(1),
        "round-order": good + rec(ROUND_END, rnd=1),
        "end-mid-round": good + rec(PAGES, PAGE, 0x2000, 1) + page(1) + rec(END),
        "random": os.urandom(65536),
    }[name]


def send(data, host, port, retry=False):
    deadline = time.time() + 30
    while True:
        try:
            s = socket.create_connection((host, port))
            break
        except ConnectionRefusedError:
            if not retry or time.time() > deadline:
                raise
            time.sleep(0.05)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def main():
    mode = sys.argv[1]
    if mode == "send":
        send(case(sys.argv[2], int(sys.argv[5])), sys.argv[3], int(sys.argv[4]))
        return
    if mode == "send-staged":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=60)
        s.sendall(hello() + rec(PAGES, PAGE, 0x2000, 1) + page(0x5A) + rec(ROUND_END, rnd=0))
        deadline = time.time() + 60
        while not os.path.exists(sys.argv[4]) and time.time() < deadline:
            time.sleep(0.05)
        try:
            s.sendall(rec(PAGES, 2 * PAGE, 0x4000, 2) + page(1) + page(2)
                      + rec(ROUND_END, rnd=1) + rec(END))
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
        except OSError:
            pass
        print("sent", flush=True)
        return
    if mode == "send-many":
        for c in sys.argv[5:]:
            send(case(c, int(sys.argv[4])), sys.argv[2], int(sys.argv[3]), True)
            print("sent", c, flush=True)
        return
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", int(sys.argv[2])))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    if mode == "sink":
        want, got = int(sys.argv[3]), 0
        while got < want:
            b = c.recv(min(65536, want - got))
            if not b:
                break
            got += len(b)
        print("read", got, flush=True)
        c.close()
    else:
        print("stalling", flush=True)
        time.sleep(600)


main()
