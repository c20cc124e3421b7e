#!/usr/bin/env python3
"""Summarise a CSV written by run-mbench.sh.

usage: mbench-table.py OUT.csv

Per program: for each allocator, the median over rounds (successful runs only) of
  time_s  - the comparison time (lower is better; the program's own reported time,
            bench.sh's derived relative time for rate-only programs, else wall),
  rate    - the rate the program prints, if any (higher is better),
  x_hak   - time_s / hakmem's time_s (>1: slower than hakmem),
  x_best  - time_s / best allocator's time_s for this program,
  rss_MiB - median max RSS,
  ok/n    - successful runs / runs (failures: rc != 0 or figure missing).
Then a matrix of x_best (programs x allocators) and a last line with the geometric mean
over programs of each allocator's x_best (programs where it has no successful run are
left out of its mean; the count used is shown when it differs).
"""
import csv
import math
import statistics
import sys


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        sys.exit("no rows")
    progs = list(dict.fromkeys(r["program"] for r in rows))
    allocs = list(dict.fromkeys(r["allocator"] for r in rows))
    rounds = len(set(r["round"] for r in rows))

    med = {}  # (prog, alloc) -> dict
    for p in progs:
        for a in allocs:
            rs = [r for r in rows if r["program"] == p and r["allocator"] == a]
            if not rs:
                continue
            ok = [r for r in rs if r["rc"] == "0" and fnum(r["time_s"]) is not None]
            d = {"n": len(rs), "ok": len(ok), "src": "", "unit": ""}
            if ok:
                d["time"] = statistics.median(fnum(r["time_s"]) for r in ok)
                d["rss"] = statistics.median(fnum(r["maxrss_kb"]) for r in ok) / 1024
                d["wall"] = statistics.median(fnum(r["wall_s"]) for r in ok)
                rates = [fnum(r["rate"]) for r in ok if fnum(r["rate"]) is not None]
                d["rate"] = statistics.median(rates) if rates else None
                d["src"] = ok[0]["time_src"]
                d["unit"] = ok[0]["rate_unit"]
                d["tmin"] = min(fnum(r["time_s"]) for r in ok)
                d["tmax"] = max(fnum(r["time_s"]) for r in ok)
            med[p, a] = d

    best = {}
    for p in progs:
        ts = [med[p, a]["time"] for a in allocs if (p, a) in med and "time" in med[p, a]]
        best[p] = min(ts) if ts else None

    W = max(10, max(len(a) for a in allocs))
    print("mimalloc-bench runs: %s  (%d rounds; medians of successful runs)" % (sys.argv[1], rounds))
    for p in progs:
        srcs = {med[p, a]["src"] for a in allocs if (p, a) in med and med[p, a]["src"]}
        units = {med[p, a]["unit"] for a in allocs if (p, a) in med and med[p, a]["unit"]}
        src = {"prog": "time reported by program", "derived": "bench.sh relative time from program's rate",
               "wall": "wall clock"}.get(next(iter(srcs), ""), "?")
        print()
        print("== %s   [time_s: %s%s]" % (p, src, ("; rate: " + ",".join(units)) if units else ""))
        print("  %-*s %10s %14s %7s %7s %9s %17s %6s" % (W, "allocator", "time_s", "rate", "x_hak", "x_best",
                                                     "rss_MiB", "time_s min-max", "ok/n"))
        h = med.get((p, "hakmem"), {}).get("time")
        for a in allocs:
            d = med.get((p, a))
            if d is None:
                continue
            if "time" not in d:
                print("  %-*s %10s %14s %7s %7s %9s %17s %6s" % (W, a, "FAIL", "", "", "", "", "",
                                                             "%d/%d" % (d["ok"], d["n"])))
                continue
            rate = "" if d["rate"] is None else ("%.4g" % d["rate"])
            xh = "%.3f" % (d["time"] / h) if h else "-"
            xb = "%.3f" % (d["time"] / best[p]) if best[p] else "-"
            print("  %-*s %10.4g %14s %7s %7s %9.1f %8.4g-%-8.4g %6s" % (
                W, a, d["time"], rate, xh, xb, d["rss"], d["tmin"], d["tmax"], "%d/%d" % (d["ok"], d["n"])))

    # matrix of ratio to best + geometric mean
    PW = max(14, max(len(p) for p in progs))
    print()
    print("== time_s / best allocator's time_s, per program (1.000 = best; lower is better)")
    print("%-*s" % (PW, "program") + "".join(" %*s" % (W, a) for a in allocs))
    logs = {a: [] for a in allocs}
    for p in progs:
        cells = []
        for a in allocs:
            d = med.get((p, a))
            if d and "time" in d and best[p]:
                x = d["time"] / best[p]
                logs[a].append(math.log(x))
                cells.append("%.3f" % x)
            else:
                cells.append("FAIL" if d else "-")
        print("%-*s" % (PW, p) + "".join(" %*s" % (W, c) for c in cells))
    cells = []
    for a in allocs:
        if logs[a]:
            c = "%.3f" % math.exp(sum(logs[a]) / len(logs[a]))
            if len(logs[a]) != len(progs):
                c += "(%d)" % len(logs[a])
            cells.append(c)
        else:
            cells.append("-")
    print("%-*s" % (PW, "geomean") + "".join(" %*s" % (W, c) for c in cells))


if __name__ == "__main__":
    main()
