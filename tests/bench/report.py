#!/usr/bin/python3
"""report.py RAW OUT: tables from tests/bench/inhost.sh's raw data
(RAW/link.txt, mig.jsonl, harvest.txt, scale.txt, params) into
OUT/results.txt, OUT/results.json and OUT/scale.png (matplotlib)."""
import json, os, re, statistics, sys

raw, out = sys.argv[1], sys.argv[2]


def read(name):
    try:
        with open(os.path.join(raw, name)) as f:
            return f.read()
    except OSError:
        return ""


def kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


params = dict(l.split("=", 1) for l in read("params").splitlines() if "=" in l)
params = {k: v.strip('"') for k, v in params.items()}
GiB = 1 << 30
lines = []


def p(s=""):
    lines.append(s)


def fmt(v, f="%.1f"):
    return "-" if v is None else f % v


# --- link ----------------------------------------------------------------------
link = {}
for l in read("link.txt").splitlines():
    if l.startswith("link "):
        d = kv(l)
        link[int(d["streams"])] = int(d["bits_per_second"]) / 8 / 1e6  # MB/s

# --- migrations ------------------------------------------------------------------
mig = []
for l in read("mig.jsonl").splitlines():
    try:
        mig.append(json.loads(l))
    except ValueError:
        pass

p("kvmmig benchmark (tests/bench/run) -- everything inside one QEMU/TCG test host")
p("(kernel %s, test host %s MiB, 2 vCPUs): absolute numbers are meaningless, compare"
  % (params.get("KERNEL"), params.get("TESTHOST_MEM")))
p("side by side only. Not part of the pass/fail suite.")
p()
p("1. Live migration, kvmmig vs QEMU: the same Linux guest (Debian bzImage + bench")
p("   initramfs, %s MiB RAM, 1 vCPU, ratedirty writing a %s MiB working set at a fixed"
  % (params.get("GUEST_MEM"), params.get("WSS")))
p("   page rate), loopback TCP, max downtime %s ms, QEMU max-bandwidth lifted, multifd"
  % params.get("MAX_DOWNTIME"))
p("   with %s channels. guest gap = longest silence of the guest's console lines (one"
  % params.get("CHANNELS"))
p("   every 50 ms) across the switchover, timestamped outside. src CPU = kvmmig: session")
p("   kthread + kvmmig-ctl + source kvmmig-vm minus its vCPU threads; QEMU: source process")
p("   minus its vCPU threads. CPU s/GiB = src CPU / bytes sent.")
p()
hdr = "%-7s %-8s %-13s %7s %8s %8s %8s %7s %8s %8s %6s" % (
    "rate", "achieved", "method", "total s", "down ms", "gap ms", "MB sent", "rounds",
    "srcCPU s", "CPU s/GiB", "ok")
p(hdr)
p("-" * len(hdr))
for r in sorted(mig, key=lambda r: (r.get("rate_pages_s", 0), r.get("method", ""))):
    cpu = r.get("cpu_s_total")
    b = r.get("bytes")
    p("%-7s %-8s %-13s %7s %8s %8s %8s %7s %8s %8s %6s" % (
        r.get("rate_pages_s", "-"), fmt(r.get("achieved_pages_s"), "%.0f"), r.get("method"),
        fmt(r.get("total_ms") and r["total_ms"] / 1e3, "%.2f"), fmt(r.get("downtime_ms"), "%.0f"),
        fmt(r.get("guest_gap_ms"), "%.0f"), fmt(b and b / 1e6, "%.1f"), r.get("rounds", "-"),
        fmt(cpu, "%.2f"), fmt(cpu / (b / GiB) if cpu is not None and b else None, "%.2f"),
        "yes" if r.get("ok") else "NO"))
    if not r.get("ok"):
        p("        (%s)" % (r.get("error") or "")[:150])
p("   (rate and achieved: pages/s the guest was told / wrote before the migration)")
p()

# --- link ----------------------------------------------------------------------
p("2. The link: iperf3 over the same loopback, and migration throughput as % of it")
p()
p("   iperf3 1 stream: %s MB/s; %s streams: %s MB/s" % (
    fmt(link.get(1)), params.get("CHANNELS"), fmt(link.get(int(params.get("CHANNELS", 2))))))
p()
hdr = "%-7s %-13s %14s %9s %14s %9s" % ("rate", "method", "bulk MB/s", "% link", "avg MB/s", "% link")
p(hdr)
p("-" * len(hdr))
thr = []
for r in sorted(mig, key=lambda r: (r.get("rate_pages_s", 0), r.get("method", ""))):
    if not r.get("ok"):
        continue
    streams = int(params.get("CHANNELS", 2)) if r["method"] == "qemu-multifd" else 1
    lk = link.get(streams)
    if r["method"] == "kvmmig" and r.get("round0_wall_ns"):
        bulk = r["round0_bytes"] / (r["round0_wall_ns"] / 1e9) / 1e6
    else:
        bulk = r.get("ram_mbps") and r["ram_mbps"] / 8  # QEMU: last measured Mbit/s
    avg = r["bytes"] / (r["total_ms"] / 1e3) / 1e6 if r.get("total_ms") else None
    thr.append({"rate": r["rate_pages_s"], "method": r["method"], "bulk_MBps": bulk,
                "avg_MBps": avg, "link_MBps": lk})
    p("%-7s %-13s %14s %9s %14s %9s" % (
        r["rate_pages_s"], r["method"], fmt(bulk), fmt(bulk and lk and 100 * bulk / lk, "%.0f%%"),
        fmt(avg), fmt(avg and lk and 100 * avg / lk, "%.0f%%")))
p("   bulk: kvmmig = round 0 bytes / round 0 time; QEMU = its own 'mbps' (last interval).")
p("   avg = bytes sent / total time. % link against iperf3 with as many streams.")
p()

# --- harvest -------------------------------------------------------------------
harv = {}
for l in read("harvest.txt").splitlines():
    if not l.startswith("harvest mem="):
        continue
    d = kv(l)
    if "round" not in d or int(d["round"]) < 2:  # round 1 still pays the first write-protect pass
        continue
    k = (int(d["mem"]), int(d["stride"]), d["method"])
    harv.setdefault(k, []).append((int(d["harvest_ns"]), int(d["dirty"])))
sizes = sorted({k[0] for k in harv})
strides = sorted({k[1] for k in harv}, reverse=True)
hres = []
p("3. Harvest cost per round, in-kernel (kvmmig.ko session kthread) vs userspace")
p("   (KVM_GET_DIRTY_LOG + chunked KVM_CLEAR_DIRTY_LOG from the VMM process, same VM,")
p("   same chunking): tests/tools/dirtier, one vCPU rewriting every STRIDE-th page;")
p("   median over incremental rounds 2..%s, %s ms apart." % (params.get("HARVEST_ROUNDS"), params.get("HARVEST_MS")))
p()
hdr = "%8s %7s %9s %12s %12s %8s" % ("mem MiB", "dirty", "pages/rd", "module ms", "user ms", "mod/user")
p(hdr)
p("-" * len(hdr))
for m in sizes:
    for s in strides:
        mod, usr = harv.get((m, s, "module")), harv.get((m, s, "user"))
        if not mod and not usr:
            continue
        mm = statistics.median(x[0] for x in mod) / 1e6 if mod else None
        uu = statistics.median(x[0] for x in usr) / 1e6 if usr else None
        dp = statistics.median(x[1] for x in (mod or usr))
        hres.append({"mem_mib": m, "dirty_fraction": 1 / s, "dirty_pages": dp,
                     "module_ms": mm, "user_ms": uu})
        p("%8d %6.1f%% %9d %12s %12s %8s" % (m, 100 / s, dp, fmt(mm, "%.2f"), fmt(uu, "%.2f"),
                                             fmt(mm / uu if mm and uu else None, "%.2f")))
p()

# --- scale ---------------------------------------------------------------------
scale = []
for l in read("scale.txt").splitlines():
    m = re.match(r"scale mem=(\d+) gap_ms=(\d+) done=(\{.*?\}) round0=(.*)$", l)
    if not m:
        continue
    d = json.loads(m.group(3))
    try:
        r0 = json.loads(m.group(4))
    except ValueError:
        r0 = {}
    scale.append({"mem_mib": int(m.group(1)), "total_s": d["total_ns"] / 1e9,
                  "downtime_ms": d["downtime_ns"] / 1e6, "bytes": d["bytes"], "rounds": d["rounds"],
                  "guest_gap_ms": int(m.group(2)), "round0_s": r0.get("wall_ns", 0) / 1e9})
p("4. Scale: kvmmig total time by guest memory (dirtymem payload guest, 64 MiB working")
p("   set, loopback) and harvest cost (3.) by guest memory; plot: scale.png")
p()
hdr = "%8s %8s %9s %8s %8s %7s   %s" % ("mem MiB", "total s", "round0 s", "down ms", "MB sent", "rounds",
                                      "harvest ms module/user at " + ", ".join("%.1f%%" % (100 / s) for s in strides))
p(hdr)
p("-" * len(hdr))
for m in sorted(set([x["mem_mib"] for x in scale] + sizes)):
    sc = next((x for x in scale if x["mem_mib"] == m), None)
    hs = []
    for s in strides:
        h = next((x for x in hres if x["mem_mib"] == m and abs(x["dirty_fraction"] - 1 / s) < 1e-9), None)
        hs.append("%s/%s" % (fmt(h and h["module_ms"], "%.1f"), fmt(h and h["user_ms"], "%.1f")))
    p("%8d %8s %9s %8s %8s %7s   %s" % (
        m, fmt(sc and sc["total_s"], "%.2f"), fmt(sc and sc["round0_s"], "%.2f"),
        fmt(sc and sc["downtime_ms"], "%.0f"), fmt(sc and sc["bytes"] / 1e6, "%.1f"),
        sc["rounds"] if sc else "-", "  ".join(hs)))
p()

text = "\n".join(lines) + "\n"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "results.txt"), "w") as f:
    f.write(text)
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"params": params, "link_MBps": link, "migrations": mig, "throughput": thr,
               "harvest": hres, "scale": scale}, f, indent=1)
print(text, end="")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    if scale:
        xs = sorted(scale, key=lambda x: x["mem_mib"])
        a1.plot([x["mem_mib"] for x in xs], [x["total_s"] for x in xs], "o-", label="kvmmig total")
        a1.plot([x["mem_mib"] for x in xs], [x["round0_s"] for x in xs], "s--", label="kvmmig round 0")
    a1.set_xlabel("guest memory (MiB)")
    a1.set_ylabel("seconds (TCG test host)")
    a1.set_title("migration time by guest memory")
    a1.legend()
    for s in strides:
        pts = sorted((x for x in hres if abs(x["dirty_fraction"] - 1 / s) < 1e-9), key=lambda x: x["mem_mib"])
        if not pts:
            continue
        l, = a2.plot([x["mem_mib"] for x in pts], [x["module_ms"] for x in pts], "o-",
                     label="module %.1f%%" % (100 / s))
        a2.plot([x["mem_mib"] for x in pts], [x["user_ms"] for x in pts], "x--", color=l.get_color(),
                label="userspace %.1f%%" % (100 / s))
    a2.set_xlabel("guest memory (MiB)")
    a2.set_ylabel("harvest ms per round (median)")
    a2.set_yscale("log")
    a2.set_title("harvest cost by guest memory and dirty fraction")
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scale.png"), dpi=110)
    print("bench: wrote %s/results.txt, results.json, scale.png" % out)
except ImportError:
    print("bench: python3-matplotlib missing: no scale.png (scripts/install-deps)")
