#!/usr/bin/env python3
"""The cost of hardened builds, from one run_bench.py run (its <stem>.csv):
per workload, each column's median throughput and peak RSS over a reference
column's (hakmem, the default build, unless --ref), and their geometric
means over every workload both columns completed.

  cost_table.py docs/results/2026-12-03-secure.csv [--ref hakmem] [--cols a,b,...]

Prints markdown: the summary (geo-means, the worst row) and one table per
metric.  Python 3 standard library only."""
import argparse
import csv
import math
import sys


def load(path):
    med = {}
    order_w, order_a = [], []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] not in ("throughput", "peak_rss_kb") or not r["median"]:
                continue
            med[(r["workload"], r["allocator"], r["metric"])] = float(r["median"])
            if r["workload"] not in order_w:
                order_w.append(r["workload"])
            if r["allocator"] not in order_a:
                order_a.append(r["allocator"])
    return med, order_w, order_a


def ratios(med, works, ref, col, metric):
    out = {}
    for w in works:
        a, b = med.get((w, ref, metric)), med.get((w, col, metric))
        if a and b:
            out[w] = b / a
    return out


def geo(vals):
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--ref", default="hakmem")
    ap.add_argument("--cols", help="comma-separated columns (default: every other one)")
    a = ap.parse_args()
    med, works, allocs = load(a.csv)
    cols = a.cols.split(",") if a.cols else [c for c in allocs if c != a.ref]
    print("| column | throughput / %s, geo-mean | worst row | peak RSS / %s, geo-mean | highest row | rows |" %
          (a.ref, a.ref))
    print("|---|---|---|---|---|---|")
    for c in cols:
        t = ratios(med, works, a.ref, c, "throughput")
        m = ratios(med, works, a.ref, c, "peak_rss_kb")
        if not t:
            print("| %s | - | - | - | - | 0 |" % c)
            continue
        wt = min(t, key=t.get)
        wm = max(m, key=m.get) if m else None
        print("| %s | %.2f | %.2f (%s) | %.2f | %s | %d |" % (
            c, geo(t.values()), t[wt], wt, geo(m.values()),
            "%.2f (%s)" % (m[wm], wm) if wm else "-", len(t)))
    for metric, title in (("throughput", "Throughput"), ("peak_rss_kb", "Peak RSS")):
        print("\n%s / %s, per workload (medians)\n" % (title, a.ref))
        print("| workload | " + " | ".join(cols) + " |")
        print("|---|" + "---|" * len(cols))
        for w in works:
            cells = []
            for c in cols:
                x, y = med.get((w, a.ref, metric)), med.get((w, c, metric))
                cells.append("%.2f" % (y / x) if x and y else "-")
            print("| %s | %s |" % (w, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
