#!/usr/bin/python3
"""kfuzz.py: a syzkaller-style fuzzer of kvmmig.ko's own surfaces.

  kfuzz.py [--seconds S] [--seed N] [--workers W] [--log FILE]

Runs inside a test host with kvmmig.ko loaded (tests/kmod/fuzz.sh). W
processes (default 2), each with its own generator seeded from N, make
random calls for S seconds on a pool of live objects that they create,
share (VMs attached before the fork are shared by every worker) and close
at random:

  ioctl     /dev/kvmmig, session, KVM VM and other fds; every command number
            of kvmmig's ioctl type, known and not, with random, truncated,
            unmapped or kernel-address arguments
  attach    KVMMIG_ATTACH with our VM fds, a vCPU's, KVM's own, sockets,
            closed numbers; random flags and names (unterminated too)
  mark      KVMMIG_MARK_DIRTY with edge values of gpa, size, flags
  marks     KVMMIG_MARK_DIRTY_RUNS: edge counts, good and bad runs, short or absent arrays
  open      KVMMIG_SESSION_OPEN with stream, datagram, listening, TCP and
            non-socket fds, random flags, timeouts and reserved fields
  request   ROUND/RECEIVE with random flags, read() of any size, poll,
            KVMMIG_CANCEL, from any worker that holds the file
  memslot   the VM's memslots changed under a session: logging on/off,
            a slot deleted, moved, re-created
  genl      random generic-netlink messages to the kvmmig family: every
            command number, do and dump, random, nested, oversized and
            unterminated attributes, wrong versions
  stream    a destination session fed a mutation of a valid page stream
            (bit flips, edge values in header fields, records cut, repeated,
            swapped, spliced) by the peer end of its socket
  source    a source session driven by the rules with random turns: rounds
            (FULL first, FINAL last, or not), the peer drained or left
            full, memslots changed and own writes reported between rounds,
            cancelled, closed or left open

Nothing here judges the kernel: the test host fails a run whose kernel log
has a WARNING, BUG, KASAN... report, whose module will not unload, or whose
VMs outlive the command. This program fails (exit 1) when a worker stops
answering (an op stuck in the kernel: its stack and op log are printed) or
dies of anything but its own exceptions. Each worker logs its ops to
FILE.W (default /tmp/kfuzz.log.W); a failure replays with the same --seed
and --workers (timing aside).
"""
import argparse, ctypes, errno, fcntl, mmap, os, random, select, signal
import socket, struct, sys, time

LIBC = ctypes.CDLL(None, use_errno=True)
PAGE = 4096

# include/uapi/linux/kvmmig.h
T = 0xB9
def _ioc(d, nr, size, typ=T):
    return (d << 30) | (size << 16) | (typ << 8) | nr
ATTACH = _ioc(1, 0x01, 40)
MARK_DIRTY = _ioc(1, 0x02, 24)
MARK_DIRTY_RUNS = _ioc(1, 0x05, 16)
MARK_DIRTY_RUNS_MAX = 4096
SESSION_OPEN = _ioc(1, 0x03, 16)
CANCEL = _ioc(0, 0x04, 0)
ROUND = _ioc(1, 0x10, 4)
RECEIVE = _ioc(0, 0x11, 0)
KNOWN = [ATTACH, MARK_DIRTY, MARK_DIRTY_RUNS, SESSION_OPEN, CANCEL, ROUND, RECEIVE]
ATTACH_INCOMING = 1
SOURCE, DEST = 1, 2
ROUND_FULL, ROUND_FINAL = 1, 2
RESULT_SIZE = 4 + 4 + 56 + 160  # request, error, stats, why (>= enough)

# KVM
KVM_CREATE_VM = 0xAE01
KVM_CREATE_VCPU = 0xAE41
KVM_SET_USER_MEMORY_REGION = _ioc(1, 0x46, 32, 0xAE)
LOG_DIRTY = 1

# The page stream (24-byte headers {u16 type, u16 flags, u32 len, u64 gpa,
# u32 npages, u32 round}).
MAGIC = 0x0A0D47494D4D564B
HELLO, PAGES, ZERO, ROUND_END, END = 1, 2, 3, 4, 5

INTERESTING32 = [0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0xFFF, 0x1000, 0x1001,
                 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
INTERESTING64 = INTERESTING32 + [0x100000000, 0x7FFFFFFFFFFFF000, 0x8000000000000000,
                                 0xFFFFFFFFFFFFF000, 0xFFFFFFFFFFFFFFFF, 0x3FF000, 0x400000]
BAD_POINTERS = [0, 1, 0xFFF, 0xFFFF888000000000, 0xFFFFFFFFFFFFF000, 0x7FFFFFFFF000]


def raw_ioctl(fd, req, arg):
    """arg: bytes (passed by pointer, a mutable copy), an int, or None."""
    if isinstance(arg, (bytes, bytearray)):
        buf = ctypes.create_string_buffer(bytes(arg), max(len(arg), 1))
        ret = LIBC.ioctl(fd, ctypes.c_ulong(req), buf)
    else:
        ret = LIBC.ioctl(fd, ctypes.c_ulong(req), ctypes.c_ulong(arg or 0))
    return ret if ret >= 0 else -ctypes.get_errno()


class Worker:
    def __init__(self, wid, seed, log, shared):
        self.wid = wid
        self.r = random.Random(seed * 1000 + wid)
        self.log = log
        self.vms = list(shared)      # dicts: kvm vm fd, kvmmig file, mem, slots
        self.sessions = []           # (session fd, peer socket or None, vm)
        self.socks = []              # spare sockets to hand over
        self.ops = {}
        self.kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        self.genl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
        self.genl.setblocking(False)
        self.family = self.family_id()
        self.seq = 1

    def note(self, what):
        self.log.write(what + "\n")

    # --- the pool ----------------------------------------------------------
    def new_vm(self, incoming=None):
        r = self.r
        vm = fcntl_ioctl(self.kvm, KVM_CREATE_VM)
        mib = r.choice([1, 2, 4])
        mem = mmap.mmap(-1, mib << 20)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        d = {"vm": vm, "mem": mem, "addr": addr, "size": mib << 20, "file": None,
             "flags": 0, "base": 0}
        d["flags"] = LOG_DIRTY if r.random() < 0.8 else 0
        self.set_slot(d, 0, d["base"], d["size"], d["flags"])
        if r.random() < 0.3:
            try:
                os.close(fcntl_ioctl(vm, KVM_CREATE_VCPU, 0))
            except OSError:
                pass
        f = os.open("/dev/kvmmig", os.O_RDWR | os.O_CLOEXEC)
        inc = incoming if incoming is not None else r.random() < 0.5
        name = ("fz%d-%d-%d" % (os.getpid(), vm, r.randrange(1000))).encode()
        ret = raw_ioctl(f, ATTACH, struct.pack("iI32s", vm, ATTACH_INCOMING if inc else 0, name))
        d["file"] = f
        self.note("new_vm vm=%d file=%d incoming=%d attach=%d" % (vm, f, inc, ret))
        self.vms.append(d)
        return d

    def set_slot(self, d, slot, base, size, flags):
        arg = struct.pack("IIQQQ", slot, flags, base, size, d["addr"])
        return raw_ioctl(d["vm"], KVM_SET_USER_MEMORY_REGION, arg)

    def pick_vm(self):
        if not self.vms or (len(self.vms) < 8 and self.r.random() < 0.1):
            return self.new_vm()
        return self.r.choice(self.vms)

    def drop_vm(self, d):
        self.vms.remove(d)
        for fd in (d["file"], d["vm"]):
            try:
                os.close(fd)
            except OSError:
                pass
        self.note("drop_vm vm=%d file=%d" % (d["vm"], d["file"]))

    def some_fd(self):
        r = self.r
        c = r.randrange(8)
        if c == 0 and self.vms:
            return r.choice(self.vms)["file"]
        if c == 1 and self.sessions:
            return r.choice(self.sessions)[0]
        if c == 2 and self.vms:
            return r.choice(self.vms)["vm"]
        if c == 3:
            return self.kvm
        if c == 4:
            return self.genl.fileno()
        if c == 5:
            return r.choice([-1, 0, 999, 1 << 20])
        if self.vms:
            return r.choice(self.vms)["file"]
        return self.kvm

    def some_sock(self):
        """An fd to hand over, and the end we keep (or None)."""
        r = self.r
        c = r.randrange(7)
        if c == 0:
            a, b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), None
        elif c == 1:
            a = socket.socket()
            a.bind(("127.0.0.1", 0))
            a.listen(1)
            b = None
        elif c == 2:
            a = socket.socket()  # unconnected TCP
            b = None
        elif c == 3:
            return r.choice([-1, self.kvm, 1 << 20]), None
        elif c == 4:
            lsk = socket.socket()
            lsk.bind(("127.0.0.1", 0))
            lsk.listen(1)
            a = socket.create_connection(lsk.getsockname())
            b, _ = lsk.accept()
            lsk.close()
        else:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if b is not None:
            b.setblocking(False)
        self.socks.append(a)
        if len(self.socks) > 16:
            self.socks.pop(0).close()
        return a.fileno(), b

    # --- ops ----------------------------------------------------------------
    def op_ioctl(self):
        r = self.r
        fd = self.some_fd()
        if r.random() < 0.5:
            req = r.choice(KNOWN)
        else:
            req = _ioc(r.randrange(4), r.randrange(0x20), r.choice([0, 4, 8, 16, 24, 40, 64, r.randrange(1 << 14)]))
        size = (req >> 16) & 0x3FFF
        c = r.randrange(3)
        arg = os.urandom(min(size, 4096)) if c == 0 else (
            r.choice(BAD_POINTERS) if c == 1 else os.urandom(r.randrange(0, max(size, 1) + 1)))
        ret = raw_ioctl(fd, req, arg)
        self.note("ioctl fd=%d req=%#x -> %d" % (fd, req, ret))

    def op_attach(self):
        r = self.r
        f = os.open("/dev/kvmmig", os.O_RDWR | os.O_CLOEXEC)
        c = r.randrange(6)
        if c == 0 and self.vms:
            vfd = r.choice(self.vms)["vm"]
        elif c == 1:
            vfd = self.kvm
        elif c == 2:
            vfd = self.some_sock()[0]
        elif c == 3:
            vfd = r.choice([-1, 1 << 20, f])
        else:
            vfd = fcntl_ioctl(self.kvm, KVM_CREATE_VM)
        name = r.choice([b"", b"x", os.urandom(32), b"a" * 31, b"a" * 32, b"../x\n", b"fz%d" % r.randrange(4)])
        flags = r.choice([0, 1, 2, 0x80000000, r.getrandbits(32)])
        ret = raw_ioctl(f, ATTACH, struct.pack("iI", vfd, flags) + name.ljust(32, b"\0")[:32])
        self.note("attach f=%d vm=%d flags=%#x name=%r -> %d" % (f, vfd, flags, name, ret))
        if r.random() < 0.5:
            ret = raw_ioctl(f, ATTACH, struct.pack("iI32s", vfd, 0, b"again"))
            self.note("attach again -> %d" % ret)
        if c >= 4:
            os.close(vfd)
        os.close(f)

    def op_mark(self):
        r = self.r
        d = self.pick_vm()
        gpa = r.choice(INTERESTING64 + [d["base"], d["base"] + d["size"] - PAGE, r.randrange(d["size"]) & ~0xFFF])
        size = r.choice(INTERESTING64 + [PAGE, d["size"], d["size"] + PAGE])
        flags = r.choice([0, 0, 0, 1, r.getrandbits(64)])
        ret = raw_ioctl(d["file"], MARK_DIRTY, struct.pack("QQQ", gpa, size, flags))
        self.note("mark file=%d gpa=%#x size=%#x flags=%#x -> %d" % (d["file"], gpa, size, flags, ret))

    def op_marks(self):
        # MARK_DIRTY_RUNS: edge counts, runs good and bad, the array shorter
        # than its count, or at no address at all.
        r = self.r
        d = self.pick_vm()
        count = r.choice([0, 1, 2, 17, MARK_DIRTY_RUNS_MAX, MARK_DIRTY_RUNS_MAX + 1, 0xFFFFFFFF,
                          r.randrange(1, MARK_DIRTY_RUNS_MAX + 1)])
        runs = []
        for _ in range(min(count, MARK_DIRTY_RUNS_MAX)):
            if r.random() < 0.9:
                off = r.randrange(d["size"] // PAGE) * PAGE
                runs.append(struct.pack("QQQ", d["base"] + off, PAGE * r.randint(1, 4), 0))
            else:
                runs.append(struct.pack("QQQ", r.choice(INTERESTING64), r.choice(INTERESTING64),
                                        r.choice([0, 1, r.getrandbits(64)])))
        if runs and r.random() < 0.1:
            runs = runs[: r.randrange(len(runs))]
        buf = ctypes.create_string_buffer(b"".join(runs), max(len(runs) * 24, 1))
        where = r.choice([ctypes.addressof(buf)] * 8 + [0, 0xDEADBEEF000])
        flags = 0 if r.random() < 0.9 else r.getrandbits(32)
        ret = raw_ioctl(d["file"], MARK_DIRTY_RUNS, struct.pack("QII", where, count, flags))
        self.note("marks file=%d count=%d runs=%d at=%#x flags=%#x -> %d" %
                  (d["file"], count, len(runs), where, flags, ret))

    def op_open(self):
        r = self.r
        d = self.pick_vm()
        sfd, peer = self.some_sock()
        flags = r.choice([SOURCE, DEST, SOURCE, DEST, 0, 3, 4, r.getrandbits(32)])
        timeout = r.choice([0, 1000, 1000, 2000, 1, 999, 0xFFFFFFFF])
        reserved = 0 if r.random() < 0.9 else r.getrandbits(32)
        fd = r.choice([d["file"]] * 6 + [self.some_fd()])
        ret = raw_ioctl(fd, SESSION_OPEN, struct.pack("iIII", sfd, flags, timeout, reserved))
        self.note("open fd=%d sock=%d flags=%#x timeout=%d res=%#x -> %d" % (fd, sfd, flags, timeout, reserved, ret))
        if ret >= 0:
            self.sessions.append((ret, peer, d))
            if len(self.sessions) > 6:
                self.close_session(self.sessions[0])

    def close_session(self, s):
        self.sessions.remove(s)
        os.close(s[0])
        if s[1] is not None:
            s[1].close()
        self.note("close session %d" % s[0])

    def op_request(self):
        r = self.r
        if not self.sessions:
            return self.op_open()
        s = r.choice(self.sessions)
        fd = s[0]
        c = r.randrange(7)
        if c == 0:
            flags = r.choice([ROUND_FULL, 0, ROUND_FINAL, ROUND_FULL | ROUND_FINAL, 4, r.getrandbits(32)])
            ret = raw_ioctl(fd, ROUND, struct.pack("I", flags) if r.random() < 0.9 else r.choice(BAD_POINTERS))
            self.note("round fd=%d flags=%#x -> %d" % (fd, flags, ret))
        elif c == 1:
            ret = raw_ioctl(fd, RECEIVE, None)
            self.note("receive fd=%d -> %d" % (fd, ret))
        elif c == 2:
            n = r.choice([0, 1, 7, RESULT_SIZE - 1, RESULT_SIZE, 4096])
            p = select.poll()
            p.register(fd, select.POLLIN)
            if p.poll(r.choice([0, 10, 100])):
                try:
                    got = len(os.read(fd, n))
                except OSError as e:
                    got = -e.errno
                self.note("read fd=%d n=%d -> %d" % (fd, n, got))
        elif c == 3:
            ret = raw_ioctl(s[2]["file"], CANCEL, None)
            self.note("cancel file=%d -> %d" % (s[2]["file"], ret))
        elif c == 4:
            self.close_session(s)
        elif c == 5 and s[1] is not None:
            self.feed(s)
        else:
            self.drain(s)

    def drain(self, s):
        if s[1] is None:
            return
        try:
            while s[1].recv(1 << 16):
                pass
        except OSError:
            pass

    def op_memslot(self):
        r = self.r
        d = self.pick_vm()
        c = r.randrange(5)
        if c == 0:
            d["flags"] ^= LOG_DIRTY
            ret = self.set_slot(d, 0, d["base"], d["size"], d["flags"])
        elif c == 1:
            ret = self.set_slot(d, 0, d["base"], 0, 0)  # delete
        elif c == 2:
            d["base"] = r.choice([0, 1 << 30, d["size"]])
            ret = self.set_slot(d, 0, d["base"], d["size"], d["flags"])
        elif c == 3:
            ret = self.set_slot(d, r.choice([1, 2, 509]), 1 << 32, PAGE, r.choice([0, 1, 2]))
        else:
            ret = self.set_slot(d, 0, d["base"], d["size"], d["flags"])
        self.note("memslot vm=%d c=%d -> %d" % (d["vm"], c, ret))

    def family_id(self):
        def attr(t, p):
            a = struct.pack("HH", 4 + len(p), t) + p
            return a + b"\0" * (-len(a) % 4)
        body = struct.pack("BBH", 3, 1, 0) + attr(2, b"kvmmig\0")
        self.genl.setblocking(True)
        self.genl.send(struct.pack("IHHII", 16 + len(body), 0x10, 1, 1, 0) + body)
        data = self.genl.recv(65536)
        self.genl.setblocking(False)
        off = 20
        while off + 4 <= len(data):
            ln, t = struct.unpack_from("HH", data, off)
            if t == 1:
                return struct.unpack_from("H", data, off + 4)[0]
            off += (max(ln, 4) + 3) & ~3
        sys.exit("kfuzz: no kvmmig generic netlink family")

    def rand_attr(self, depth=0):
        r = self.r
        t = r.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 0x8003, r.randrange(1 << 16)])
        c = r.randrange(6)
        if c == 0 and depth < 2:
            p = b"".join(self.rand_attr(depth + 1) for _ in range(r.randrange(4)))
            t |= 0x8000
        elif c == 1:
            p = r.choice([b"vm0\0", b"fz0-1\0", b"x" * 40, b"noterm", b"\0", b""])
            if self.vms and r.random() < 0.5:
                p = b"fz"  # a prefix of our names
        elif c == 2:
            p = struct.pack("I", r.choice(INTERESTING32))
        elif c == 3:
            p = struct.pack("Q", r.choice(INTERESTING64))
        else:
            p = os.urandom(r.choice([0, 1, 3, 4, 8, 100, 1000]))
        ln = 4 + len(p)
        if r.random() < 0.05:
            ln = r.randrange(0, ln + 16)  # a lying length
        a = struct.pack("HH", ln & 0xFFFF, t) + p
        return a + b"\0" * (-len(a) % 4)

    def op_genl(self):
        r = self.r
        cmd = r.randrange(12)
        version = r.choice([2, 2, 1, 0, 255])
        attrs = b"".join(self.rand_attr() for _ in range(r.randrange(5)))
        flags = 1 | r.choice([0, 4, 0x300, 0x304, 0x100])
        body = struct.pack("BBH", cmd, version, r.choice([0, 0, 0xFFFF])) + attrs
        family = self.family if r.random() < 0.95 else r.randrange(0x10, 0x40)
        self.seq += 1
        msg = struct.pack("IHHII", 16 + len(body), family, flags, self.seq, 0) + body
        if r.random() < 0.05:
            msg = msg[:r.randrange(len(msg))]
        try:
            self.genl.send(msg)
        except OSError as e:
            self.note("genl send: %s" % e)
        self.note("genl cmd=%d v=%d flags=%#x len=%d" % (cmd, version, flags, len(msg)))
        try:
            while self.genl.recv(1 << 16):
                pass
        except OSError:
            pass

    # --- hostile streams ------------------------------------------------------
    def valid_stream(self, size):
        def rec(t, ln=0, gpa=0, n=0, rnd=0, fl=0):
            return struct.pack("<HHIQII", t, fl, ln, gpa, n, rnd)
        r = self.r
        recs = [rec(HELLO, 16) + struct.pack("<QII", MAGIC, 1, PAGE)]
        for rnd in range(r.randrange(1, 4)):
            for _ in range(r.randrange(1, 6)):
                n = r.randrange(1, 5)
                gpa = r.randrange(0, size // PAGE - n) * PAGE
                if r.random() < 0.5:
                    recs.append(rec(PAGES, n * PAGE, gpa, n, rnd) + bytes([r.randrange(256)]) * (n * PAGE))
                else:
                    recs.append(rec(ZERO, 0, gpa, n, rnd))
            recs.append(rec(ROUND_END, rnd=rnd))
        recs.append(rec(END))
        return recs

    def mutate(self, recs):
        r = self.r
        for _ in range(r.randrange(1, 4)):
            c = r.randrange(7)
            i = r.randrange(len(recs))
            b = bytearray(recs[i])
            if c == 0 and b:  # bit flips in a header
                j = r.randrange(min(24, len(b)))
                b[j] ^= 1 << r.randrange(8)
            elif c == 1 and len(b) >= 24:  # an edge value in a header field
                off, fmt = r.choice([(0, "<H"), (2, "<H"), (4, "<I"), (8, "<Q"), (16, "<I"), (20, "<I")])
                vals = INTERESTING64 if fmt == "<Q" else INTERESTING32
                v = r.choice(vals) & ((1 << (8 * struct.calcsize(fmt))) - 1)
                struct.pack_into(fmt, b, off, v)
            elif c == 2:  # cut
                b = b[:r.randrange(len(b) + 1)]
            elif c == 3:  # repeat
                recs.insert(i, bytes(b))
            elif c == 4 and len(recs) > 1:  # swap
                j = r.randrange(len(recs))
                recs[i], recs[j] = recs[j], recs[i]
            elif c == 5:  # drop
                b = bytearray()
            else:  # splice random bytes
                b[r.randrange(len(b) + 1):0] = os.urandom(r.randrange(1, 40))
            recs[i] = bytes(b)
        return b"".join(recs)

    def op_stream(self):
        """A destination session on a fresh incoming VM, fed a mutated stream."""
        d = self.new_vm(incoming=True)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ret = raw_ioctl(d["file"], SESSION_OPEN, struct.pack("iIII", a.fileno(), DEST, 1000, 0))
        a.close()
        self.note("stream: open -> %d" % ret)
        if ret < 0:
            b.close()
            return
        data = self.mutate(self.valid_stream(d["size"]))
        b.setblocking(False)
        s = (ret, b, d)
        self.sessions.append(s)
        self.note("stream: setup %s, receive %d" % (self.result(ret, 1000), raw_ioctl(ret, RECEIVE, None)))
        self.feed(s, data)
        self.note("stream: result %s" % self.result(ret, self.r.choice([0, 200, 1500])))

    def op_source(self):
        """A source session driven mostly by the rules, with random turns:
        rounds (FULL first, FINAL last), the peer drained or not, memslots
        changed and writes reported between rounds, cancel or close."""
        r = self.r
        d = self.new_vm(incoming=False)
        mine, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = raw_ioctl(d["file"], SESSION_OPEN, struct.pack("iIII", mine.fileno(), SOURCE, 1000, 0))
        mine.close()
        peer.setblocking(False)
        self.note("source: open -> %d" % fd)
        if fd < 0:
            peer.close()
            return
        s = (fd, peer, d)
        self.sessions.append(s)
        res = self.result(fd, 1000)
        self.note("source: setup %s" % res)
        if res != 0 and d["flags"] & LOG_DIRTY:
            return
        for i in range(r.randrange(1, 6)):
            if r.random() < 0.1:
                self.op_memslot_of(d)
            if r.random() < 0.2:
                self.mark_in(d)
            flags = ROUND_FULL if i == 0 else 0
            if r.random() < 0.2:
                flags = r.choice([0, ROUND_FINAL, ROUND_FULL | ROUND_FINAL, 8])
            ret = raw_ioctl(fd, ROUND, struct.pack("I", flags))
            res = None
            deadline = time.monotonic() + 1.5
            while ret == 0 and res is None and time.monotonic() < deadline:
                if r.random() < 0.95:
                    self.drain(s)
                res = self.result(fd, 20)
            self.note("source: round %d flags=%#x -> %d, result %s" % (i, flags, ret, res))
            if ret or res:
                break
        else:
            ret = raw_ioctl(fd, ROUND, struct.pack("I", ROUND_FINAL))
            res = None
            deadline = time.monotonic() + 1.5
            while ret == 0 and res is None and time.monotonic() < deadline:
                self.drain(s)
                res = self.result(fd, 20)
            self.note("source: final -> %d, result %s" % (ret, res))
        c = r.randrange(3)
        if c == 0:
            self.close_session(s)
        elif c == 1:
            self.note("source: cancel -> %d" % raw_ioctl(d["file"], CANCEL, None))

    def op_memslot_of(self, d):
        c = self.r.randrange(3)
        if c == 0:
            d["flags"] ^= LOG_DIRTY
        elif c == 1:
            d["base"] = self.r.choice([0, 1 << 30])
        ret = self.set_slot(d, 0, d["base"], d["size"] if c != 2 else 0, d["flags"])
        self.note("memslot of vm=%d c=%d -> %d" % (d["vm"], c, ret))

    def mark_in(self, d):
        # Our own write, then its report: what a VMM's device model does.
        off = self.r.randrange(d["size"] // PAGE) * PAGE
        d["mem"][off] = self.r.randrange(256)
        ret = raw_ioctl(d["file"], MARK_DIRTY, struct.pack("QQQ", d["base"] + off, PAGE, 0))
        self.note("mark own write gpa=%#x -> %d" % (d["base"] + off, ret))

    def result(self, fd, ms):
        """The session's next result's error (0: success), or None if none came within ms."""
        p = select.poll()
        p.register(fd, select.POLLIN)
        if not p.poll(ms):
            return None
        try:
            res = os.read(fd, 4096)
        except OSError as e:
            return "read: %s" % e
        return struct.unpack_from("Ii", res)[1] if len(res) >= 8 else "short %d" % len(res)

    def feed(self, s, data=None):
        r = self.r
        if data is None:
            data = os.urandom(r.randrange(1, 200)) if r.random() < 0.5 else self.mutate(self.valid_stream(s[2]["size"]))
        sent = 0
        deadline = time.monotonic() + 0.5
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += s[1].send(data[sent:sent + 65536])
            except BlockingIOError:
                time.sleep(0.005)
            except OSError:
                break
        self.note("feed session=%d %d/%d bytes" % (s[0], sent, len(data)))
        if r.random() < 0.5:
            s[1].shutdown(socket.SHUT_WR)

    def step(self):
        r = self.r
        op = r.choices(["ioctl", "attach", "mark", "marks", "open", "request", "memslot", "genl", "stream", "source",
                        "dropvm"],
                       [15, 6, 8, 4, 8, 20, 6, 12, 12, 10, 3])[0]
        self.ops[op] = self.ops.get(op, 0) + 1
        self.note("op %s" % op)
        if op == "dropvm":
            if len(self.vms) > 1:
                d = r.choice(self.vms)
                for s in [s for s in self.sessions if s[2] is d]:
                    if r.random() < 0.5:
                        self.close_session(s)
                self.drop_vm(d)
            return
        getattr(self, "op_" + op)()
        for s in self.sessions:
            self.drain(s)
        # A VM's mmap lives as long as its dict; bound the pool.
        while len(self.vms) > 10:
            self.drop_vm(self.vms[0])


def proc_state(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def fcntl_ioctl(fd, req, arg=0):
    return fcntl.ioctl(fd, req, arg)


def worker_main(wid, seed, seconds, logpath, shared, beat):
    with open("%s.%d" % (logpath, wid), "w", buffering=1) as log:
        w = Worker(wid, seed, log, shared)
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            try:
                w.step()
            except OSError as e:
                w.note("  -> OSError %s" % e)
            n += 1
            os.write(beat, b"x")
        log.write("done %d ops %r\n" % (n, w.ops))
        os.write(beat, b"\n%d %s\n" % (n, " ".join("%s=%d" % kv for kv in sorted(w.ops.items())).encode()))
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--log", default="/tmp/kfuzz.log")
    ap.add_argument("--stall", type=float, default=60,
                    help="a worker silent this long is stuck (s)")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    print("kfuzz: seed %d, %d workers, %g s (replay: kfuzz.py --seed %d --workers %d)"
          % (seed, a.workers, a.seconds, seed, a.workers), flush=True)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # Two VMs every worker shares: their /dev/kvmmig files are inherited.
    boot = Worker(99, seed, open(a.log + ".shared", "w", buffering=1), [])
    shared = [boot.new_vm(incoming=False), boot.new_vm(incoming=True)]
    kids = {}
    total, t0 = 0, time.monotonic()
    for wid in range(a.workers):
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rd)
            worker_main(wid, seed, a.seconds, a.log, shared, wr)
        os.close(wr)
        kids[pid] = [wid, rd, time.monotonic(), 0, b""]
    failed = 0
    while kids:
        fds = [k[1] for k in kids.values()]
        ready, _, _ = select.select(fds, [], [], 1)
        now = time.monotonic()
        for pid, k in list(kids.items()):
            if k[1] in ready:
                data = os.read(k[1], 65536)
                k[2] = now
                k[3] += data.count(b"x")
                k[4] += data
                if not data:
                    _, status = os.waitpid(pid, 0)
                    tail = k[4].split(b"\n")
                    summary = tail[-2].decode() if len(tail) > 2 else ""
                    if status:
                        failed = 1
                        print("kfuzz: worker %d died (status %#x) after %d ops; its last ops:" % (k[0], status, k[3]))
                        os.system("tail -n 20 %s.%d" % (a.log, k[0]))
                    else:
                        print("kfuzz: worker %d: %s" % (k[0], summary))
                    total += k[3]
                    os.close(k[1])
                    del kids[pid]
            elif len(k) > 5 and now - k[5] > 30:
                print("kfuzz: worker %d does not die after SIGKILL (state %s): left behind" % (k[0], proc_state(pid)))
                os.close(k[1])
                del kids[pid]
            elif len(k) == 5 and now - k[2] > a.stall:
                failed = 1
                print("kfuzz: worker %d stuck for %d s after %d ops (state %s); kernel stack:"
                      % (k[0], a.stall, k[3], proc_state(pid)))
                try:
                    print(open("/proc/%d/stack" % pid).read())
                except OSError:
                    pass
                os.system("tail -n 20 %s.%d" % (a.log, k[0]))
                os.kill(pid, signal.SIGKILL)
                k.append(now)
    print("kfuzz: %d executions in %.0f s (%.0f per minute), seed %d"
          % (total, time.monotonic() - t0, total * 60 / (time.monotonic() - t0), seed))
    sys.exit(failed)


if __name__ == "__main__":
    main()
