#!/usr/bin/python3
"""authority.py: a process with every capability (root) but without a VM's
/dev/kvmmig file, trying to take over the VM's migrations (authority.sh).

  authority.py genl-v1 VM      family version 1's session commands (4..9:
                               SOURCE_START, SOURCE_ROUND, SOURCE_STOP,
                               DEST_START, DEST_RECEIVE, DEST_STOP) on VM,
                               each with a socket of ours and round flags;
                               one "cmd N NAME: ERRNO" line each, then
                               "stream bytes N": what our socket received
  authority.py open-fresh      KVMMIG_SESSION_OPEN on a /dev/kvmmig file
                               that attached nothing: "open-fresh: ERRNO"
  authority.py cancel-fresh    KVMMIG_CANCEL on such a file
  authority.py dest-on VM      the VM's own /dev/kvmmig file, from its
                               control socket (kvmmig-fd), opens a
                               destination session: "dest-on: ERRNO" (or ok)
  authority.py pidfd-attach PID NAME
                               takes PID's KVM VM fd with pidfd_getfd()
                               (root: CAP_SYS_ADMIN) and attaches it on a
                               fresh /dev/kvmmig file under NAME

ERRNO is the errno's name (EINVAL, ...), or "ok" when the call succeeded.
The netlink messages are built by hand (no libnl): the removed commands
cannot be sent with the tool, which no longer knows them.
"""
import ctypes, errno, os, socket, struct, sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
# Family version 1 (include/uapi/linux/kvmmig.h before version 2).
V1_CMDS = {4: "SOURCE_START", 5: "SOURCE_ROUND", 6: "SOURCE_STOP",
           7: "DEST_START", 8: "DEST_RECEIVE", 9: "DEST_STOP"}
A_VM_NAME, A_SOCK_FD, A_ROUND_FLAGS = 4, 6, 7
ROUND_FULL = 1

# include/uapi/linux/kvmmig.h: _IOW(0xB9, nr, size) and _IO(0xB9, nr).
def _iow(nr, size):
    return (1 << 30) | (size << 16) | (0xB9 << 8) | nr

KVMMIG_ATTACH = _iow(0x01, 40)
KVMMIG_SESSION_OPEN = _iow(0x03, 16)
KVMMIG_CANCEL = (0xB9 << 8) | 0x04
SESSION_DEST = 1 << 1


def ename(e):
    if e == errno.EOPNOTSUPP:  # Python names 95 ENOTSUP, its alias on Linux
        return "EOPNOTSUPP"
    return errno.errorcode.get(e, str(e))


LIBC = ctypes.CDLL(None, use_errno=True)


def ioctl(fd, req, arg=None):
    """The ioctl's return value, or OSError: what fcntl.ioctl cannot give."""
    buf = ctypes.create_string_buffer(arg, len(arg)) if arg is not None else None
    ret = LIBC.ioctl(fd, ctypes.c_ulong(req), buf)
    if ret < 0:
        raise OSError(ctypes.get_errno(), "ioctl")
    return ret


def attr(typ, payload):
    a = struct.pack("HH", 4 + len(payload), typ) + payload
    return a + b"\0" * (-len(a) % 4)


def nl_request(sk, family, cmd, version, attrs, seq):
    body = struct.pack("BBH", cmd, version, 0) + b"".join(attrs)
    msg = struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body
    sk.send(msg)
    while True:
        data = sk.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, typ, _flags, rseq, _pid = struct.unpack_from("IHHII", data, off)
            if rseq == seq and typ == NLMSG_ERROR:
                return -struct.unpack_from("i", data, off + 16)[0], None
            if rseq == seq:
                return 0, data[off + 20:off + ln]
            off += (ln + 3) & ~3


def parse_attrs(buf):
    out, off = {}, 0
    while off + 4 <= len(buf):
        ln, typ = struct.unpack_from("HH", buf, off)
        if ln < 4:
            break
        out[typ & 0x3FFF] = buf[off + 4:off + ln]
        off += (ln + 3) & ~3
    return out


def family_id(sk):
    err, reply = nl_request(sk, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1,
                            [attr(CTRL_ATTR_FAMILY_NAME, b"kvmmig\0")], 1)
    if err:
        sys.exit("authority.py: no kvmmig family: %s" % ename(err))
    return struct.unpack("H", parse_attrs(reply)[CTRL_ATTR_FAMILY_ID][:2])[0]


def connected_pair():
    """A TCP connection to ourselves: (our end handed over, the end we read)."""
    lsk = socket.socket()
    lsk.bind(("127.0.0.1", 0))
    lsk.listen(1)
    c = socket.create_connection(lsk.getsockname())
    a, _ = lsk.accept()
    lsk.close()
    return c, a


def genl_v1(vm):
    sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sk.bind((0, 0))
    fam = family_id(sk)
    ours, peer = connected_pair()
    name = vm.encode() + b"\0"
    # START first, then what a version-1 module answers at once (a busy
    # START, the stops, a ROUND and a RECEIVE without their session), so
    # that no handler of such a module blocks this process for a round.
    order = [4, 7, 9, 6, 5, 8]
    for seq, (cmd, what) in enumerate([(c, V1_CMDS[c]) for c in order], start=2):
        attrs = [attr(A_VM_NAME, name), attr(A_SOCK_FD, struct.pack("I", ours.fileno()))]
        if what == "SOURCE_ROUND":
            attrs.append(attr(A_ROUND_FLAGS, struct.pack("I", ROUND_FULL)))
        sk.settimeout(5)
        try:
            err, _ = nl_request(sk, fam, cmd, 1, attrs, seq)
            print("cmd %d %s: %s" % (cmd, what, "ok" if err == 0 else ename(err)), flush=True)
        except socket.timeout:
            print("cmd %d %s: blocked (no answer in 5 s)" % (cmd, what), flush=True)
    # Did anything of the VM arrive on our socket (a HELLO, pages)?
    peer.settimeout(1)
    got = 0
    try:
        while True:
            b = peer.recv(65536)
            if not b:
                break
            got += len(b)
    except (socket.timeout, ConnectionError):
        pass
    print("stream bytes %d" % got, flush=True)


def open_fresh():
    ours, _peer = connected_pair()
    fd = os.open("/dev/kvmmig", os.O_RDWR | os.O_CLOEXEC)
    arg = struct.pack("iIII", ours.fileno(), SESSION_DEST, 0, 0)
    try:
        ioctl(fd, KVMMIG_SESSION_OPEN, arg)
        print("open-fresh: ok")
    except OSError as e:
        print("open-fresh: %s" % ename(e.errno))
    arg = struct.pack("iIII", ours.fileno(), 1, 0, 0)  # SOURCE
    try:
        ioctl(fd, KVMMIG_SESSION_OPEN, arg)
        print("open-fresh source: ok")
    except OSError as e:
        print("open-fresh source: %s" % ename(e.errno))


def cancel_fresh():
    fd = os.open("/dev/kvmmig", os.O_RDWR | os.O_CLOEXEC)
    try:
        ioctl(fd, KVMMIG_CANCEL)
        print("cancel-fresh: ok")
    except OSError as e:
        print("cancel-fresh: %s" % ename(e.errno))


def vm_file_from_vmm(vm):
    run = os.environ.get("KVMMIG_RUN_DIR") or "/run/kvmmig"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("%s/%s.sock" % (run, vm))
    s.sendall(b"kvmmig-fd\n")
    msg, fds, _flags, _addr = socket.recv_fds(s, 64, 4)
    while not msg.endswith(b"\n"):
        more = s.recv(64)
        if not more:
            break
        msg += more
    if msg != b"ok 0\n" or not fds:
        sys.exit("authority.py: the VMM of %s answered %r with %d fds" % (vm, msg, len(fds)))
    return fds[0]


def dest_on(vm):
    fd = vm_file_from_vmm(vm)
    ours, _peer = connected_pair()
    arg = struct.pack("iIII", ours.fileno(), SESSION_DEST, 0, 0)
    try:
        os.close(ioctl(fd, KVMMIG_SESSION_OPEN, arg))
        print("dest-on: ok")
    except OSError as e:
        print("dest-on: %s" % ename(e.errno))
    os.close(fd)


def pidfd_attach(pid, name):
    vmfd = None
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, f)) == "anon_inode:kvm-vm":
                vmfd = int(f)
        except OSError:
            pass
    if vmfd is None:
        sys.exit("authority.py: process %d has no KVM VM fd" % pid)
    pidfd = os.pidfd_open(pid)
    mine = LIBC.syscall(438, pidfd, vmfd, 0)  # pidfd_getfd
    if mine < 0:
        sys.exit("authority.py: pidfd_getfd: %s" % ename(ctypes.get_errno()))
    dev = os.open("/dev/kvmmig", os.O_RDWR | os.O_CLOEXEC)
    arg = struct.pack("iI32s", mine, 0, name.encode())
    try:
        ioctl(dev, KVMMIG_ATTACH, arg)
        print("pidfd-attach: ok")
    except OSError as e:
        print("pidfd-attach: %s" % ename(e.errno))


def main():
    a = sys.argv[1:]
    if a[:1] == ["genl-v1"] and len(a) == 2:
        genl_v1(a[1])
    elif a == ["open-fresh"]:
        open_fresh()
    elif a == ["cancel-fresh"]:
        cancel_fresh()
    elif a[:1] == ["dest-on"] and len(a) == 2:
        dest_on(a[1])
    elif a[:1] == ["pidfd-attach"] and len(a) == 3:
        pidfd_attach(int(a[1]), a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
