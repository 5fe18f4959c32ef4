#!/usr/bin/python3
"""report.py RAW OUT [--publish DOCDIR]: the benchmark report from
tests/bench/inhost.sh's raw data (RAW/params, meta, load.txt, link.txt,
mig.jsonl, converge.jsonl, harvest.txt, scale.txt, mig/profile.txt) into OUT/report.md,
OUT/results.json and the plots OUT/migrations.png, OUT/scale.png (matplotlib).
With --publish, also DOCDIR/PERFORMANCE.md and DOCDIR/performance/*.png.
Every figure is stated against the goals of issue 7."""
import json, os, re, shutil, statistics, sys

raw, out = sys.argv[1], sys.argv[2]
publish = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--publish" else None
GiB = 1 << 30


def read(name):
    try:
        with open(os.path.join(raw, name)) as f:
            return f.read()
    except OSError:
        return ""


def kv(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def keyvals(text):
    d = {}
    for l in text.splitlines():
        if "=" in l:
            k, v = l.split("=", 1)
            d[k.strip()] = v.strip().strip('"')
    return d


params, meta = keyvals(read("params")), keyvals(read("meta"))
md = []


def p(s=""):
    md.append(s)


def fmt(v, f="%.1f"):
    return "–" if v is None else f % v


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(hdr, rows):
    p("| " + " | ".join(hdr) + " |")
    p("|" + "|".join("---:" if i else "---" for i in range(len(hdr))) + "|")
    for r in rows:
        p("| " + " | ".join(str(x) for x in r) + " |")
    p()


# --- data ------------------------------------------------------------------------
link = {}
for l in read("link.txt").splitlines():
    if l.startswith("link "):
        d = kv(l)
        link[int(d["streams"])] = int(d["bits_per_second"]) / 8 / 1e6  # MB/s
channels = int(params.get("CHANNELS", 2))

def jsonl(name):
    """The JSON lines of RAW/name (other lines skipped)."""
    out = []
    for l in read(name).splitlines():
        try:
            out.append(json.loads(l))
        except ValueError:
            pass
    return out


mig = jsonl("mig.jsonl")
METHODS = ["kvmmig", "kvmmig-tls", "qemu", "qemu-multifd", "kvmmig-qemu"]
rates = sorted({r["rate_pages_s"] for r in mig if "rate_pages_s" in r})


def completed():
    """(rate, method, run) of every migration that completed, by rate, then method."""
    for rate in rates:
        for m in METHODS:
            r = get(m, rate)
            if r and r.get("ok"):
                yield rate, m, r


def get(method, rate):
    return next((r for r in mig if r.get("method") == method and r.get("rate_pages_s") == rate), None)


for r in mig:
    if r.get("ok"):
        r["cpu_per_gib"] = r["cpu_s_total"] / (r["bytes"] / GiB) if r.get("bytes") else None
        r["avg_MBps"] = r["bytes"] / (r["total_ms"] / 1e3) / 1e6 if r.get("total_ms") else None
        if r["method"].startswith("kvmmig") and r.get("round0_wall_ns"):
            r["bulk_MBps"] = r["round0_bytes"] / (r["round0_wall_ns"] / 1e9) / 1e6
        else:
            r["bulk_MBps"] = r.get("ram_mbps") and r["ram_mbps"] / 8

harv = {}
htime = {}
for l in read("harvest.txt").splitlines():
    d = kv(l)
    if l.startswith("harvest-time "):
        htime[int(d["mem"])] = int(d["seconds"])
    if not l.startswith("harvest mem=") or "round" not in d:
        continue
    k = (int(d["mem"]), int(d["stride"]), d["method"])
    harv.setdefault(k, []).append({x: int(d[x]) for x in ("harvest_ns", "send_ns", "dirty")})
hsizes = sorted({k[0] for k in harv})
strides = sorted({k[1] for k in harv if k[1]}, reverse=True)
hres = []
for m in hsizes:
    for s in [0] + strides:
        mod, usr = harv.get((m, s, "module")), harv.get((m, s, "user"))
        if not mod and not usr:
            continue
        hres.append({
            "mem_mib": m, "stride": s, "dirty_fraction": 1 / s if s else 1.0,
            "dirty_pages": med(x["dirty"] for x in (mod or usr)),
            "module_ms": med(x["harvest_ns"] / 1e6 for x in mod or []),
            "user_ms": med(x["harvest_ns"] / 1e6 for x in usr or []),
            "module_send_ms": med(x["send_ns"] / 1e6 for x in mod or []),
            "user_send_ms": med(x["send_ns"] / 1e6 for x in usr or []),
            "rounds": len(mod or usr)})


def hget(m, s):
    return next((x for x in hres if x["mem_mib"] == m and x["stride"] == s), None)


scale = []
for l in read("scale.txt").splitlines():
    # (method= and harvests= since the dirty ring: an older scale.txt is all bitmap)
    m = re.match(r"scale mem=(\d+)(?: method=(\w+))? gap_ms=(\d+)(?: harvests=([0-9.,]*))? "
                 r"done=(\{.*?\}) round0=(.*)$", l)
    if not m:
        continue
    d = json.loads(m.group(5))
    try:
        r0 = json.loads(m.group(6))
    except ValueError:
        r0 = {}
    harvests = [float(x) for x in (m.group(4) or "").split(",") if x]
    scale.append({"mem_mib": int(m.group(1)), "method": m.group(2) or "bitmap",
                  "total_s": d["total_ns"] / 1e9,
                  "downtime_ms": d["downtime_ns"] / 1e6, "bytes": d["bytes"], "rounds": d["rounds"],
                  "guest_gap_ms": int(m.group(3)), "round0_s": r0.get("wall_ns", 0) / 1e9,
                  "round0_harvest_ms": r0.get("harvest_ns", 0) / 1e6,
                  "harvest_ms": med(harvests) if harvests else None})
scale_failed = [l for l in read("scale.txt").splitlines() if "error" in l or "failed" in l]


# --- goals -----------------------------------------------------------------------
def ratios(fn, other, mine="kvmmig"):
    """{rate: fn(run of mine, run of other)} where both completed."""
    outr = {}
    for rate in rates:
        a, b = get(mine, rate), get(other, rate)
        if a and b and a.get("ok") and b.get("ok"):
            v = fn(a, b)
            if v is not None:
                outr[rate] = v
    return outr


def verdict(rs, ok):
    if not rs:
        return "not measured"
    n = sum(1 for v in rs.values() if ok(v))
    return "**met**" if n == len(rs) else ("**not met**" if n == 0 else "met at %d of %d rates" % (n, len(rs)))


def per_rate(rs, f):
    return ", ".join("%d: %s" % (k, f % v) for k, v in sorted(rs.items())) or "–"


def failures(method):
    return [r for r in mig if r.get("method") == method and not r.get("ok")]


conv = jsonl("converge.jsonl")
CONV_KVMMIG, CONV_QEMU = ["kvmmig", "kvmmig-ring"], ["qemu-ac", "qemu10-ac", "qemu10-dl"]


def slowed(r):
    """vCPU 0's pace during the migration as a share of before (it dirties nothing)."""
    return (r.get("during") or {}).get("vcpu0_of_before")


goals = []
lk1 = link.get(1)
# Downtime as the guest sees it: the console silence at the switchover
# (runs before it was recorded: the longest silence during the migration).
GAP = "switch_gap_ms" if any(r.get("switch_gap_ms") for r in mig) else "guest_gap_ms"
g1 = {r["rate_pages_s"]: r["bulk_MBps"] / (r.get("link_MBps") or lk1) for r in mig
      if r.get("method") == "kvmmig" and r.get("ok") and r.get("bulk_MBps") and (r.get("link_MBps") or lk1)}
goals.append(("kvmmig throughput ≥ 90 % of raw TCP (iperf3, 1 stream)",
              "round-0 send rate ÷ iperf3 run just before it: median %s (per rate %s); "
              "iperf3 %s MB/s" % (
                  fmt(med(g1.values()), "%.2f"), per_rate(g1, "%.2f"),
                  ", ".join(fmt(r.get("link_MBps")) for r in mig if r.get("method") == "kvmmig")
                  if any(r.get("link_MBps") for r in mig) else fmt(lk1)),
              verdict(g1, lambda v: v >= 0.9)))
g2a = ratios(lambda a, b: a["avg_MBps"] / b["avg_MBps"] if b.get("avg_MBps") else None, "qemu")
g2b = ratios(lambda a, b: a["avg_MBps"] / b["avg_MBps"] if b.get("avg_MBps") else None, "qemu-multifd")
nf_s, nf_m = failures("qemu"), failures("qemu-multifd")
goals.append(("≥ 2× QEMU single-channel throughput",
              "bytes/total time, kvmmig ÷ QEMU: median %s (per rate %s)%s" % (
                  fmt(med(g2a.values()), "%.2f"), per_rate(g2a, "%.2f"),
                  "; QEMU did not converge at %s pages/s" % ", ".join(str(r["rate_pages_s"]) for r in nf_s)
                  if nf_s else ""),
              verdict(g2a, lambda v: v >= 2)))
goals.append(("≥ QEMU multifd throughput (%d channels)" % channels,
              "kvmmig ÷ QEMU multifd: median %s (per rate %s)%s" % (
                  fmt(med(g2b.values()), "%.2f"), per_rate(g2b, "%.2f"),
                  "; multifd did not converge at %s pages/s" % ", ".join(str(r["rate_pages_s"]) for r in nf_m)
                  if nf_m else ""),
              verdict(g2b, lambda v: v >= 1)))
for other, label in (("qemu", "single-channel"), ("qemu-multifd", "multifd")):
    g3 = ratios(lambda a, b: a["cpu_per_gib"] / b["cpu_per_gib"] if b.get("cpu_per_gib") else None, other)
    goals.append(("source CPU per GiB ≤ ⅓ of QEMU %s" % label,
                  "kvmmig ÷ QEMU: median %s (per rate %s)" % (fmt(med(g3.values()), "%.2f"),
                                                              per_rate(g3, "%.2f")),
                  verdict(g3, lambda v: v <= 1 / 3)))
for other, label in (("qemu", "single-channel"), ("qemu-multifd", "multifd")):
    g4 = ratios(lambda a, b: a[GAP] / b[GAP] if a.get(GAP) and b.get(GAP) else None, other)
    goals.append(("guest-seen downtime ≤ ½ of QEMU %s (max-downtime %s ms)" % (label, params.get("MAX_DOWNTIME")),
                  "kvmmig ÷ QEMU: median %s (per rate %s)" % (fmt(med(g4.values()), "%.2f"),
                                                              per_rate(g4, "%.2f")),
                  verdict(g4, lambda v: v <= 0.5)))
# kvmmig moving a QEMU guest's RAM (QEMU its devices) against QEMU alone.
if any(r.get("method") == "kvmmig-qemu" for r in mig):
    g5 = ratios(lambda a, b: a["avg_MBps"] / b["avg_MBps"] if b.get("avg_MBps") else None, "qemu", "kvmmig-qemu")
    goals.append(("QEMU guest: kvmmig + QEMU ≥ 2× QEMU single-channel throughput",
                  "bytes/total time, kvmmig-qemu ÷ QEMU: median %s (per rate %s)%s" % (
                      fmt(med(g5.values()), "%.2f"), per_rate(g5, "%.2f"),
                      "; kvmmig-qemu failed at %s pages/s" % ", ".join(
                          str(r["rate_pages_s"]) for r in failures("kvmmig-qemu")) if failures("kvmmig-qemu") else ""),
                  verdict(g5, lambda v: v >= 2)))
    g6 = ratios(lambda a, b: a["cpu_per_gib"] / b["cpu_per_gib"] if b.get("cpu_per_gib") else None, "qemu", "kvmmig-qemu")
    goals.append(("QEMU guest: source CPU per GiB ≤ ⅓ of QEMU single-channel",
                  "kvmmig-qemu ÷ QEMU: median %s (per rate %s)" % (fmt(med(g6.values()), "%.2f"), per_rate(g6, "%.2f")),
                  verdict(g6, lambda v: v <= 1 / 3)))
    g7 = ratios(lambda a, b: a[GAP] / b[GAP] if a.get(GAP) and b.get(GAP) else None, "qemu", "kvmmig-qemu")
    goals.append(("QEMU guest: guest-seen downtime no worse than QEMU single-channel",
                  "kvmmig-qemu ÷ QEMU: median %s (per rate %s)" % (fmt(med(g7.values()), "%.2f"), per_rate(g7, "%.2f")),
                  verdict(g7, lambda v: v <= 1)))
hr = {(x["mem_mib"], x["stride"]): x["module_ms"] / x["user_ms"] for x in hres
      if x["stride"] and x["module_ms"] and x["user_ms"]}
h0 = [x["module_ms"] / x["user_ms"] for x in hres if not x["stride"] and x["module_ms"] and x["user_ms"]]
goals.append(("harvest per round: in-kernel ≤ ½ of userspace GET+CLEAR, every size and dirty fraction",
              "module ÷ userspace harvest time over %d size × fraction settings: median %s (range %s–%s); "
              "round 0 (every page): %s" % (
                  len(hr), fmt(med(hr.values()), "%.2f"), fmt(min(hr.values()) if hr else None, "%.2f"),
                  fmt(max(hr.values()) if hr else None, "%.2f"), ", ".join(fmt(v, "%.2f") for v in h0) or "–"),
              verdict(hr, lambda v: v <= 0.5).replace("rates", "settings")))

qc = [r for r in conv if r.get("method") in CONV_QEMU and r.get("ok")]
if conv:
    best_t = min((r["total_s"] for r in qc), default=None)
    best_v = max((slowed(r) for r in qc if slowed(r) is not None), default=None)
    mine = [r for r in conv if r.get("method") in CONV_KVMMIG]
    meets = [r["method"] for r in mine if r.get("ok") and best_t is not None and best_v is not None
             and r["total_s"] <= best_t and slowed(r) is not None and slowed(r) >= best_v]
    goals.append(("a guest dirtying 2× the link: converge no slower than QEMU's best, slowing its "
                  "non-dirtying vCPU less",
                  "; ".join("%s %s" % (r["method"], "%s s, vCPU 0 at %s of its pace" % (
                      fmt(r.get("total_s"), "%.1f"), fmt(slowed(r) and 100 * slowed(r), "%.0f %%"))
                      if r.get("ok") else "did not converge") for r in mine) +
                  "; QEMU's best: %s s (fastest), vCPU 0 at %s (least slowed)" % (
                      fmt(best_t, "%.1f"), fmt(best_v and 100 * best_v, "%.0f %%")),
                  ("**met** (%s)" % ", ".join(meets)) if meets else
                  ("no QEMU method converged" if not qc else "**not met**")))

# --- report ----------------------------------------------------------------------
p("# kvmmig performance")
p()
p("Generated by `%s` (tests/bench/run, tests/bench/report.py) on %s, commit %s." % (
    meta.get("COMMAND", "make bench"), meta.get("DATE", "?"), meta.get("COMMIT", "?")))
p()
p("**Machine.** %s; %s cores, %s GiB RAM; %s. Everything below ran inside one *test host*: "
  "QEMU %s with TCG (software emulation, `-cpu max`, %s vCPUs, %s MiB) booting Debian's %s kernel, "
  "which runs the guests on nested KVM (`kvm_amd` over the emulated SVM). **Absolute numbers are "
  "emulated and mean little; the ratios between methods measured side by side in the same test host "
  "are what matter.**" % (
      meta.get("CPU", "?"), meta.get("CORES", "?"), meta.get("MEM_GIB", "?"), meta.get("OS", "?"),
      meta.get("QEMU", "?"), params.get("TESTHOST_CPUS", "2"), params.get("TESTHOST_MEM"),
      meta.get("TESTHOST_KERNEL", params.get("KERNEL"))))
p()
p("**Load.** %s The run took %s s (test host %s s)." % (
    meta.get("LOAD", "not recorded."), meta.get("TOTAL_S", "?"), meta.get("INHOST_S", "?")))
p()
p("## Against the goals")
p()
table(["goal", "measured", "verdict"], goals)
p("Ratios are kvmmig ÷ QEMU at the same dirty rate, same guest, same max-downtime, measured in the "
  "same test host one after the other; \"per rate\" lists `pages/s: ratio`.")
p()

# 1. migrations
p("## 1. Live migration: kvmmig against QEMU")
p()
p("The same Linux guest (Debian's bzImage + the bench initramfs, %s MiB RAM, 1 vCPU; "
  "`ratedirty` writes a %s MiB working set at a fixed page rate) migrated over loopback TCP inside "
  "the test host, max downtime %s ms everywhere. **kvmmig**: kvmmig-vm → kvmmig-vm --incoming, "
  "`kvmmig-ctl migrate --insecure` (plain TCP); **kvmmig-tls**: the same with `--key` "
  "(authenticated, kernel TLS 1.3, AES-256-GCM); **qemu**: qemu-system-x86_64 -enable-kvm, "
  "max-bandwidth lifted, one channel; **qemu-multifd**: the same with multifd, %d channels; "
  "**kvmmig-qemu**: the same QEMU guest with its RAM in a shared file (/dev/shm, "
  "`memory-backend-file,share=on`, `smm=off`), `kvmmig-ctl migrate --qemu --insecure`: kvmmig.ko "
  "moves the RAM, QEMU's own stream its devices and vCPUs, the verify-and-repair pass at the "
  "switchover resends what QEMU's devices wrote (its source CPU counts QEMU's non-vCPU threads too). "
  "Each method's guest boots once and ping-pongs to a fresh destination per migration, after "
  "%s s at the new rate." % (params.get("GUEST_MEM"), params.get("WSS"), params.get("MAX_DOWNTIME"),
                             channels, params.get("WARM")))
p()
rows = []
for rate in rates:
    for m in METHODS:
        r = get(m, rate)
        if not r:
            continue
        if not r.get("ok"):
            rows.append([rate, m, "**failed**: " + (r.get("error") or "")[:90].replace("|", "/"),
                         "", "", "", "", "", "", "", ""])
            continue
        rows.append([rate, m, fmt(r.get("achieved_pages_s"), "%.0f"), fmt(r["total_ms"] / 1e3, "%.2f"),
                     fmt(r.get("downtime_ms"), "%.0f"), fmt(r.get("switch_gap_ms"), "%.0f"),
                     fmt(r.get("guest_gap_ms"), "%.0f"),
                     fmt(r["bytes"] / 1e6, "%.0f"), r.get("rounds", "–"),
                     fmt(r.get("cpu_s_total"), "%.2f"), fmt(r.get("cpu_per_gib"), "%.2f")])
table(["rate pages/s", "method", "achieved", "total s", "downtime ms (tool)",
       "guest-seen downtime ms", "longest guest stall ms",
       "MB sent", "rounds", "source CPU s", "CPU s/GiB"], rows)
p("*guest-seen downtime*: the guest prints a console line every 50 ms, timestamped outside; "
  "from the source's last line to the destination's first (so up to 50 ms more than the pause). "
  "*longest guest stall*: the longest silence anywhere from 2 s before the migration to the "
  "destination's first line (a guest starved of CPU during round 0 counts here). *source CPU*: kvmmig = session "
  "kthread + kvmmig-ctl + source kvmmig-vm minus its vCPU threads; QEMU = the source process minus "
  "its vCPU threads. *achieved*: pages/s the guest wrote just before the migration.")
p()
p("![migrations](migrations.png)")
p()
PHASES = [("pause_ns", "pause"), ("final_round_ns", "final round"), ("verify_ns", "verify"),
          ("save_ns", "save"), ("transfer_ns", "transfer"), ("restore_ns", "restore"),
          ("resume_ns", "resume")]
rows = []
for rate, m, r in completed():
    ph = r.get("downtime_phases_ns") or {}
    rows.append([rate, m, fmt(r.get("downtime_ms"), "%.0f")] +
                [fmt(ph[k] / 1e6, "%.1f") if k in ph else "–" for k, _ in PHASES] +
                [fmt(r.get("line_to_pause_ms"), "%.0f"), fmt(r.get("running_to_line_ms"), "%.0f"),
                 fmt(r.get("switch_gap_ms") and r.get("downtime_ms") and r["switch_gap_ms"] - r["downtime_ms"], "%.0f"),
                 fmt(r.get("switch_gap_ms"), "%.0f")])
if any(r[3] != "–" for r in rows):
    p("**Where the downtime goes.** kvmmig's own breakdown of its downtime (`kvmmig-ctl --json`, "
      "the phases from the source's pause to the destination's resume, ms) next to QEMU's single "
      "figure, and what the guest saw beyond it: *line → pause*, from the source guest's last "
      "console line to the tool's pause, and *running → line*, from the destination's resume to "
      "its first line (kvmmig only: the same clock as the tool's), each up to one 50 ms line "
      "interval when nothing else delays the guest.")
    p()
    table(["rate pages/s", "method", "downtime ms (tool)"] + [n for _, n in PHASES] +
          ["line → pause ms", "running → line ms", "guest-seen − tool ms", "guest-seen ms"], rows)

# 2. link
p("## 2. The link: raw TCP and each method's throughput")
p()
p("iperf3 over the same loopback in the same test host: at the start of the run 1 stream %s MB/s, "
  "%d streams %s MB/s; and for %s s just before each migration (with as many streams as the "
  "method uses), the baseline each migration is compared with below: the load on the machine "
  "moves it by 2× within a run." % (fmt(link.get(1)), channels, fmt(link.get(channels)),
                                    params.get("LINK_SECS_EACH", "3")))
p()
rows = []
for rate, m, r in completed():
    lk = r.get("link_MBps") or link.get(channels if m == "qemu-multifd" else 1)
    rows.append([rate, m, fmt(lk), fmt(r.get("bulk_MBps")),
                 fmt(r.get("bulk_MBps") and lk and 100 * r["bulk_MBps"] / lk, "%.0f %%"),
                 fmt(r.get("avg_MBps")), fmt(r.get("avg_MBps") and lk and 100 * r["avg_MBps"] / lk, "%.0f %%")])
table(["rate pages/s", "method", "iperf3 MB/s", "bulk MB/s", "% of iperf3", "bytes/total time MB/s", "% of iperf3"], rows)
p("*bulk*: kvmmig = round 0 bytes ÷ round 0 time (the full copy); QEMU = its own `mbps` "
  "(last interval).")
p()

# 3. harvest
p("## 3. Harvest cost: in-kernel against userspace")
p()
p("tests/tools/dirtier: one vCPU rewrites every STRIDE-th page of its memory, pass after pass. "
  "Each round runs the vCPU %s ms, pauses it at the end of a pass, then harvests and sends: every "
  "round holds exactly 1/STRIDE of memory. **module**: `kvmmig-ctl debug source` (KVM_GET_DIRTY_LOG + "
  "chunked KVM_CLEAR_DIRTY_LOG from the session kthread in the VMM's mm); **userspace**: the same "
  "ioctls and chunking from the VMM process (`dirtier hbench`). Both stream to a draining sink. "
  "Median of %s rounds per setting; round 0 = the first, full round (every page)." % (
      params.get("HARVEST_MS"), params.get("HARVEST_ROUNDS")))
p()
rows = []
for x in hres:
    rows.append([x["mem_mib"], "%.1f %%" % (100 * x["dirty_fraction"]) if x["stride"] else "round 0 (all)",
                 fmt(x["dirty_pages"], "%d"), fmt(x["module_ms"], "%.2f"), fmt(x["user_ms"], "%.2f"),
                 fmt(x["module_ms"] / x["user_ms"] if x["module_ms"] and x["user_ms"] else None, "%.2f"),
                 fmt(x["module_send_ms"], "%.0f"), fmt(x["user_send_ms"], "%.0f")])
table(["guest MiB", "dirty", "pages/round", "module harvest ms", "userspace harvest ms", "module ÷ user",
       "module send ms", "userspace send ms"], rows)
p("Largest size: %s MiB, the largest power of two whose source and destination both fit in the "
  "%s MiB test host. Seconds per size (both methods, all fractions): %s." % (
      max(hsizes) if hsizes else "–", params.get("TESTHOST_MEM"),
      ", ".join("%d MiB %d s" % kv_ for kv_ in sorted(htime.items())) or "–"))
p()

# 4. scale
p("## 4. Scale: total time and harvest cost by guest memory")
p()
p("kvmmig migrating the dirtymem payload guest (boots at once; 64 MiB working set rewritten "
  "continuously) of each size over loopback, plain TCP, max downtime %s ms; harvest cost from 3 "
  "(median per round, module / userspace)." % params.get("MAX_DOWNTIME"))
p()
rows = []
for m in sorted(set([x["mem_mib"] for x in scale] + hsizes)):
    sc = next((x for x in scale if x["mem_mib"] == m and x["method"] == "bitmap"), None)
    hs = []
    for s in [0] + strides:
        h = hget(m, s)
        hs.append("%s / %s" % (fmt(h and h["module_ms"], "%.1f"), fmt(h and h["user_ms"], "%.1f")))
    rows.append([m, fmt(sc and sc["total_s"], "%.2f"), fmt(sc and sc["round0_s"], "%.2f"),
                 fmt(sc and sc["downtime_ms"], "%.0f"), fmt(sc and sc["guest_gap_ms"], "%.0f"),
                 fmt(sc and sc["bytes"] / 1e6, "%.0f"), sc["rounds"] if sc else "–"] + hs)
table(["guest MiB", "total s", "round 0 s", "downtime ms", "guest gap ms", "MB sent", "rounds"] +
      ["harvest ms %s" % ("round 0" if not s else "%.1f %%" % (100 / s)) for s in [0] + strides], rows)
for l in scale_failed:
    p("- `%s`" % l)
if scale_failed:
    p()
p("![scale](scale.png)")
p()
ringed = [x for x in scale if x["method"] == "ring"]
if ringed:
    p("**KVM's dirty ring against its bitmap** (issue 17): the same guest and migration with the "
      "source on `kvmmig-vm --dirty-ring 65536`, the VMM reaping every vCPU's ring before each "
      "round (`dirty-ring-reap`). Harvest per pre-copy round after round 0 (median, ms; the "
      "ring's includes the tool asking the VMM and the VMM's reap): a bitmap harvest walks a "
      "bit per page of the guest, a ring harvest an entry per page dirtied.")
    p()
    rows = []
    for m in sorted(set(x["mem_mib"] for x in scale)):
        b = next((x for x in scale if x["mem_mib"] == m and x["method"] == "bitmap"), None)
        r = next((x for x in ringed if x["mem_mib"] == m), None)
        rows.append([m, fmt(b and b["harvest_ms"], "%.2f"), fmt(r and r["harvest_ms"], "%.2f"),
                     fmt(b and r and b["harvest_ms"] and r["harvest_ms"] and r["harvest_ms"] / b["harvest_ms"], "%.2f"),
                     fmt(b and b["total_s"], "%.2f"), fmt(r and r["total_s"], "%.2f"),
                     fmt(b and b["downtime_ms"], "%.0f"), fmt(r and r["downtime_ms"], "%.0f")])
    table(["guest MiB", "bitmap harvest ms", "ring harvest ms", "ring ÷ bitmap", "bitmap total s",
           "ring total s", "bitmap downtime ms", "ring downtime ms"], rows)
    p()

# 5. convergence
p("## 5. Convergence: a guest dirtying twice the link")
p()
if conv:
    c0 = conv[0]
    p("tests/bench/converge.py: the same Linux guest (%s MiB, 2 vCPUs) for every method: vCPU 0 runs "
      "`workpace` (pure CPU work, no memory written: its pace is what a throttle costs a vCPU that "
      "dirties nothing), vCPU 1 `ratedirty` at %s pages/s over %s MiB, twice the link of %s MB/s "
      "(kvmmig-ctl `--bandwidth`, QEMU `max-bandwidth`), max downtime %s ms. **kvmmig**: KVM's dirty "
      "bitmap, `--converge auto` throttles the whole guest 20%% then +10%% a round; **kvmmig-ring**: "
      "`kvmmig-vm --dirty-ring %s`, the tool limits the dirty rate of the vCPUs over their share; "
      "**qemu-ac**: QEMU %s auto-converge (20%% then +10%%); **qemu10-ac**: the same under QEMU 10.0; "
      "**qemu10-dl**: QEMU 10.0 dirty-limit (`dirty-ring-size=%s`, every vCPU limited to "
      "vcpu-dirty-limit, 1 MB/s, once it throttles; QEMU enforces it only at a full ring, so both "
      "rings are sized to fill within QEMU's 1 s reaping period). Paces: before = the %s s before the migration; "
      "during = its start to the source's last line; after = at the destination, the %s s "
      "from %s s after its first line." % (params.get("GUEST_MEM"), c0.get("target_pages_s"), c0.get("wss_mib"),
                       c0.get("link_MBps"), params.get("MAX_DOWNTIME"), c0.get("ring_entries"),
                       meta.get("QEMU", "7.2").split(" ")[0], c0.get("ring_entries"),
                       c0.get("baseline_s"), c0.get("baseline_s"), c0.get("settle_s")))
    p()
    rows = []
    for r in conv:
        b, d, a_ = r.get("before") or {}, r.get("during") or {}, r.get("after") or {}
        thr = r.get("throttle_max_pct")
        lim = ", ".join(map(str, r.get("dirty_limit_pages_s") or []))
        rows.append([r["method"], "yes" if r.get("ok") else "**no**: " + (r.get("error") or "")[:80].replace("|", "/"),
                     fmt(r.get("total_s"), "%.1f"), fmt(r.get("downtime_ms"), "%.0f"),
                     fmt(r.get("mb_sent"), "%.0f"), r.get("rounds", "–"),
                     ("limit %s pages/s, vCPUs %s" % (lim, ",".join(r.get("limited_vcpus") or [])) if lim
                      else "%s %%" % thr if thr else "–"),
                     fmt(b.get("vcpu0_units_s"), "%.0f"), fmt(d.get("vcpu0_units_s"), "%.0f"),
                     fmt(d.get("vcpu0_of_before") and 100 * d["vcpu0_of_before"], "%.0f %%"),
                     fmt(a_.get("vcpu0_units_s"), "%.0f"),
                     fmt(b.get("vcpu1_pages_s"), "%.0f"), fmt(d.get("vcpu1_pages_s"), "%.0f"),
                     fmt(a_.get("vcpu1_pages_s"), "%.0f")])
    table(["method", "converged", "total s", "downtime ms", "MB sent", "rounds", "throttle (highest)",
           "vCPU 0 units/s before", "during", "during ÷ before", "after", "vCPU 1 pages/s before",
           "during", "after"], rows)
    p("*throttle*: kvmmig's highest step (bitmap: the whole guest's share of each period asleep; "
      "ring: the dirty limit and the vCPUs it held) or QEMU's `cpu-throttle-percentage` (auto-converge; "
      "dirty-limit reports none). *after*: a throttle left in force would show here.")
else:
    p("Not run in this report.")
p()

# 6. profile
prof = read("mig/profile.txt")
p("## 6. Where kvmmig's time goes: profile of the send path")
p()
if prof:
    p("One more kvmmig migration after the measured ones (highest rate, plain TCP) under "
      "`perf record -e cpu-clock -a -g` inside the test host (the emulated CPU has no PMU: "
      "timer sampling). Top entries:")
    p()
    p("```")
    p(prof.rstrip())
    p("```")
else:
    p("No profile in this run.")
p()
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes):
    with open(notes) as f:
        p(f.read().rstrip())
    p()
p("## Parameters")
p()
p("```")
p(read("params").rstrip())
p("```")

text = "\n".join(md) + "\n"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "report.md"), "w") as f:
    f.write(text)
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"params": params, "meta": meta, "link_MBps": link, "migrations": mig,
               "converge": conv, "harvest": hres, "scale": scale, "goals": goals}, f, indent=1)

# --- plots -----------------------------------------------------------------------
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 4, figsize=(16, 3.8))
    w = 0.8 / len(METHODS)
    for i, m in enumerate(METHODS):
        xs = [j + (i - (len(METHODS) - 1) / 2) * w for j in range(len(rates))]
        for ax, key, scale_ in ((axs[0], "total_ms", 1e-3), (axs[1], GAP, 1),
                                (axs[2], "cpu_per_gib", 1), (axs[3], "avg_MBps", 1)):
            ys = []
            for rate in rates:
                r = get(m, rate)
                ys.append(r[key] * scale_ if r and r.get("ok") and r.get(key) else 0)
            ax.bar(xs, ys, w, label=m)
    for ax, t in zip(axs, ("total time (s)", "guest-seen downtime (ms)", "source CPU s per GiB",
                           "bytes / total time (MB/s)")):
        ax.set_xticks(range(len(rates)))
        ax.set_xticklabels(["%d" % r for r in rates])
        ax.set_xlabel("dirty rate (pages/s)")
        ax.set_title(t, fontsize=10)
    if link.get(1):
        axs[3].axhline(link[1], color="k", ls=":", lw=1, label="iperf3 1 stream")
    axs[3].legend(fontsize=7)
    fig.suptitle("kvmmig vs QEMU, %s MiB Linux guest, TCG test host (0 = failed / did not converge)"
                 % params.get("GUEST_MEM"), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "migrations.png"), dpi=100)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    if scale:
        xs = sorted((x for x in scale if x["method"] == "bitmap"), key=lambda x: x["mem_mib"])
        a1.plot([x["mem_mib"] for x in xs], [x["total_s"] for x in xs], "o-", label="kvmmig total")
        a1.plot([x["mem_mib"] for x in xs], [x["round0_s"] for x in xs], "s--", label="kvmmig round 0")
    a1.set_xlabel("guest memory (MiB)")
    a1.set_ylabel("seconds (TCG test host)")
    a1.set_title("migration time by guest memory")
    a1.legend()
    for s in strides:
        pts = sorted((x for x in hres if x["stride"] == s), key=lambda x: x["mem_mib"])
        if not pts:
            continue
        l, = a2.plot([x["mem_mib"] for x in pts], [x["module_ms"] for x in pts], "o-",
                     label="module %.1f%%" % (100 / s))
        a2.plot([x["mem_mib"] for x in pts], [x["user_ms"] for x in pts], "x--", color=l.get_color(),
                label="userspace %.1f%%" % (100 / s))
    # A migration's own harvest per round, bitmap against ring, the same guest (64 MiB written).
    for method, mark in (("bitmap", "D-"), ("ring", "^-")):
        pts = sorted((x for x in scale if x["method"] == method and x["harvest_ms"]),
                     key=lambda x: x["mem_mib"])
        if pts:
            a2.plot([x["mem_mib"] for x in pts], [x["harvest_ms"] for x in pts], mark, linewidth=2,
                    label="migration, %s" % method)
    a2.set_xlabel("guest memory (MiB)")
    a2.set_ylabel("harvest ms per round (median)")
    a2.set_yscale("log")
    a2.set_title("harvest cost by guest memory and dirty fraction")
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scale.png"), dpi=100)
    plt.close(fig)
except ImportError:
    print("bench: python3-matplotlib missing: no plots", file=sys.stderr)

if publish:
    img = os.path.join(publish, "performance")
    os.makedirs(img, exist_ok=True)
    for f in ("migrations.png", "scale.png"):
        if os.path.exists(os.path.join(out, f)):
            shutil.copy(os.path.join(out, f), os.path.join(img, f))
    with open(os.path.join(publish, "PERFORMANCE.md"), "w") as f:
        f.write(text.replace("](migrations.png)", "](performance/migrations.png)")
                .replace("](scale.png)", "](performance/scale.png)"))
print(text, end="")
print("bench: wrote %s/report.md, results.json, migrations.png, scale.png%s" % (
    out, " and %s/PERFORMANCE.md" % publish if publish else ""))
