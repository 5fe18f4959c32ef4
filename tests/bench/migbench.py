#!/usr/bin/python3
"""migbench.py: runs inside a test host (tests/bench/run starts it).

kvmmig against QEMU's own migration, the same Linux guest (Debian's bzImage,
the bench initramfs running tests/bench/guest/ratedirty at a fixed page rate)
in the same test host, loopback TCP:

  kvmmig        kvmmig-vm -> kvmmig-vm --incoming, kvmmig-ctl migrate --json
                (--insecure: plain TCP, when the tool has authentication)
  kvmmig-tls    the same with --key FILE on both sides: authenticated,
                kernel TLS 1.3 (AES-256-GCM); with kvmmig, the same guest
                migrates once each way per rate (one boot)
  qemu          qemu-system-x86_64 -enable-kvm -> -incoming defer, QMP,
                max-bandwidth lifted, one channel
  qemu-multifd  the same with the multifd capability, N channels

One guest per VMM boots once; for each rate the guest is told its new rate on
its console, runs WARM seconds, and migrates to a fresh destination, which is
the source of the next migration (ping-pong). Per migration it prints one JSON
line: total time, downtime (the tool's and the guest's: the longest silence
of its console lines, timestamped here: at the switchover, from the source's
last line to the destination's first, and anywhere during the migration), bytes, rounds, CPU seconds of the
source side (kvmmig: the session kthread, kvmmig-ctl, the source kvmmig-vm's
non-vCPU threads; QEMU: the source process's non-vCPU threads), and the
vCPU threads' CPU for reference.

  migbench.py --kernel BZ --initrd CPIO --mem MIB --wss MIB --rates R,R,..
              --max-downtime MS --warm S --methods kvmmig,qemu,qemu-multifd
              [--channels N] [--out DIR] [--profile SECONDS]

--profile: after the measured runs, one more kvmmig migration (plain TCP, the
highest rate) under `perf record -e cpu-clock -a -g` (the emulated CPU has no
PMU), its top symbols (whole system, and the kvmmig kthread alone) in
OUT/profile.txt; not part of the measured numbers.
"""
import argparse, json, os, signal, socket, subprocess, sys, threading, time

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPORT_MS = 50


def log(*a):
    print("migbench:", *a, file=sys.stderr, flush=True)


def now():
    return time.monotonic_ns()


class Console:
    """Reads a VMM's console (its stdout), timestamps each line."""

    def __init__(self, proc, path):
        self.proc, self.lines, self.f = proc, [], open(path, "w")
        self.cv = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for raw in iter(self.proc.stdout.readline, b""):
            t = now()
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.f.write("%d %s\n" % (t, line))
            self.f.flush()
            with self.cv:
                self.lines.append((t, line))
                self.cv.notify_all()

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for t, l in self.lines:
                    if pred(l):
                        return t, l
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.lines:
                    return None
                self.cv.wait(min(left, 0.5))

    def rd(self):
        """(time, seq, written) of every 'rd' line (ratedirty's)."""
        return self.counts("rd")

    def counts(self, tag):
        """(time, seq, count) of every '<tag> <seq> <count>' line."""
        out = []
        with self.cv:
            for t, l in self.lines:
                p = l.split()
                if len(p) == 3 and p[0].endswith(tag) and p[1].isdigit() and p[2].isdigit():
                    out.append((t, int(p[1]), int(p[2])))
        return out

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()


def thread_times(pid):
    """{tid: (comm, cpu seconds)} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(tid)] = (comm, (int(f[11]) + int(f[12])) / CLK_TCK)
    return out


def proc_time(pid):
    """utime+stime of the whole process, exited threads included."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def find_kthread(comm):
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/comm" % p) as f:
                    if f.read().strip() == comm:
                        return int(p)
            except OSError:
                pass
    return None


def watch_tool(ctl, kcomm, dcomm, vm_pid):
    """Wait for the tool ctl, sampling meanwhile the CPU of the source
    session kthread (comm kcomm) and of the source VMM's threads. Returns
    (exit status, rusage, kthread pid, its last CPU seconds, destination
    kthread pid, {tid: (comm, cpu)} last seen of the VMM)."""
    kpid = klast = dpid = None
    vm_last = thread_times(vm_pid)
    while True:
        wpid, status, ru = os.wait4(ctl.pid, os.WNOHANG)
        if wpid:
            return os.waitstatus_to_exitcode(status), ru, kpid, klast, dpid, vm_last
        if kpid is None:
            kpid = find_kthread(kcomm)
        if dpid is None:
            dpid = find_kthread(dcomm)
        if kpid is not None:
            tt = thread_times(kpid)
            if kpid in tt:
                klast = tt[kpid][1]
        tt = thread_times(vm_pid)
        if tt:
            vm_last.update(tt)
        time.sleep(0.02)


def wait_listening(inc):
    """Until the incoming tool inc says it waits (after a warning with
    --insecure), or says nothing more."""
    for _ in range(5):
        l = inc.stdout.readline()
        if b"waiting" in l or not l:
            break
    if b"waiting" not in l:
        log("incoming did not start:", l)


def tool_events(out):
    """The round events and the done event of kvmmig-ctl --json output."""
    rounds, done = [], None
    for l in out.decode().splitlines():
        try:
            j = json.loads(l)
        except ValueError:
            continue
        if j.get("event") == "round":
            rounds.append(j)
        elif j.get("event") == "done":
            done = j
    return rounds, done


def guest_gap(src, dst, t0):
    """Longest silence (ms) between console 'rd' lines from t0 on, across the
    source's last line and the destination's first."""
    s = [t for t, _, _ in src.rd() if t >= t0]
    d = [t for t, _, _ in dst.rd()]
    if not d:
        return None
    ts = sorted(set(s + d))
    best = 0
    for a, b in zip(ts, ts[1:]):
        best = max(best, b - a)
    return best / 1e6


def switch_gap(src, dst, t0):
    """Downtime as the guest sees it: from the source's last console 'rd'
    line to the destination's first (ms; a line every REPORT_MS)."""
    d = [t for t, _, _ in dst.rd()]
    if not d:
        return None
    s = [t for t, _, _ in src.rd() if t0 <= t < min(d)]
    return (min(d) - max(s)) / 1e6 if s else None


def around_pause(src, dst, done):
    """The guest-seen downtime around the tool's (same clock, CLOCK_MONOTONIC):
    from the source's last console line to the pause, and from the
    destination's RUNNING to its first line. Empty for a tool that does not
    say when it paused."""
    if "pause_at_ns" not in done:
        return {}
    pause, running = done["pause_at_ns"], done["pause_at_ns"] + done["downtime_ns"]
    s = [t for t, _, _ in src.rd() if t <= pause]
    d = [t for t, _, _ in dst.rd() if t >= running]
    return {"line_to_pause_ms": (pause - max(s)) / 1e6 if s else None,
            "running_to_line_ms": (min(d) - running) / 1e6 if d else None}


def achieved_rate(con, secs):
    rd = con.rd()
    if len(rd) < 2:
        return None
    last = rd[-1]
    first = next((r for r in rd if r[0] >= last[0] - secs * 1e9), rd[0])
    if last[0] == first[0]:
        return None
    return (last[2] - first[2]) / ((last[0] - first[0]) / 1e9)


# --- kvmmig -------------------------------------------------------------------

def link_MBps(secs, streams):
    """Raw TCP over the loopback right now (iperf3, against the server main()
    started): the link as it is under the load of the moment."""
    try:
        p = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", "5209", "-t", str(secs),
                            "-P", str(streams), "-J"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=secs + 30)
        return json.loads(p.stdout)["end"]["sum_received"]["bits_per_second"] / 8 / 1e6
    except Exception:
        return None


def tool_has_auth():
    """kvmmig-ctl with authentication (issue 8) wants --key or --insecure."""
    h = subprocess.run(["kvmmig-ctl", "migrate", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT).stdout.decode()
    return "--insecure" in h


def converge_off():
    """QEMU runs here without auto-converge: so does kvmmig-ctl (issue 17's
    --converge, auto by default), where it has the option."""
    h = subprocess.run(["kvmmig-ctl", "migrate", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT).stdout.decode()
    return ["--converge", "off"] if "--converge" in h else []


class Kvmmig:
    name = "kvmmig"

    def __init__(self, a):
        self.a, self.n, self.port = a, 0, 7440
        self.src_kpid = self.dst_kpid = None
        self.auth = tool_has_auth()
        self.tls = False
        self.key = os.path.join(a.out, "migration.key")
        if self.auth and not os.path.exists(self.key):
            subprocess.run(["kvmmig-ctl", "keygen", self.key], check=True,
                           stdout=subprocess.DEVNULL)
        self.cur = self.start_vm(incoming=False)

    def auth_args(self):
        if not self.auth:
            return []
        return ["--key", self.key] if self.tls else ["--insecure"]

    def vmname(self):
        return "b%d" % self.n

    def start_vm(self, incoming):
        a, name = self.a, self.vmname()
        cmd = ["kvmmig-vm", "--name", name, "--mem", "%dM" % a.mem, "--cpus", str(a.cpus),
               "--console", "stdio"]
        if incoming:
            cmd += ["--incoming"]
        else:
            cmd += ["--kernel", a.kernel, "--initrd", a.initrd, "--append", a.append]
        sock = "%s/%s.sock" % (os.environ["KVMMIG_RUN_DIR"], name)
        if os.path.exists(sock):
            os.unlink(sock)  # a killed VMM's: the wait below is for this one's
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open("%s/%s.err" % (a.out, name), "w"))
        p.vmname = name
        p.con = Console(p, "%s/%s.console" % (a.out, name))
        end = time.time() + 120
        while not os.path.exists(sock) and time.time() < end and p.poll() is None:
            time.sleep(0.1)
        return p

    def migrate(self, rate, profile=None):
        a, src = self.a, self.cur
        self.n += 1
        dst = self.start_vm(incoming=True)
        self.port += 1
        inc = subprocess.Popen(["kvmmig-ctl", "incoming", dst.vmname, "--listen",
                                "127.0.0.1:%d" % self.port, "--timeout", "300"] + self.auth_args(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_listening(inc)
        vm_before = thread_times(src.pid)
        vm_proc_before = proc_time(src.pid)
        perf = None
        if profile:
            # perf -a takes seconds to set up in an emulated host: its workload
            # (started once sampling is on) says when, and ends it on request.
            for f in (profile + ".ready", profile + ".stop"):
                if os.path.exists(f):
                    os.unlink(f)
            os.mkfifo(profile + ".stop")
            with open("/proc/sys/kernel/perf_cpu_time_max_percent", "w") as f:
                f.write("0")  # no throttling of the slow emulated sampling
            perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "-a", "-g",
                                     "-o", profile + ".data", "--", "sh", "-c",
                                     "touch %s.ready; read x < %s.stop" % (profile, profile)],
                                    stdout=subprocess.DEVNULL, stderr=open(profile + ".err", "w"))
            end = time.time() + 120
            while not os.path.exists(profile + ".ready") and time.time() < end and perf.poll() is None:
                time.sleep(0.1)
        t0 = now()
        ctl = subprocess.Popen(["kvmmig-ctl", "migrate", src.vmname, "127.0.0.1:%d" % self.port,
                                "--json", "--max-downtime", str(a.max_downtime),
                                "--timeout", str(a.timeout)] + self.auth_args() + converge_off(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Poll the kthread and the source VMM until the tool is done.
        rc, ru, kpid, klast, self.dst_kpid, vm_last = watch_tool(
            ctl, ("kvmmig-" + src.vmname)[:15], ("kvmmig-" + dst.vmname)[:15], src.pid)
        self.src_kpid = kpid
        if perf:
            open(profile + ".stop", "w").close()  # EOF for the workload's read
            try:
                perf.wait(120)
            except subprocess.TimeoutExpired:
                perf.kill()
        out, err = ctl.stdout.read(), ctl.stderr.read()
        ctl.returncode = rc
        t1 = now()
        ctl_cpu = ru.ru_utime + ru.ru_stime
        # The source VMM exits after the handoff: its whole CPU from wait4.
        vm_total = None
        if rc == 0:
            try:
                _, vst, vru = os.wait4(src.pid, 0)
                vm_total = vru.ru_utime + vru.ru_stime
            except ChildProcessError:
                pass
        else:
            inc.kill()
        inc.wait()
        rounds, done = tool_events(out)
        vcpu = sum(c - vm_before.get(t, ("", 0))[1] for t, (n, c) in vm_last.items()
                   if n.startswith("vcpu"))
        # Total VMM CPU since it started, minus what it had before, minus vCPUs.
        vm_other = (vm_total - vm_proc_before - vcpu) if vm_total is not None else None
        kth = klast if klast is not None else 0.0  # the kthread starts with the migration
        r = {"method": "kvmmig-tls" if self.tls else "kvmmig", "rate_pages_s": rate,
             "ok": ctl.returncode == 0 and done is not None,
             "error": err.decode().strip()[-300:] if ctl.returncode else ""}
        if done:
            dst.con.wait(lambda l: l.startswith("rd "), 30)
            time.sleep(3 * REPORT_MS / 1000)
            r.update({
                "total_ms": done["total_ns"] / 1e6, "downtime_ms": done["downtime_ns"] / 1e6,
                "bytes": done["bytes"], "rounds": done["rounds"],
                "guest_gap_ms": guest_gap(src.con, dst.con, t0 - 2 * 10**9),
                "switch_gap_ms": switch_gap(src.con, dst.con, t0 - 2 * 10**9),
                "cpu_s": {"kthread": kth, "ctl": ctl_cpu, "vmm_non_vcpu": vm_other},
                "vcpu_cpu_s": vcpu,
                "round0_bytes": rounds[0]["bytes"] if rounds else None,
                "round0_wall_ns": rounds[0]["wall_ns"] if rounds else None,
                "harvest_ns": [x["harvest_ns"] for x in rounds],
                "wall_ms": (t1 - t0) / 1e6,
                "downtime_phases_ns": done.get("downtime_phases_ns"),
            })
            r.update(around_pause(src.con, dst.con, done))
            r["cpu_s_total"] = sum(v for v in r["cpu_s"].values() if v is not None)
            self.cur = dst
        else:
            log("kvmmig migration failed:", err.decode().strip())
            r["total_ms"] = (t1 - t0) / 1e6
            r["bytes"] = sum(x["bytes"] for x in rounds)
            r["rounds"] = len(rounds)
            dst.kill()
            dst.wait()
        return r

    def close(self):
        for p in (self.cur,):
            p.kill()


# --- QEMU ---------------------------------------------------------------------

class QMP:
    def __init__(self, path, timeout=60):
        end = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.2)
        self.f = self.s.makefile("rwb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            j = json.loads(self.f.readline())
            if "event" not in j:
                return j

    def cmd(self, name, **args):
        m = {"execute": name}
        if args:
            m["arguments"] = args
        self.f.write(json.dumps(m).encode() + b"\n")
        self.f.flush()
        r = self._read()
        if "error" in r:
            raise RuntimeError("%s: %s" % (name, r["error"]))
        return r["return"]


def qemu_wait(qmp, t0, timeout, each=None):
    """Polls a source QEMU's query-migrate until the migration ends, or
    cancels it TIMEOUT s after t0 (status "timeout"); each(info) sees every
    answer. Returns the last answer."""
    while True:
        info = qmp.cmd("query-migrate")
        if each:
            each(info)
        # QEMU sets "completed" before it computes total-time and downtime
        # (they read 0 for a moment), and a former destination reports its
        # incoming migration as completed (no total-time).
        if info.get("status") in ("completed", "failed", "cancelled") and (
                info.get("status") != "completed" or info.get("total-time")):
            return info
        if now() - t0 > timeout * 1e9:
            qmp.cmd("migrate_cancel")
            info["error-desc"] = "no convergence in %d s (cancelled)" % timeout
            info["status"] = "timeout"
            time.sleep(1)
            return info
        time.sleep(0.05)


class Qemu:
    def __init__(self, a, multifd):
        self.a, self.multifd, self.n, self.port = a, multifd, 0, 7460 + 20 * multifd
        self.name = "qemu-multifd" if multifd else "qemu"
        self.cur = self.start_vm(incoming=False)

    def start_vm(self, incoming):
        return self.launch("%s%d" % ("qm" if self.multifd else "q", self.n), incoming)

    def launch(self, tag, incoming, machine="q35", extra=()):
        a = self.a
        qmp = "/tmp/%s.qmp" % tag
        if os.path.exists(qmp):
            os.unlink(qmp)
        cmd = ["qemu-system-x86_64", "-enable-kvm", "-M", machine, "-cpu", "host",
               "-m", str(a.mem), "-smp", str(a.cpus), "-nodefaults", "-no-user-config",
               "-display", "none", "-vga", "none", "-serial", "stdio", "-no-reboot",
               "-kernel", a.kernel, "-initrd", a.initrd, "-append", a.append,
               "-qmp", "unix:%s,server=on,wait=off" % qmp, "-name", "%s,debug-threads=on" % tag]
        if incoming:
            cmd += ["-incoming", "defer"]
        p = subprocess.Popen(cmd + list(extra), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open("%s/%s.err" % (a.out, tag), "w"))
        p.tag = tag
        p.con = Console(p, "%s/%s.console" % (a.out, tag))
        p.qmp = QMP(qmp)
        return p

    def setup(self, q):
        a = self.a
        if self.multifd:
            q.cmd("migrate-set-capabilities",
                  capabilities=[{"capability": "multifd", "state": True}])
            q.cmd("migrate-set-parameters", **{"multifd-channels": a.channels})
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 50,
                                           "downtime-limit": a.max_downtime})

    def migrate(self, rate, profile=None):
        a, src = self.a, self.cur
        self.n += 1
        dst = self.start_vm(incoming=True)
        self.port += 1
        self.setup(dst.qmp)
        dst.qmp.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % self.port)
        self.setup(src.qmp)
        tt0 = thread_times(src.pid)
        p0 = proc_time(src.pid)
        t0 = now()
        src.qmp.cmd("migrate", uri="tcp:127.0.0.1:%d" % self.port)
        info = qemu_wait(src.qmp, t0, a.timeout)
        t1 = now()
        tt1 = thread_times(src.pid)
        p1 = proc_time(src.pid)
        vcpu = sum(c - tt0.get(t, ("", 0))[1] for t, (n, c) in tt1.items() if "/KVM" in n)
        r = {"method": self.name, "rate_pages_s": rate, "ok": info.get("status") == "completed",
             "error": info.get("error-desc", "")}
        if r["ok"]:
            dst.con.wait(lambda l: False, 0)
            end = time.time() + 30
            while not [x for x in dst.con.rd()] and time.time() < end:
                time.sleep(0.1)
            time.sleep(3 * REPORT_MS / 1000)
            ram = info.get("ram", {})
            r.update({
                "total_ms": info.get("total-time"), "downtime_ms": info.get("downtime"),
                "setup_ms": info.get("setup-time"),
                "bytes": ram.get("transferred"), "rounds": ram.get("dirty-sync-count"),
                "guest_gap_ms": guest_gap(src.con, dst.con, t0 - 2 * 10**9),
                "switch_gap_ms": switch_gap(src.con, dst.con, t0 - 2 * 10**9),
                "cpu_s": {"qemu_non_vcpu": (p1 - p0) - vcpu},
                "vcpu_cpu_s": vcpu, "ram_mbps": ram.get("mbps"),
                "wall_ms": (t1 - t0) / 1e6,
                "threads": sorted({n for n, _ in tt1.values()}),
            })
            r["cpu_s_total"] = r["cpu_s"]["qemu_non_vcpu"]
            try:
                src.qmp.cmd("quit")
            except Exception:
                pass
            src.wait(10)
            self.cur = dst
        else:
            log("qemu migration failed:", info)
            r["total_ms"] = (t1 - t0) / 1e6
            r["bytes"] = info.get("ram", {}).get("transferred")
            r["rounds"] = info.get("ram", {}).get("dirty-sync-count")
            dst.kill()
            dst.wait()
        return r

    def close(self):
        self.cur.kill()


def pid_apart(pid):
    """Have the next process's pid differ from pid in its first three digits:
    kvmmig.ko names a QEMU VM's session kthread kvmmig-qemu-PID, cut at 15
    characters, so that the source's and the destination's tell apart."""
    digits = len(str(pid))
    if digits <= 3:
        return
    bucket = 10 ** (digits - 3)
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str((pid // bucket + 1) * bucket - 1))


class KvmmigQemu(Qemu):
    """The same QEMU guest with its RAM in a shared file (/dev/shm, the
    backend x-ignore-shared leaves out of QEMU's stream in 7.2 and 10.0):
    `kvmmig-ctl migrate --qemu` moves the RAM through kvmmig.ko, QEMU's own
    stream its devices and vCPUs. The tool gets a QMP socket of its own."""

    def __init__(self, a):
        self.a, self.multifd, self.n, self.port = a, False, 0, 7500
        self.name = "kvmmig-qemu"
        self.auth = ["--insecure"] if tool_has_auth() else []
        self.cur = self.start_vm(incoming=False)

    def start_vm(self, incoming):
        if incoming:
            pid_apart(self.cur.pid)
        tag = "kq%d" % self.n
        ram, tool = "/dev/shm/kvmmig-bench-%s" % tag, "/tmp/%s.tool.qmp" % tag
        for f in (ram, tool):
            if os.path.exists(f):
                os.unlink(f)
        # smm=off: kvmmig.ko refuses a VM with SMM memory (address space 1).
        p = self.launch(tag, incoming, "q35,smm=off", [
            "-object", "memory-backend-file,id=ram0,size=%dM,mem-path=%s,share=on" % (self.a.mem, ram),
            "-machine", "memory-backend=ram0", "-qmp", "unix:%s,server=on,wait=off" % tool]
            + (["-S"] if incoming else []))
        p.ram, p.tool_qmp = ram, tool
        return p

    def migrate(self, rate, profile=None):
        a, src = self.a, self.cur
        self.n += 1
        dst = self.start_vm(incoming=True)
        self.port += 1
        inc = subprocess.Popen(["kvmmig-ctl", "incoming", "--qemu", dst.tool_qmp, "--listen",
                                "127.0.0.1:%d" % self.port, "--timeout", "300"] + self.auth,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_listening(inc)
        tt0, p0 = thread_times(src.pid), proc_time(src.pid)
        t0 = now()
        ctl = subprocess.Popen(["kvmmig-ctl", "migrate", "--qemu", src.tool_qmp,
                                "127.0.0.1:%d" % self.port, "--json",
                                "--max-downtime", str(a.max_downtime)] + self.auth,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        rc, ru, _, klast, _, _ = watch_tool(ctl, ("kvmmig-qemu-%d" % src.pid)[:15], "-", src.pid)
        t1 = now()
        out, err = ctl.stdout.read(), ctl.stderr.read()
        tt1, p1 = thread_times(src.pid), proc_time(src.pid)
        inc.wait()
        vcpu = sum(c - tt0.get(t, ("", 0))[1] for t, (n, c) in tt1.items() if "/KVM" in n)
        rounds, done = tool_events(out)
        r = {"method": self.name, "rate_pages_s": rate, "ok": rc == 0 and done is not None,
             "error": err.decode().strip()[-300:] if rc else ""}
        if r["ok"]:
            end = time.time() + 30  # the incoming tool continues the guest
            while not dst.con.rd() and time.time() < end:
                time.sleep(0.1)
            time.sleep(3 * REPORT_MS / 1000)
            r.update({
                "total_ms": done["total_ns"] / 1e6, "downtime_ms": done["downtime_ns"] / 1e6,
                "bytes": done["bytes"], "rounds": done["rounds"],
                "pages_repaired": done.get("pages_repaired"),
                "guest_gap_ms": guest_gap(src.con, dst.con, t0 - 2 * 10**9),
                "switch_gap_ms": switch_gap(src.con, dst.con, t0 - 2 * 10**9),
                # QEMU still sends devices and vCPUs: its non-vCPU threads count.
                "cpu_s": {"kthread": klast or 0.0, "ctl": ru.ru_utime + ru.ru_stime,
                          "qemu_non_vcpu": (p1 - p0) - vcpu},
                "vcpu_cpu_s": vcpu, "wall_ms": (t1 - t0) / 1e6,
                "round0_bytes": rounds[0]["bytes"] if rounds else None,
                "round0_wall_ns": rounds[0]["wall_ns"] if rounds else None,
            })
            r["cpu_s_total"] = sum(r["cpu_s"].values())
            self.retire(src)
            self.cur = dst
        else:
            log("kvmmig-qemu migration failed:", err.decode().strip())
            r["total_ms"] = (t1 - t0) / 1e6
            self.retire(dst)
        return r

    def retire(self, p):
        try:
            p.qmp.cmd("quit")
            p.wait(10)
        except Exception:
            p.kill()
            p.wait()
        os.unlink(p.ram)

    def close(self):
        self.retire(self.cur)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--wss", type=int, default=256)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--rates", default="0,2560,12800")
    ap.add_argument("--max-downtime", type=int, default=300)
    ap.add_argument("--warm", type=float, default=3)
    ap.add_argument("--methods", default="kvmmig,qemu,qemu-multifd")
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--out", default="/tmp/migbench")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--link-secs", type=int, default=3,
                    help="iperf3 seconds before each migration (0: none)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rates = [int(x) for x in a.rates.split(",")]
    a.append = ("console=ttyS0 quiet loglevel=1 panic=-1 bench.mib=%d bench.rate=%d "
                "bench.report_ms=%d" % (a.wss, rates[0], REPORT_MS))
    if a.link_secs:
        iperf = subprocess.Popen(["iperf3", "-s", "-p", "5209"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(1)
    methods = a.methods.split(",")
    groups = []
    for m in methods:
        if m == "kvmmig-tls" and "kvmmig" in methods:
            continue  # migrates the kvmmig guest, alternating with plain TCP
        groups.append([m, "kvmmig-tls"] if m == "kvmmig" and "kvmmig-tls" in methods else [m])
    for g in groups:
        m = g[0]
        t = time.time()
        try:
            v = (KvmmigQemu(a) if m == "kvmmig-qemu" else Kvmmig(a) if m.startswith("kvmmig")
                 else Qemu(a, m == "qemu-multifd"))
        except Exception as e:
            print(json.dumps({"method": m, "ok": False, "error": "start: %s" % e}), flush=True)
            continue
        if isinstance(v, Kvmmig) and not v.auth and "kvmmig-tls" in g:
            log("kvmmig-ctl has no --key: no kvmmig-tls runs")
            g = [x for x in g if x != "kvmmig-tls"]
            if not g:
                v.close()
                continue
        if not v.cur.con.wait(lambda l: l.startswith("rd "), 300):
            print(json.dumps({"method": m, "ok": False, "error": "guest did not start"}), flush=True)
            v.close()
            continue
        log("%s: guest up in %.1f s" % (m, time.time() - t))
        for rate in rates:
            for variant in g:
                if isinstance(v, Kvmmig):
                    v.tls = variant == "kvmmig-tls"
                if not guest_alive(v, a, variant, rate):
                    continue
                v.cur.con.send("rate %d\n" % rate)
                time.sleep(a.warm)
                ach = achieved_rate(v.cur.con, a.warm - 1)
                lk = link_MBps(a.link_secs, a.channels if variant == "qemu-multifd" else 1) \
                    if a.link_secs else None
                try:
                    r = v.migrate(rate)
                except Exception as e:
                    r = {"method": variant, "rate_pages_s": rate, "ok": False, "error": repr(e)}
                r["achieved_pages_s"] = ach
                r["link_MBps"] = lk
                r["mem_mib"], r["wss_mib"], r["max_downtime_ms"] = a.mem, a.wss, a.max_downtime
                print(json.dumps(r), flush=True)
        if isinstance(v, Kvmmig) and a.profile:
            profile(v, a, rates[-1])
        v.close()
    if a.link_secs:
        iperf.kill()


def guest_alive(v, a, variant, rate):
    """The guest's VMM died since the last migration (under TCG a nested guest
    sometimes does: the emulator's fault, see docs/TESTING.md): say so in a
    row of its own, with what the VMM said last, and boot a fresh guest so
    that the remaining rows are measured. False when there is none."""
    if v.cur.poll() is None:
        return True
    try:
        with open("%s/%s.err" % (a.out, getattr(v.cur, "vmname", "?"))) as f:
            said = " | ".join(l.strip() for l in f.read().splitlines()[-3:])
    except OSError:
        said = ""
    print(json.dumps({"method": variant, "rate_pages_s": rate, "ok": False,
                      "error": "the guest's VMM %s died before this migration (exit %s): %s" %
                      (getattr(v.cur, "vmname", "?"), v.cur.returncode, said)}), flush=True)
    if not isinstance(v, Kvmmig):
        return False
    v.n += 1
    v.cur = v.start_vm(incoming=False)
    if not v.cur.con.wait(lambda l: l.startswith("rd "), 300):
        log("a fresh guest did not start either")
        return False
    log("booted a fresh guest %s after the last one died" % v.cur.vmname)
    return True


def profile(v, a, rate):
    """One more kvmmig migration under perf; top symbols to OUT/profile.txt."""
    base = "/tmp/kvmmig-bench-profile"  # perf cannot write its data to 9p
    v.tls = False
    v.cur.con.send("rate %d\n" % rate)
    time.sleep(a.warm)
    try:
        r = v.migrate(rate, profile=base)
    except Exception as e:
        log("profile run failed:", repr(e))
        return
    out = ["profiled migration (not part of the measurements): kvmmig, plain TCP, rate %d pages/s: "
           "ok=%s total %.2f s, %d bytes; perf record -e cpu-clock -F 499 -a -g" %
           (rate, r.get("ok"), (r.get("total_ms") or 0) / 1e3, r.get("bytes") or 0),
           "(kthreads show as 'kthreadd' by command: perf saw them fork, not their names)"]
    views = [("whole test host, by command", ["--sort", "comm"]),
             ("whole test host, by symbol", ["--sort", "comm,sym"])]
    for title, args in views:
        cmd = ["perf", "report", "-i", base + ".data", "--stdio", "--no-children",
               "-g", "none", "--percent-limit", "0.7"]
        p = subprocess.run(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        body = [l for l in p.stdout.decode(errors="replace").splitlines()
                if l.strip() and not l.startswith("#")]
        out += ["", "== " + title] + body[:25]
    out += chains(base + ".data", {v.src_kpid: "source session kthread (harvest + send)",
                                   v.dst_kpid: "destination session kthread (receive)"})
    with open(os.path.join(a.out, "profile.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    log("profile: %s/profile.txt" % a.out)


def chains(data, threads):
    """Per thread of interest: its share of all samples, the functions its
    samples were in (self) and the functions on their call chains
    (inclusive), from perf script."""
    p = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    total, per = 0, {}
    tid, frames = None, []

    def flush():
        if tid is not None:
            d = per.setdefault(tid, {"n": 0, "self": {}, "incl": {}})
            d["n"] += 1
            if frames:
                d["self"][frames[0]] = d["self"].get(frames[0], 0) + 1
            for f in set(frames):
                d["incl"][f] = d["incl"].get(f, 0) + 1

    for l in p.stdout.decode(errors="replace").splitlines():
        if not l.strip():
            flush()
            tid, frames = None, []
        elif l[0] in " \t" and tid is not None:
            t = l.split()
            if len(t) >= 2:
                frames.append(t[1].split("+0x")[0])
        else:
            flush()
            total += 1
            t = [x for x in l.split() if x.isdigit()]
            tid, frames = (int(t[-1]) if t else -1), []
    flush()
    out = []
    for t, name in threads.items():
        d = per.get(t)
        if t is None or not d:
            out += ["", "== %s: no samples" % name]
            continue
        out += ["", "== %s (tid %d): %d of %d samples (%.1f %%)" % (name, t, d["n"], total,
                                                                   100 * d["n"] / max(total, 1))]
        out.append("   self (where its samples were):")
        for f, n in sorted(d["self"].items(), key=lambda x: -x[1])[:15]:
            out.append("   %6.1f %%  %s" % (100 * n / d["n"], f))
        out.append("   inclusive (on the call chain of its samples):")
        for f, n in sorted(d["incl"].items(), key=lambda x: -x[1])[:30]:
            out.append("   %6.1f %%  %s" % (100 * n / d["n"], f))
    return out

if __name__ == "__main__":
    main()
