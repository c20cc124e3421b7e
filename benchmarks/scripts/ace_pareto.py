#!/usr/bin/env python3
"""ACE v3's Pareto check: CPU-seconds against MiB x seconds on the phased workloads.

  ace_pareto.py [--reps 8] [--price 0.25] [--configs a,b] [--workloads a,b] [--stem S]
                [--hakmem /path/libhakmem.so] [--extra-peers "name=/path/lib.so ..."]
                [--outdir DIR] [--pngdir DIR]
  ace_pareto.py --selftest

ACE v3 trades CPU time for memory held at a price (HAKMEM_ACE_MEM_PRICE, cores per
GiB).  The four phased workloads (phased_mid, phased_large, build_serve, thread_swing:
busy phases and idle trickles) run in default mode under ACE at three prices, under
static hakmem settings varied one factor at a time around the defaults (ACE off), and
under the peers.  Runs are interleaved: each repetition runs every (workload, config)
pair once, each workload's configs rotated per repetition (run_bench.rotated), so drift
on the machine hits every config alike.

Per run: cpu_s (getrusage over the measured region, helper threads included), mib_s
(RSS integrated over time), wall_s, idle_excess_max (RSS after an idle phase over the
live-page floor), rss_after_idle*, floor_idle*, verify_errors.  A run fails when it
exits non-zero, verify_errors != 0, or its allocator_lib= does not show the config's
preload.

Statistics (plain Python): medians with 95 % bootstrap percentile intervals (the runs
resampled 2000 times, fixed seeds); J = cpu_s + lambda * mib_s per run with
lambda = price / 1024 CPU-s per MiB x s (price in cores per GiB: one GiB held for one
second costs `price` CPU-seconds).  Verdicts: (1) configs below ACE's front -- lower
cpu_s AND lower mib_s than ace@<price> with the bootstrap CI of both differences of
medians below 0; (2) J of ace@p against the best static and the best peer J at each
price p; (3) ACE's idle_excess_max against 1.15.

Output: docs/results/<stem>.md, docs/results/<stem>-raw.csv (every run) and
docs/ace-pareto-<workload>.png (gnuplot).  Python 3 standard library only.
"""
import argparse
import csv
import datetime
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

ROOT, BIN, LIBDIR = rb.ROOT, rb.BIN, rb.LIBDIR
HAKMEM_SO = os.path.join(ROOT, "build", "libhakmem.so")
WORKLOADS = ["phased_mid", "phased_large", "build_serve", "thread_swing"]
TIMEOUT = 180          # a default-mode run lasts 4.5-6.5 s under glibc
BOOT = 2000            # bootstrap resamples
BOOT_SEED = 20261203   # fixed: the same data give the same intervals
IDLE_TARGET = 1.15     # ACE's idle RSS may exceed the live-page floor by 15 %
MIN_N = 3              # fewer runs on a side: no interval-based verdict
KEYS = ["cpu_s", "mib_s", "wall_s", "idle_excess_max"]
# env variables of any allocator: a run gets only what its config sets
ALLOC_ENV_PREFIXES = ("HAKMEM_", "MALLOC_CONF", "MIMALLOC_", "TCMALLOC_", "SNMALLOC_", "JE_MALLOC_CONF")

# static hakmem settings, one factor at a time around the defaults (ACE off)
STATIC = [
    ("default", {}),
    ("prp=0", {"HAKMEM_PARTIAL_RELEASE_PAGES": "0"}),      # keep a span's empty pages
    ("prp=8", {"HAKMEM_PARTIAL_RELEASE_PAGES": "8"}),
    ("lcache=16", {"HAKMEM_LARGE_CACHE_MB": "16"}),
    ("lcache=256", {"HAKMEM_LARGE_CACHE_MB": "256"}),
    ("decay=100", {"HAKMEM_LARGE_DECAY_MS": "100"}),
    ("decay=10000", {"HAKMEM_LARGE_DECAY_MS": "10000"}),
    ("tls=16", {"HAKMEM_TLS_CAP": "16"}),
]

# ACE with one part held at its static values (its knobs fixed by their
# overrides, so ACE leaves them alone): does what remains earn its place?
# Run only when named in --configs.
ABLATION = [
    ("ace-norefault", {"HAKMEM_PARTIAL_RELEASE_PAGES": "2", "HAKMEM_SPARSE_BLOCK_DIV": "2",
                       "HAKMEM_SHRINK_MIN": "64"}),                       # no release ladder
    ("ace-noghost", {"HAKMEM_LARGE_CACHE_MB": "64"}),                     # no Large bound rule
    ("ace-nohold", {"HAKMEM_LARGE_DECAY_MS": "1000", "HAKMEM_ACE_IDLE_SCAVENGE_MS": "1000"}),  # no ski rental
    ("ace-nobandit", {"HAKMEM_TLS_CAP": "64", "HAKMEM_DIET_FACTOR": "1"}),   # no UCB1 group explored
]


def peer_path(name):
    for a in rb.ALLOCATORS:
        if a[0] == name:
            return a[1], a[3]
    raise KeyError(name)


def build_configs(hakmem_so, price, extra_peers, ablation=False):
    """[(name, kind, preload or None, env, expect_lib)]; kind: ace, static, peer (ablation: also
    ACE with one part fixed, kind ablation)."""
    out = []
    for f in (1.0, 4.0, 0.25):   # the default price first: it is ace@default
        out.append(("ace@%g" % (price * f), "ace", hakmem_so,
                    {"HAKMEM_ACE_ENABLED": "1", "HAKMEM_ACE_MEM_PRICE": "%g" % (price * f)}, "libhakmem"))
    for name, env in STATIC:
        out.append((name, "static", hakmem_so, dict({"HAKMEM_ACE_ENABLED": "0"}, **env), "libhakmem"))
    out.append(("glibc", "peer", None, {}, "glibc"))
    for name in ("mimalloc", "jemalloc", "tcmalloc"):
        so, expect = peer_path(name)
        out.append((name, "peer", so, {}, expect))
    for name, so, _, expect, _ in rb.parse_extra_peers(extra_peers):   # mimalloc3, snmalloc built from source
        out.append((name, "peer", so, {}, expect))
    so, expect = peer_path("jemalloc")
    out.append(("jemalloc-bg", "peer", so, {"MALLOC_CONF": "background_thread:true,dirty_decay_ms:1000"}, expect))
    for name, env in ABLATION if ablation else []:
        out.append((name, "ablation", hakmem_so, dict({"HAKMEM_ACE_ENABLED": "1", "HAKMEM_ACE_MEM_PRICE": "%g" % price},
                                                       **env), "libhakmem"))
    return out


def price_list(price):
    return [price / 4, price, price * 4]


class PRun(rb.Run):
    """run_bench's Run (preload and verify_errors checks) with every allocator's
    variables cleared from the environment, and the phased figures required."""

    def __init__(self, workload, config, rep, argv, timeout):
        name, kind, preload, env, expect = config
        super().__init__(workload, name, argv, env, preload, expect, timeout)
        self.kind, self.rep = kind, rep

    def execute(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(ALLOC_ENV_PREFIXES) and k not in ("LD_PRELOAD", "BENCH_MODE")}
        env.update(self.env_extra)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        trace = None
        if env.get("HAKMEM_ACE_ENABLED") == "1":
            # ACE's trace gives its own thread's CPU share (run_bench's way)
            fd, trace = tempfile.mkstemp(prefix="hakmem-ace-", suffix=".csv")
            os.close(fd)
            env["HAKMEM_ACE_TRACE"] = trace
        try:
            self._execute(env)
        finally:
            if trace:
                self._read_trace(trace)
                os.unlink(trace)
        if self.ok:
            missing = [k for k in KEYS + ["verify_errors"] if self.num(k) is None]
            if missing:
                self.ok, self.error = False, "missing figures: " + ",".join(missing)
        return self


# ---------------- statistics ----------------

def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(sorted_v, q):
    """linear interpolation between order statistics"""
    if len(sorted_v) == 1:
        return sorted_v[0]
    x = q * (len(sorted_v) - 1)
    i = int(x)
    j = min(i + 1, len(sorted_v) - 1)
    return sorted_v[i] + (sorted_v[j] - sorted_v[i]) * (x - i)


def rng_for(label):
    return random.Random(BOOT_SEED ^ zlib.crc32(label.encode()))


def boot_ci(v, label, b=BOOT):
    """(median, lo, hi): 95 % percentile interval of the median, runs resampled b times"""
    if not v:
        return None
    r = rng_for(label)
    n = len(v)
    meds = sorted(median([v[r.randrange(n)] for _ in range(n)]) for _ in range(b))
    return median(v), percentile(meds, 0.025), percentile(meds, 0.975)


def boot_diff(a, b_, label, b=BOOT):
    """(median(a) - median(b_), lo, hi): each side resampled on its own"""
    if not a or not b_:
        return None
    r = rng_for(label)
    na, nb = len(a), len(b_)
    d = sorted(median([a[r.randrange(na)] for _ in range(na)]) - median([b_[r.randrange(nb)] for _ in range(nb)])
               for _ in range(b))
    return median(a) - median(b_), percentile(d, 0.025), percentile(d, 0.975)


def lam(price):
    return price / 1024.0   # CPU-s per MiB x s: price cores per GiB


def j_values(runs, price):
    return [r["cpu_s"] + lam(price) * r["mib_s"] for r in runs]


def collect(results):
    """{workload: {config: [ {key: float} per ok run ]}}"""
    out = {}
    for r in results:
        if r.ok:
            out.setdefault(r.workload, {}).setdefault(r.alloc, []).append({k: r.num(k) for k in KEYS})
    return out


def below_front(data_w, ace_name, label):
    """configs with both lower cpu_s and lower mib_s than ace_name, each difference's CI below 0"""
    ace = data_w.get(ace_name)
    if not ace:
        return None
    out = []
    for name, runs in data_w.items():
        if name == ace_name or len(runs) < MIN_N or len(ace) < MIN_N:
            continue
        dc = boot_diff([x["cpu_s"] for x in runs], [x["cpu_s"] for x in ace], label + "/cpu/" + name)
        dm = boot_diff([x["mib_s"] for x in runs], [x["mib_s"] for x in ace], label + "/mib/" + name)
        if dc[2] < 0 and dm[2] < 0:
            out.append((name, dc, dm))
    return out


def separation(a, b_, n):
    """how two (median, lo, hi) intervals relate: a below b, above, or overlapping"""
    if n < MIN_N:
        return "n<%d: no interval" % MIN_N
    if a[2] < b_[1]:
        return "separate (lower)"
    if a[1] > b_[2]:
        return "separate (higher)"
    return "overlap"


# ---------------- report ----------------

def fmt(x, d=3):
    if x is None:
        return "-"
    return "%.*f" % (d, x)


def fmt_ci(t, d=3):
    return "-" if t is None else "%s [%s, %s]" % (fmt(t[0], d), fmt(t[1], d), fmt(t[2], d))


def gnuplot_pareto(path, workload, pts, note):
    """pts: [(name, kind, (cpu med, lo, hi), (mib med, lo, hi))]"""
    if not shutil.which("gnuplot"):
        return "gnuplot not installed: no chart"
    with tempfile.TemporaryDirectory() as td:
        files = {}
        for kind in ("ace", "static", "peer"):
            f = os.path.join(td, kind + ".dat")
            with open(f, "w") as fh:
                for name, k, c, m in pts:
                    if k == kind:
                        fh.write('"%s" %.6g %.6g %.6g %.6g %.6g %.6g\n' % (name, c[0], m[0], c[1], c[2], m[1], m[2]))
            files[kind] = f
        style = {"ace": ("lc rgb '#d62728' pt 7 ps 1.8 lw 2", "ACE (hakmem, ACE on)"),
                 "static": ("lc rgb '#1f77b4' pt 5 ps 1.0 lw 1", "hakmem static (ACE off)"),
                 "peer": ("lc rgb '#555555' pt 9 ps 1.1 lw 1", "peers")}
        plots = []
        for kind in ("static", "peer", "ace"):   # ACE drawn last, on top
            if os.path.getsize(files[kind]) == 0:
                continue
            s, title = style[kind]
            plots.append("'%s' using 2:3:4:5:6:7 with xyerrorbars %s title '%s'" % (files[kind], s, title))
            plots.append("'%s' using 2:3:1 with labels offset 0.8,0.6 left font ',%d' %s notitle" % (
                files[kind], 10 if kind == "ace" else 8, "tc rgb '#d62728'" if kind == "ace" else ""))
        # log axes when the points spread over more than a decade, so that
        # the cluster near ACE does not collapse into one spot
        xs, ys = [c[0] for _, _, c, _ in pts], [m[0] for _, _, _, m in pts]
        logs = "".join("set logscale %s\n" % ax for ax, v in (("x", xs), ("y", ys))
                       if min(v) > 0 and max(v) / min(v) > 10)
        gp = os.path.join(td, "p.gp")
        with open(gp, "w") as fh:
            fh.write("""set terminal pngcairo size 1100,800 noenhanced font ',10'
set output '%s'
set title '%s: CPU-seconds against MiB x seconds (medians, 95 %% bootstrap intervals)'
set xlabel 'cpu_s (user+sys, whole process, CPU-seconds)'
set ylabel 'mib_s (RSS integrated over the run, MiB x s)'
set grid
set offsets graph 0.04, graph 0.14, graph 0.06, graph 0.06
set key outside bottom center horizontal
set bmargin 6
set label 1 '%s' at screen 0.01,0.98 font ',8'
%splot %s
""" % (path, workload, note, logs, ", ".join(plots)))
        return rb.gnuplot_run(gp, "pngcairo size 1100,800 noenhanced font ',10'", "png size 1100,800")


def write_raw(path, results):
    extra = sorted({k for r in results for k in r.values
                    if k.startswith(("rss_after_idle", "floor_idle"))})
    more = ["rss_peak_kb", "rss_base_kb", "throughput", "threads_at_end", "ace_cpu_pct", "allocator_lib"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "config", "kind", "rep", "ok", "error", "duration_s"] + KEYS +
                   ["verify_errors"] + extra + more + ["command"])
        for r in results:
            w.writerow([r.workload, r.alloc, r.kind, r.rep + 1, int(r.ok), r.error, "%.3f" % r.duration] +
                       [r.values.get(k, "") for k in KEYS + ["verify_errors"] + extra + more] + [r.command()])


def report(args, configs, notes, results, prices, paths, elapsed):
    data = collect(results)
    kinds = {c[0]: c[1] for c in configs}
    ace_def = "ace@%g" % args.price
    md = ["# ACE v3 Pareto check: phased workloads", ""]
    info = rb.machine_info()
    md.append("Date %s; %s; %s cores; kernel %s; glibc %s; commit %s; hakmem %s." % (
        datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), info.get("cpu", "?"), info.get("cores"),
        info.get("kernel"), info.get("glibc"), info.get("commit"), args.hakmem))
    md.append("Mode %s, %d repetitions, interleaved (every (workload, config) pair once per repetition, "
              "each workload's configs rotated per repetition); %d runs in %s. Command: `%s`." % (
                  args.mode, args.reps, len(results), rb.fmt_time(elapsed), " ".join(sys.argv)))
    md.append("")
    md.append("J = cpu_s + λ·mib_s with λ = price / 1024 CPU-s per MiB·s (price in cores per GiB); "
              "prices %s; ace@default = %s. Medians over the successful runs; [lo, hi] = 95 %% bootstrap "
              "percentile interval of the median (%d resamples, fixed seed). J is computed per run, then its "
              "median taken. idle_excess_max = max over a run's idle phases of RSS after the phase over the "
              "floor (base RSS + distinct 4 KiB pages holding a live block)." % (
                  ", ".join("%g" % p for p in prices), ace_def, BOOT))
    md.append("")
    md.append("| config | kind | LD_PRELOAD | env |")
    md.append("|---|---|---|---|")
    for c in configs:
        md.append("| %s | %s | %s | %s |" % (c[0], c[1], c[2] or "(none)",
                                            " ".join("%s=%s" % kv for kv in c[3].items()) or "-"))
    if notes:
        md += ["", "Skipped:", ""] + ["- " + n for n in notes]
    for wl in args.workloads_list:
        dw = data.get(wl, {})
        md += ["", "## %s" % wl, ""]
        hdr = "| config | kind | n | cpu_s [CI] | mib_s [CI] | idle_excess_max | " + \
              " | ".join("J@%g [CI]" % p for p in prices) + " |"
        md.append(hdr)
        md.append("|" + "---|" * (6 + len(prices)))
        stats = {}
        for c in configs:
            runs = dw.get(c[0])
            if not runs:
                continue
            lab = wl + "/" + c[0]
            st = {"n": len(runs),
                  "cpu": boot_ci([x["cpu_s"] for x in runs], lab + "/cpu"),
                  "mib": boot_ci([x["mib_s"] for x in runs], lab + "/mib"),
                  "idle": median([x["idle_excess_max"] for x in runs]),
                  "J": {p: boot_ci(j_values(runs, p), lab + "/J%g" % p) for p in prices}}
            stats[c[0]] = st
            name = "**%s**" % c[0] if c[1] == "ace" else c[0]
            md.append("| %s | %s | %d | %s | %s | %.3f | %s |" % (
                name, c[1], st["n"], fmt_ci(st["cpu"]), fmt_ci(st["mib"], 1), st["idle"],
                " | ".join(fmt_ci(st["J"][p]) for p in prices)))
        # verdicts
        md += ["", "Verdicts:", ""]
        front = below_front(dw, ace_def, wl)
        if front is None:
            md.append("1. Below the front: %s was not run (or every run failed): no verdict." % ace_def)
        elif min(len(v) for v in dw.values()) < MIN_N:
            md.append("1. Below the front: fewer than %d runs of some config: no verdict." % MIN_N)
        elif not front:
            md.append("1. Below the front: none -- no config has both lower cpu_s and lower mib_s than %s "
                      "with both differences' intervals below 0 (ACE is not dominated)." % ace_def)
        else:
            md.append("1. Below the front of %s (dominated by): %s." % (ace_def, "; ".join(
                "%s (cpu_s %+.3f [%+.3f, %+.3f], mib_s %+.1f [%+.1f, %+.1f])" % (
                    n, dc[0], dc[1], dc[2], dm[0], dm[1], dm[2]) for n, dc, dm in front)))
        md.append("2. J of ACE against the best static setting and the best peer:")
        md.append("")
        md.append("   | price | ACE config | J(ACE) | best static | ratio | CIs | best peer | ratio | CIs |")
        md.append("   |---|---|---|---|---|---|---|---|---|")
        for p in prices:
            an = "ace@%g" % p
            a = stats.get(an)
            row = ["%g" % p, an, fmt_ci(a["J"][p]) if a else "not run"]
            for kind in ("static", "peer"):
                cand = [(s["J"][p][0], n) for n, s in stats.items() if kinds.get(n) == kind]
                if not cand:
                    row += ["-", "-", "-"]
                    continue
                bj, bn = min(cand)
                b = stats[bn]["J"][p]
                if a:
                    row += ["%s %s" % (bn, fmt_ci(b)), "%.3f" % (a["J"][p][0] / b[0]) if b[0] else "-",
                            separation(a["J"][p], b, min(a["n"], stats[bn]["n"]))]
                else:
                    row += ["%s %s" % (bn, fmt_ci(b)), "-", "-"]
            md.append("   | " + " | ".join(row) + " |")
        md.append("")
        aces = [(n, s["idle"]) for n, s in stats.items() if kinds.get(n) == "ace"]
        if aces:
            md.append("3. idle_excess_max of ACE against %.2f: %s." % (IDLE_TARGET, "; ".join(
                "%s %.3f (%s)" % (n, v, "ok" if v <= IDLE_TARGET else "ABOVE") for n, v in aces)))
        else:
            md.append("3. idle_excess_max of ACE: no ACE config was run.")
        # chart
        pts = [(n, kinds[n], s["cpu"], s["mib"]) for n, s in stats.items()]
        png = os.path.join(args.pngdir, "ace-pareto-%s.png" % wl)
        if pts:
            err = gnuplot_pareto(png, wl, pts, "%s, %d reps, %s" % (args.stem, args.reps, info.get("commit", "?")))
            md += ["", "Chart: `%s`" % os.path.relpath(png, ROOT) if not err else "Chart: " + err]
    failed = [r for r in results if not r.ok]
    md += ["", "## Failed runs", ""]
    if not failed:
        md.append("None.")
    for r in failed:
        md.append("- %s / %s, rep %d: %s  \n  `%s`" % (r.workload, r.alloc, r.rep + 1, r.error, r.command()))
    with open(paths["md"], "w") as f:
        f.write("\n".join(md) + "\n")
    write_raw(paths["raw"], results)
    return md, data


# ---------------- main ----------------

def run_all(args, configs):
    jobs = []
    for wl in args.workloads_list:
        argv = [os.path.join(BIN, wl), args.mode]
        for i, c in enumerate(configs):
            jobs.append((wl, c[0], (argv, c)))
    total, done, results = len(jobs) * args.reps, 0, []
    t0 = time.time()
    for rep in range(args.reps):
        for wl, name, (argv, c) in rb.rotated(jobs, rep):
            mean = (time.time() - t0) / done if done else None
            rb.log("[pareto %3d/%d] %-13s %-12s rep %d/%d  elapsed %s  est. left %s" % (
                done + 1, total, wl, name, rep + 1, args.reps, rb.fmt_time(time.time() - t0),
                rb.fmt_time(mean * (total - done)) if mean else "?"))
            r = PRun(wl, c, rep, argv, args.timeout).execute()
            if not r.ok:
                rb.log("    FAILED: %s\n    command: %s" % (r.error, r.command()))
            results.append(r)
            done += 1
    return results, time.time() - t0


def select(args):
    configs = build_configs(args.hakmem, args.price, args.extra_peers, ablation=bool(args.configs))
    if args.configs:
        want = args.configs.split(",")
        unknown = [w for w in want if w not in {c[0] for c in configs}]
        if unknown:
            sys.exit("unknown config(s): %s (known: %s)" % (", ".join(unknown), ", ".join(c[0] for c in configs)))
        configs = [c for c in configs if c[0] in want]
    present, notes = [], []
    for c in configs:
        if c[2] and not os.path.exists(c[2]):
            notes.append("%s: SKIPPED -- %s not found" % (c[0], c[2]))
        else:
            present.append(c)
    for n in notes:
        rb.log("note: " + n)
    return present, notes


def main_run(args):
    args.workloads_list = args.workloads.split(",") if args.workloads else list(WORKLOADS)
    for wl in args.workloads_list:
        if not os.path.exists(os.path.join(BIN, wl)):
            sys.exit("%s not built: make -C benchmarks workloads" % os.path.join(BIN, wl))
    configs, notes = select(args)
    if not configs:
        sys.exit("no config to run")
    os.makedirs(args.outdir, exist_ok=True)
    os.makedirs(args.pngdir, exist_ok=True)
    paths = {"md": os.path.join(args.outdir, args.stem + ".md"),
             "raw": os.path.join(args.outdir, args.stem + "-raw.csv")}
    results, elapsed = run_all(args, configs)
    md, data = report(args, configs, notes, results, price_list(args.price), paths, elapsed)
    rb.log("wrote %s, %s, charts in %s" % (paths["md"], paths["raw"], args.pngdir))
    return results, paths, data


def selftest_stats(failures):
    """the statistics on made-up runs whose answers are known"""
    c = boot_ci([5.0] * 6, "t/const")
    if c != (5.0, 5.0, 5.0):
        failures.append("boot_ci of constant data: %r" % (c,))
    c = boot_ci([1.0, 2.0, 3.0, 4.0, 100.0], "t/skew")
    if not (c[0] == 3.0 and 1.0 <= c[1] <= c[0] <= c[2] <= 100.0):
        failures.append("boot_ci ordering: %r" % (c,))
    if boot_ci([1.0, 2.0, 3.0, 4.0, 100.0], "t/skew") != c:
        failures.append("boot_ci is not deterministic")

    def runs(cpu, mib, n=8, jitter=0.01):
        r = random.Random(int(cpu * 1000 + mib))
        return [{"cpu_s": cpu * (1 + jitter * r.uniform(-1, 1)), "mib_s": mib * (1 + jitter * r.uniform(-1, 1)),
                 "wall_s": 1.0, "idle_excess_max": 1.0} for _ in range(n)]
    dw = {"ace@0.25": runs(2.0, 100.0), "dominates": runs(1.5, 80.0), "cheaper_cpu": runs(1.0, 150.0),
          "close": runs(1.99, 99.5, jitter=0.05)}
    front = below_front(dw, "ace@0.25", "t")
    names = [f[0] for f in front] if front is not None else None
    if names != ["dominates"]:
        failures.append("below_front: expected ['dominates'], got %r" % (names,))
    if below_front({"x": runs(1, 1)}, "ace@0.25", "t") is not None:
        failures.append("below_front without ACE runs should give None")
    if abs(j_values([{"cpu_s": 1.0, "mib_s": 1024.0}], 0.25)[0] - 1.25) > 1e-12:
        failures.append("J: 1 CPU-s + 1 GiB*s at 0.25 cores/GiB should be 1.25")


def selftest(args):
    failures = []
    selftest_stats(failures)
    td = tempfile.mkdtemp(prefix="ace-pareto-selftest-")
    args.mode, args.reps, args.outdir, args.pngdir, args.stem = "quick", 1, td, td, "selftest"
    args.workloads = None
    if not args.configs:
        # hakmem's defaults and glibc; without a built hakmem, an installed peer
        present = [c[0] for c in build_configs(args.hakmem, args.price, args.extra_peers)
                   if c[0] != "glibc" and (c[2] is None or os.path.exists(c[2]))]
        second = "default" if "default" in present else (present[0] if present else None)
        args.configs = ",".join(["glibc"] + ([second] if second else []))
    t0 = time.time()
    results, paths, data = main_run(args)
    want = args.configs.split(",")
    for r in results:
        if not r.ok:
            failures.append("%s/%s failed: %s" % (r.workload, r.alloc, r.error))
    if len(results) != len(WORKLOADS) * len(want):
        failures.append("expected %d runs, got %d" % (len(WORKLOADS) * len(want), len(results)))
    rows = list(csv.DictReader(open(paths["raw"])))
    for row in rows:
        for k in KEYS:
            try:
                float(row[k])
            except ValueError:
                failures.append("raw csv %s/%s: %s=%r does not parse" % (row["workload"], row["config"], k, row[k]))
        if not any(k.startswith("rss_after_idle") and row[k] for k in row):
            failures.append("raw csv %s/%s: no rss_after_idle" % (row["workload"], row["config"]))
    text = open(paths["md"]).read()
    for wl in WORKLOADS:
        if "## " + wl not in text:
            failures.append("report lacks the section %s" % wl)
        if shutil.which("gnuplot") and not os.path.exists(os.path.join(td, "ace-pareto-%s.png" % wl)):
            failures.append("no chart for %s" % wl)
    for r in results:
        if r.workload == "thread_swing" and r.ok and r.values.get("blocked_threads") != "14":
            failures.append("thread_swing: blocked_threads=%s" % r.values.get("blocked_threads"))
    # a run whose allocator_lib= lacks the config's library must fail
    bad = PRun("phased_mid", ("broken", "peer", None, {}, "libnot-mapped"), 0,
               [os.path.join(BIN, "phased_mid"), "quick", "idle_ms=50"], 30).execute()
    if bad.ok or "preload not active" not in bad.error:
        failures.append("a run without its config's library was not rejected: %r" % bad.error)
    if "Verdicts:" not in text:
        failures.append("report lacks verdicts")
    dt = time.time() - t0
    if failures:
        print("ace_pareto selftest FAILED (%.1f s, outputs in %s):" % (dt, td))
        for f in failures:
            print("  " + f)
        return 1
    shutil.rmtree(td)
    print("ace_pareto selftest ok (%d runs, %.1f s)" % (len(results), dt))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--price", type=float, default=0.25, help="ACE's default memory price, cores per GiB")
    ap.add_argument("--configs", help="comma-separated subset of the configs")
    ap.add_argument("--workloads", help="comma-separated subset of %s" % ",".join(WORKLOADS))
    ap.add_argument("--stem", default=datetime.date.today().isoformat() + "-ace-pareto")
    ap.add_argument("--hakmem", default=HAKMEM_SO, help="libhakmem.so (default %s)" % HAKMEM_SO)
    ap.add_argument("--extra-peers", default=os.environ.get("EXTRA_PEERS", ""), metavar="'NAME=SO ...'",
                    help="more peers (mimalloc3, snmalloc built from source), as run_bench.py's")
    ap.add_argument("--mode", default="default", choices=["quick", "default", "long"])
    ap.add_argument("--outdir", default=os.path.join(ROOT, "docs", "results"))
    ap.add_argument("--pngdir", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--timeout", type=int, default=TIMEOUT)
    ap.add_argument("--selftest", action="store_true", help="quick mode, 1 rep, 2 configs; checks the outputs")
    args = ap.parse_args()
    args.hakmem = os.path.abspath(args.hakmem)
    if args.selftest:
        return selftest(args)
    if args.reps < 8:
        rb.log("note: %d repetitions (the comparison asks for at least 8)" % args.reps)
    results, _, _ = main_run(args)
    return 1 if any(not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
