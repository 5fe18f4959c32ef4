#!/usr/bin/python3
"""tests/bench/compare.py RESULTS.jsonl OLD NEW: the table of tests/bench/compare.

For each method and dirty rate, the median over the pairs of each figure for
the older tree and this one, side by side, and new ÷ old. A migration that
failed counts in "ok" and nowhere else."""
import json
import statistics
import sys


def bulk(r):
    """Round 0's send rate, MB/s (the full copy)."""
    if r.get("round0_bytes") and r.get("round0_wall_ns"):
        return r["round0_bytes"] / r["round0_wall_ns"] * 1e3
    return None


def link_share(r):
    b = bulk(r)
    return b / r["link_MBps"] if b and r.get("link_MBps") else None


def cpu_per_gib(r):
    if r.get("cpu_s_total") is not None and r.get("bytes"):
        return r["cpu_s_total"] / (r["bytes"] / 2**30)
    return None


FIGURES = [  # (label, function of one result)
    ("total s", lambda r: r["total_ms"] / 1e3),
    ("downtime ms (tool)", lambda r: r.get("downtime_ms")),
    ("guest-seen downtime ms", lambda r: r.get("guest_gap_ms")),
    ("round-0 MB/s", bulk),
    ("round 0 / iperf3", link_share),
    ("source CPU s/GiB", cpu_per_gib),
    ("MB sent", lambda r: r["bytes"] / 1e6 if r.get("bytes") else None),
    ("rounds", lambda r: r.get("rounds")),
]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x):
    if x is None:
        return "-"
    return "%.0f" % x if abs(x) >= 100 else "%.2f" % x


def main():
    path, old, new = sys.argv[1:4]
    rows = []
    with open(path) as f:
        for l in f:
            try:
                r = json.loads(l)
            except ValueError:
                continue
            if "tree" in r and "rate_pages_s" in r:
                rows.append(r)
    keys = sorted({(r["method"], r["rate_pages_s"]) for r in rows})
    print("kvmmig %s (old) against %s (new): medians over the pairs, one test host, alternating" % (old, new))
    print()
    print("| method | pages/s | figure | old | new | new ÷ old |")
    print("|---|---:|---|---:|---:|---:|")
    for method, rate in keys:
        mine = [r for r in rows if (r["method"], r["rate_pages_s"]) == (method, rate)]
        by = {t: [r for r in mine if r["tree"] == t] for t in ("old", "new")}
        okc = {t: "%d/%d" % (sum(1 for r in by[t] if r.get("ok")), len(by[t])) for t in by}
        print("| %s | %d | ok | %s | %s | |" % (method, rate, okc["old"], okc["new"]))
        for label, fn in FIGURES:
            if not any(r.get("ok") for r in mine):
                break
            m = {t: median(fn(r) for r in by[t] if r.get("ok")) for t in by}
            ratio = m["new"] / m["old"] if m["old"] and m["new"] is not None else None
            print("| %s | %d | %s | %s | %s | %s |" % (method, rate, label, fmt(m["old"]), fmt(m["new"]),
                                                      "%.2f" % ratio if ratio is not None else "-"))
    print()
    print("Lower is better for every figure but round-0 MB/s and round 0 / iperf3.")


if __name__ == "__main__":
    main()
