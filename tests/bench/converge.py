#!/usr/bin/python3
"""converge.py: runs inside a test host (tests/bench/inhost.sh starts it).

A guest that dirties memory twice as fast as the link carries it: how long
each way of making it converge takes, and how much it slows the guest's
vCPU that dirties nothing. The same Linux guest for every method (Debian's
bzImage, the bench initramfs with bench.mode=converge: workpace on vCPU 0,
ratedirty on vCPU 1 at 2 x LINK), the same link (LINK MB/s: kvmmig-ctl
--bandwidth, QEMU's max-bandwidth), the same max downtime, one after the
other in one test host:

  kvmmig          kvmmig-vm, KVM's dirty bitmap; kvmmig-ctl --converge auto
                  (the default): the whole guest throttled, 20% then +10%
                  a round
  kvmmig-ring     kvmmig-vm --dirty-ring RING: --converge auto limits the
                  dirty rate of the vCPUs over their share of the link (vCPU 1)
  qemu-ac         QEMU 7.2 (the test host's), auto-converge at its defaults
                  (the whole guest throttled, 20% then +10%)
  qemu10-ac       the same under QEMU 10.0 (bookworm-backports)
  qemu10-dl       QEMU 10.0 dirty-limit (dirty-ring-size=RING): once it
                  throttles, every vCPU may dirty at most vcpu-dirty-limit
                  (1 MB/s). QEMU enforces it only when a vCPU's ring fills
                  (KVM_EXIT_DIRTY_RING_FULL) and reaps every ring each second
                  and at each sync: a ring that holds a second of the guest's
                  writes never fills, and the limit never acts (4096 entries
                  against 3906 pages/s: no throttle at all in 150 s)

One JSON line per method: converged or not, total s, downtime ms, rounds,
MB sent, the throttle it used, and each vCPU's pace (vCPU 0: workpace's
work units/s; vCPU 1: ratedirty's pages/s) before the migration, during it
(its start to the source's last line) and at the destination after it
(SETTLE s after its first line, BASELINE s long).

  converge.py --kernel BZ --initrd CPIO --out DIR [--mem MIB] [--wss MIB]
              [--link MBPS] [--ring ENTRIES] [--methods M,..] [--qemu10 PATH]
              [--timeout S]
"""
import argparse, json, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from migbench import QMP, Console, log, now, qemu_wait, tool_events, wait_listening  # noqa: E402

PAGE = 4096
REPORT_MS = 100


def pace(con, tag, t_from, t_to):
    """Units per second of con's TAG lines from t_from to t_to (ns)."""
    pts = [(t, n) for t, _, n in con.counts(tag) if t_from <= t <= t_to]
    if len(pts) < 2 or pts[-1][0] == pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / ((pts[-1][0] - pts[0][0]) / 1e9)


def paces(con, t_from, t_to):
    return {"vcpu0_units_s": pace(con, "wp", t_from, t_to),
            "vcpu1_pages_s": pace(con, "rd", t_from, t_to)}


def last_line(con, before=None):
    ts = [t for t, _, _ in con.counts("wp") + con.counts("rd") if before is None or t < before]
    return max(ts) if ts else None


class Method:
    def __init__(self, a, name):
        self.a, self.name, self.procs = a, name, []

    def spawn(self, cmd, tag):
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open("%s/%s.err" % (self.a.out, tag), "w"))
        p.con = Console(p, "%s/%s.console" % (self.a.out, tag))
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


class Kvmmig(Method):
    """kvmmig-vm -> kvmmig-vm --incoming, kvmmig-ctl migrate --bandwidth."""

    def vm(self, name, incoming):
        a = self.a
        cmd = ["kvmmig-vm", "--name", name, "--mem", "%dM" % a.mem, "--cpus", "2",
               "--console", "stdio"]
        if incoming:
            cmd += ["--incoming"]
        else:
            cmd += ["--kernel", a.kernel, "--initrd", a.initrd, "--append", a.append]
            if self.name == "kvmmig-ring":
                cmd += ["--dirty-ring", str(a.ring)]
        sock = "%s/%s.sock" % (os.environ["KVMMIG_RUN_DIR"], name)
        if os.path.exists(sock):
            os.unlink(sock)
        p = self.spawn(cmd, name)
        end = time.time() + 120
        while not os.path.exists(sock) and time.time() < end and p.poll() is None:
            time.sleep(0.1)
        return p

    def source(self):
        return self.vm("cv-src", False)

    def migrate(self, src):
        a = self.a
        dst = self.vm("cv-dst", True)
        inc = subprocess.Popen(["kvmmig-ctl", "incoming", "cv-dst", "--listen", "127.0.0.1:7480",
                                "--timeout", str(a.timeout + 60), "--insecure"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_listening(inc)
        ctl = subprocess.run(["kvmmig-ctl", "migrate", "cv-src", "127.0.0.1:7480", "--json",
                              "--insecure", "--bandwidth", str(a.link),
                              "--max-downtime", str(a.max_downtime), "--timeout", str(a.timeout)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if ctl.returncode:
            inc.kill()
        inc.wait()
        rounds, done = tool_events(ctl.stdout)
        r = {"ok": ctl.returncode == 0 and done is not None,
             "error": ctl.stderr.decode().strip()[-300:] if ctl.returncode else "",
             "rounds": len(rounds), "mb_sent": sum(x.get("bytes", 0) for x in rounds) / 1e6,
             "throttle_max_pct": max([x.get("throttle_pct", 0) for x in rounds] or [0]),
             "dirty_limit_pages_s": sorted({x["dirty_limit_pages_per_s"] for x in rounds
                                            if x.get("dirty_limit_pages_per_s")}),
             "limited_vcpus": sorted({hex(x["throttle_vcpus"]) for x in rounds
                                      if x.get("throttle_pct") and "throttle_vcpus" in x})}
        if done:
            r.update({"total_s": done["total_ns"] / 1e9, "downtime_ms": done["downtime_ns"] / 1e6,
                      "mb_sent": done["bytes"] / 1e6, "rounds": done["rounds"],
                      "paused_at": done.get("pause_at_ns")})
        return r, dst


class Qemu(Method):
    """qemu-system-x86_64 -> -incoming defer over QMP, max-bandwidth LINK."""

    def __init__(self, a, name):
        super().__init__(a, name)
        self.bin = a.qemu10 if name.startswith("qemu10") else "qemu-system-x86_64"
        self.dirty_limit = name.endswith("-dl")

    def vm(self, tag, incoming):
        a = self.a
        qmp = "/tmp/%s.qmp" % tag
        if os.path.exists(qmp):
            os.unlink(qmp)
        accel = "kvm,dirty-ring-size=%d" % a.ring if self.dirty_limit else "kvm"
        cmd = [self.bin, "-accel", accel, "-M", "q35", "-cpu", "host", "-m", str(a.mem),
               "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none",
               "-vga", "none", "-serial", "stdio", "-no-reboot",
               "-kernel", a.kernel, "-initrd", a.initrd, "-append", a.append,
               "-qmp", "unix:%s,server=on,wait=off" % qmp]
        if incoming:
            cmd += ["-incoming", "defer"]
        p = self.spawn(cmd, tag)
        p.qmp = QMP(qmp)
        cap = "dirty-limit" if self.dirty_limit else "auto-converge"
        p.qmp.cmd("migrate-set-capabilities", capabilities=[{"capability": cap, "state": True}])
        p.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": int(a.link * 1e6),
                                               "downtime-limit": a.max_downtime})
        return p

    def source(self):
        return self.vm("cv-%s-src" % self.name, False)

    def migrate(self, src):
        a = self.a
        dst = self.vm("cv-%s-dst" % self.name, True)
        dst.qmp.cmd("migrate-incoming", uri="tcp:127.0.0.1:7481")
        t0 = now()
        src.qmp.cmd("migrate", uri="tcp:127.0.0.1:7481")
        seen = [0]  # the highest cpu-throttle-percentage QEMU reported
        info = qemu_wait(src.qmp, t0, a.timeout,
                         lambda i: seen.append(i.get("cpu-throttle-percentage", 0)))
        throttle = max(seen)
        ram = info.get("ram", {})
        r = {"ok": info.get("status") == "completed", "error": info.get("error-desc", ""),
             "rounds": ram.get("dirty-sync-count"), "mb_sent": (ram.get("transferred") or 0) / 1e6,
             "throttle_max_pct": throttle}
        if self.dirty_limit:
            r["dirty_limit_throttle_us_per_round"] = info.get("dirty-limit-throttle-time-per-round")
        if r["ok"]:
            r.update({"total_s": info["total-time"] / 1e3, "downtime_ms": info.get("downtime")})
            try:
                src.qmp.cmd("quit")
            except Exception:
                pass
        return r, dst


def run(a, name):
    m = (Kvmmig if name.startswith("kvmmig") else Qemu)(a, name)
    r = {"method": name, "link_MBps": a.link, "target_pages_s": a.rate, "wss_mib": a.wss,
         "baseline_s": a.baseline, "settle_s": a.settle, "ring_entries": a.ring}
    try:
        src = m.source()
        if not src.con.wait(lambda l: "wp " in l, 120) or not src.con.wait(lambda l: "rd " in l, 120):
            r.update(ok=False, error="the guest did not start its workloads")
            return r
        time.sleep(a.warm)
        t_b1 = now()
        r["before"] = paces(src.con, t_b1 - int(a.baseline * 1e9), t_b1)
        t0 = now()
        res, dst = m.migrate(src)
        t1 = now()
        # During: from the start to the source's last line before its pause
        # (kvmmig says when it paused; QEMU's source goes quiet at its own).
        end = res.pop("paused_at", None) or last_line(src.con) or t1
        r.update(res)
        r["during"] = paces(src.con, t0, end)
        r["during_s"] = (end - t0) / 1e9
        if r["ok"]:
            dst.con.wait(lambda l: "wp " in l, 30)
            time.sleep(a.settle + a.baseline)
            t2 = now()
            r["after"] = paces(dst.con, t2 - int(a.baseline * 1e9), t2)
        else:
            r.setdefault("total_s", (t1 - t0) / 1e9)
        for k in ("vcpu0_units_s", "vcpu1_pages_s"):
            b, d = r["before"].get(k), r["during"].get(k)
            r["during"][k.split("_")[0] + "_of_before"] = d / b if b and d is not None else None
    except Exception as e:  # one method's failure is its row, not the run's end
        log("%s: %s" % (name, e))
        r.update(ok=False, error=str(e)[-300:])
    finally:
        m.close()
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--wss", type=int, default=64)
    ap.add_argument("--link", type=int, default=8, help="MB/s, both tools")
    ap.add_argument("--max-downtime", type=int, default=300)
    ap.add_argument("--warm", type=float, default=5)
    ap.add_argument("--baseline", type=float, default=4)
    ap.add_argument("--settle", type=float, default=3,
                    help="seconds at the destination before its pace is read (its memory faulted in)")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--ring", type=int, default=1024,
                    help="dirty ring entries per vCPU (kvmmig-ring, qemu10-dl): both throttle at a full ring")
    ap.add_argument("--methods", default="kvmmig,kvmmig-ring,qemu-ac,qemu10-ac,qemu10-dl")
    ap.add_argument("--qemu10", default="/var/cache/kvmmig/qemu10/usr/bin/qemu-system-x86_64")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    a.rate = int(2 * a.link * 1e6 / PAGE)  # twice what the link carries
    a.append = ("console=ttyS0 quiet loglevel=1 panic=-1 bench.mode=converge bench.mib=%d "
                "bench.rate=%d bench.report_ms=%d" % (a.wss, a.rate, REPORT_MS))
    for name in a.methods.split(","):
        if name.startswith("qemu10") and not os.access(a.qemu10, os.X_OK):
            print(json.dumps({"method": name, "ok": False, "error": "no QEMU 10.0 at " + a.qemu10}), flush=True)
            continue
        log("converge: %s, link %d MB/s, guest dirtying %d pages/s" % (name, a.link, a.rate))
        print(json.dumps(run(a, name)), flush=True)


if __name__ == "__main__":
    main()
