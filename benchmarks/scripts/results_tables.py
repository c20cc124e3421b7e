#!/usr/bin/env python3
"""Writes the result tables of docs/RESULTS.md and README.md from the data files.

  results_tables.py                 regenerate every table from the files its marker names
  results_tables.py --stem STEM     the suite tables from docs/results/STEM.{md,csv} instead
                                    (after a new `make bench` / run_bench.py run)
  results_tables.py --check         exit 1, with a diff, when the committed text differs

A table lives between two marker lines, which record where its data come from:

  <!-- tables:NAME begin stem=2026-12-02-s8 -->      (suite tables: STEM.md and STEM.csv)
  <!-- tables:NAME end -->
  <!-- tables:callgrind begin file=2026-12-02-callgrind.txt -->

NAME is one of: headline (hakmem against the best peer per workload), method (the
suite's command, machine, commit and repetitions), suite (every column of the
throughput table), seed (the seed's rows: ACE off / on / best
peer / the seed's targets), large (the Large-block rows with time, CPU-seconds, page
faults and RSS: LARGE_ROWS), callgrind (the first table of scripts/callgrind_pair.sh's
output file).  Text outside the markers is left alone.  Python 3 standard library only.
"""
import argparse
import csv
import difflib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402  (METRICS, digits_for: the runner's own titles and rounding)

ROOT = run_bench.ROOT
RESULTS_DIR = os.path.join(ROOT, "docs", "results")
FILES = [os.path.join(ROOT, "docs", "RESULTS.md"), os.path.join(ROOT, "README.md")]
REF, ACE = "hakmem", "hakmem-ace"
MARK = re.compile(r"^<!-- tables:(\w+) begin (stem|file)=(\S+) -->$")

# The seed's rows (seed/ACE_LEARNING_LAYER.md, its table of weak workloads): label,
# the seed's "now -> target", workload, metric, scale, digits, whether the ACE CPU
# figure belongs on the row.
SEED_ROWS = [
    ("fragmentation (fragment_stress), M ops/s", "3.87 → 10–20 M ops/s (2.6–5.2×)",
     "fragment_stress", "throughput", 1e-6, 2, True),
    ("… RSS after the idle phase, MiB (floor {floor})", "(memory: no figure)",
     "fragment_stress", "rss_after_idle_kb", 1 / 1024, 1, False),
    ("huge working set (huge_ws), M ops/s", "22.15 → 30–45 M ops/s (1.4–2.0×)",
     "huge_ws", "throughput", 1e-6, 2, True),
    ("realloc heavy (realloc_heavy), mean realloc ns", "6.6–277 ns (jitter) → 140–210 ns (1.3–2.0×)",
     "realloc_heavy", "realloc_mean_ns", 1, 1, False),
    ("… M ops/s", "", "realloc_heavy", "throughput", 1e-6, 2, True),
    ("Mid MT (mid_mt, 4 threads), M ops/s", "111.6 → 110–115 M ops/s (±5 %: keep)",
     "mid_mt", "throughput", 1e-6, 2, True),
    ("16 threads (mid_mt16, on 2 cores), M ops/s", "(not in the seed's table)",
     "mid_mt16", "throughput", 1e-6, 2, True),
]


class Suite:
    """One run_bench.py comparison: STEM.csv (medians) and the header of STEM.md."""

    def __init__(self, stem):
        self.stem = stem
        self.stats, self.workloads, self.cols = {}, [], []
        with open(os.path.join(RESULTS_DIR, stem + ".csv"), newline="") as f:
            for r in csv.DictReader(f):
                self.stats[(r["workload"], r["allocator"], r["metric"])] = (
                    float(r["median"]), float(r["min"]), float(r["max"]), int(r["n"]))
                if r["workload"] not in self.workloads:
                    self.workloads.append(r["workload"])
                if r["allocator"] not in self.cols:
                    self.cols.append(r["allocator"])
        self.head = {}
        with open(os.path.join(RESULTS_DIR, stem + ".md")) as f:
            for line in f:
                m = re.match(r"^(Command|Machine|Columns|1-minute load average[^:]*|Each cell): (.*)$", line.strip())
                if m:
                    self.head[m.group(1).split()[0]] = m.group(2)
                m = re.match(r"^# hakmem benchmark comparison, (\S+) \((\w+) mode\)", line)
                if m:
                    self.date, self.mode = m.groups()
        self.reps = re.search(r"over (\d+) interleaved", self.head["Each"]).group(1)
        # other hakmem columns (an older build in the same run) are not peers
        self.peers = [c for c in self.cols if not c.startswith("hakmem")]

    def get(self, w, c, metric):
        return self.stats.get((w, c, metric))

    def best_peer(self, w, metric, higher):
        have = [(self.get(w, c, metric)[0], c) for c in self.peers if self.get(w, c, metric)]
        if not have:
            return None, None
        v, c = (max if higher else min)(have)
        return c, v


# The Large-block rows: workload, metric, label, scale, digits, whether higher is better.
LARGE_ROWS = [
    ("large_churn", "wall_s", "large_churn: time, s", 1, 2, False),
    ("large_churn", "cpu_s", "… user+sys CPU-s", 1, 2, False),
    ("large_churn", "minflt", "… minor faults, k", 1e-3, 1, False),
    ("large_churn", "peak_rss_kb", "… peak RSS, MiB", 1 / 1024, 0, False),
    ("service_day", "wall_s", "service_day: time, s (1.2 s quiet phases included)", 1, 2, False),
    ("service_day", "cpu_s", "… user+sys CPU-s", 1, 2, False),
    ("service_day", "minflt", "… minor faults, k", 1e-3, 0, False),
    ("service_day", "peak_rss_kb", "… peak RSS, MiB", 1 / 1024, 0, False),
    ("service_day", "rss_after_quiet_kb", "… RSS after the last quiet phase, MiB", 1 / 1024, 0, False),
    ("large_replace", "wall_s", "large_replace: time, s", 1, 2, False),
    ("large_replace", "peak_rss_kb", "… peak RSS, MiB", 1 / 1024, 0, False),
    ("large_replace", "rss_after_idle_kb", "… RSS after 1.5 s without a call, MiB", 1 / 1024, 0, False),
    ("realloc_heavy", "double_p99_ns", "realloc_heavy: doubling p99, µs", 1e-3, 1, False),
]


def fmt(v, digits):
    return "%.*f" % (digits, v)


def span(st, scale, digits):
    return "%s (%s–%s)" % (fmt(st[0] * scale, digits), fmt(st[1] * scale, digits), fmt(st[2] * scale, digits))


def headline(s):
    out = ["| workload | hakmem, M ops/s | best peer | peer / hakmem | best peer per CPU-second | peer / hakmem "
           "| peak RSS, MiB: hakmem / lowest peer |",
           "|---|---|---|---|---|---|---|"]
    for w in s.workloads:
        h = s.get(w, REF, "throughput")
        bt, vt = s.best_peer(w, "throughput", True)
        bc, vc = s.best_peer(w, "ops_per_cpu_s", True)
        br, vr = s.best_peer(w, "peak_rss_kb", False)
        hc, hr = s.get(w, REF, "ops_per_cpu_s"), s.get(w, REF, "peak_rss_kb")
        if not (h and hc and hr and bt and bc and br):
            continue
        out.append("| %s | %.1f | %s | %.2f× | %s | %.2f× | %.1f / %.1f (%s) |" % (
            w, h[0] * 1e-6, bt, vt / h[0], bc, vc / hc[0], hr[0] / 1024, vr / 1024, br))
    lead = sum(1 for w in s.workloads if s.get(w, REF, "throughput") and s.best_peer(w, "throughput", True)[0] and
               s.best_peer(w, "throughput", True)[1] <= s.get(w, REF, "throughput")[0])
    out.append("")
    out.append("hakmem (ACE off) has the highest median throughput on %d of %d workloads; above 1× a peer is "
               "ahead (throughput) or holds more memory (RSS)." % (lead, len(s.workloads)))
    return out


def method(s):
    iv = dict(re.findall(r"HAKMEM_ACE_(FAST|SLOW)_INTERVAL_(?:MS|S)=([0-9.]+)", s.head["Columns"]))
    charts = ["[%s](results/%s-%s.png)" % (t, s.stem, k) for k, t in (("throughput", "throughput"), ("rss", "peak RSS"))
              if os.path.exists(os.path.join(RESULTS_DIR, "%s-%s.png" % (s.stem, k)))]
    return [
        "- Run: %s, %s mode; data [%s.csv](results/%s.csv) (medians), [%s-raw.csv](results/%s-raw.csv) "
        "(every run with its command), [%s.md](results/%s.md) (min–max of every cell, workload-specific "
        "figures, charts)." % (s.date, s.mode, s.stem, s.stem, s.stem, s.stem, s.stem, s.stem),
        "- Command: %s" % s.head["Command"],
        "- Machine and commit: %s" % s.head["Machine"],
        "- Load: 1-minute load average at start / end %s." % s.head["1-minute"].split(" (")[0],
        "- Method: every workload under every allocator, %s interleaved repetitions (each repetition runs "
        "every column in turn), medians; ratios to `hakmem` (ACE off). `hakmem-ace` runs ACE with its loops at "
        "%s ms / %s s (the defaults are 500 ms / 30 s) so it acts within runs of a few seconds."
        % (s.reps, iv.get("FAST", "?"), iv.get("SLOW", "?")),
    ] + (["- Charts (ratio to hakmem per workload): " + ", ".join(charts) + "."] if charts else [])


# The suite table RESULTS shows in full; ops per CPU-second and peak RSS are
# in the headline (best peer, lowest peer) and, every column, in STEM.md.
SUITE_METRICS = ("throughput",)


def suite(s):
    out = []
    for key, title, scale, better in run_bench.METRICS:
        if key not in SUITE_METRICS:
            continue
        higher = better == "higher"
        vals = [s.get(w, c, key) for w in s.workloads for c in s.cols]
        d = run_bench.digits_for([v[0] * scale for v in vals if v])
        out += ["**%s**; ratio to hakmem in brackets, the best column in bold:" % title, "",
                "| workload | " + " | ".join(s.cols) + " |", "|---|" + "---|" * len(s.cols)]
        out += ["| %s | %s |" % (w, " | ".join(row_cells(s, w, key, scale, d, higher))) for w in s.workloads]
        out.append("")
    return out[:-1]


def row_cells(s, w, key, scale, d, higher):
    """Every column's median of one workload's metric, its ratio to hakmem in
    brackets, the best in bold."""
    ref = s.get(w, REF, key)
    have = [s.get(w, c, key)[0] for c in s.cols if s.get(w, c, key)]
    best = (max if higher else min)(have) if have else None
    cells = []
    for c in s.cols:
        st = s.get(w, c, key)
        if not st:
            cells.append("–")
            continue
        txt = fmt(st[0] * scale, d)
        if c != REF and ref and ref[0]:
            txt += " (%.2f)" % (st[0] / ref[0])
        cells.append("**%s**" % txt if st[0] == best else txt)
    return cells


def large(s):
    out = ["| row | " + " | ".join(s.cols) + " |", "|---|" + "---|" * len(s.cols)]
    for w, key, label, scale, d, higher in LARGE_ROWS:
        out.append("| %s | %s |" % (label, " | ".join(row_cells(s, w, key, scale, d, higher))))
    return out


def seed(s):
    out = ["| row | seed: now → target (ratio) | ACE off | ACE on | on / off | best peer | ACE on / best peer "
           "| ACE CPU, % of a core |", "|---|---|---|---|---|---|---|---|"]
    floor = s.get("fragment_stress", REF, "rss_floor_kb")
    for label, target, w, metric, scale, d, cpu in SEED_ROWS:
        off, on = s.get(w, REF, metric), s.get(w, ACE, metric)
        if not off or not on:
            continue
        higher = metric == "throughput"
        bp, bv = s.best_peer(w, metric, higher)
        c = s.get(w, ACE, "ace_cpu_pct") if cpu else None
        out.append("| %s | %s | %s | %s | %.2f× | %s | %s | %s |" % (
            label.format(floor=fmt(floor[0] / 1024, 1) if floor else "?"), target, span(off, scale, d),
            span(on, scale, d), on[0] / off[0], "%s %s" % (bp, fmt(bv * scale, d)) if bp else "–",
            "%.2f×" % (on[0] / bv) if bp else "–", "%.2f" % c[0] if c else ""))
    return out


def callgrind(name):
    """The head and first table of a callgrind_pair.sh output file, verbatim."""
    with open(os.path.join(RESULTS_DIR, name)) as f:
        text = f.read()
    first = text.split("\nCalls only")[0].rstrip("\n")
    return ["```"] + first.split("\n") + ["```"]


BLOCKS = {"headline": headline, "method": method, "suite": suite, "seed": seed, "large": large}


def render(text, new_stem, cache):
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        name, kind, src = m.groups()
        end = "<!-- tables:%s end -->" % name
        j = next((k for k in range(i + 1, len(lines)) if lines[k] == end), None)
        if j is None:
            raise SystemExit("results_tables: no '%s' after line %d" % (end, i + 1))
        if kind == "stem":
            if name not in BLOCKS:
                raise SystemExit("results_tables: unknown table '%s' (line %d)" % (name, i + 1))
            src = new_stem or src
            if src not in cache:
                cache[src] = Suite(src)
            body = BLOCKS[name](cache[src])
        elif name == "callgrind":
            body = callgrind(src)
        else:
            raise SystemExit("results_tables: '%s' takes stem=, not file= (line %d)" % (name, i + 1))
        out += ["<!-- tables:%s begin %s=%s -->" % (name, kind, src)] + body + [end]
        i = j + 1
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stem", help="take the suite tables from docs/results/STEM.{md,csv}")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is stale")
    ap.add_argument("files", nargs="*", default=FILES, help="files with table markers (default: RESULTS.md, README.md)")
    args = ap.parse_args()
    stale, cache = 0, {}
    for path in args.files:
        old = open(path).read()
        new = render(old, args.stem, cache)
        if new == old:
            continue
        rel = os.path.relpath(path, ROOT)
        if args.check:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), rel, rel + " (generated)"))
        else:
            with open(path, "w") as f:
                f.write(new)
            print("results_tables: rewrote the tables in " + rel)
    if stale:
        print("results_tables: %d file(s) differ from their data; run python3 benchmarks/scripts/results_tables.py"
              % stale, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
