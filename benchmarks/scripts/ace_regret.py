#!/usr/bin/env python3
"""ACE's regret against the best static setting and the signal's gate (does
a duel rank a known static win above the defaults), on a workload whose best static setting the re-sweep
confirmed (docs/history/knob-sweeps.md).

  benchmarks/scripts/ace_regret.py regret [--reps 3] [--workloads larson,phase_change]
  benchmarks/scripts/ace_regret.py gate [--runs 5]
  benchmarks/scripts/ace_regret.py phased [--reps 4]

regret: per repetition, interleaved: the defaults, the best static setting
(ACE off), ACE with the short loops (50 ms / 1 s) in a run of >= 30 s, and ACE
with the seed's default intervals (500 ms / 30 s) in a run of >= 60 s.
regret = (best - ACE) / best on throughput; regret against elapsed time from the
traces (operations done by time t, ACE against the best static setting, whose runs
fix every knob and have ACE observing only, so both count the same operations).
gate: the same workload with only the group of the confirmed setting free (the
other knobs fixed at their defaults), ACE with the short loops; counts the
duels in which the confirmed best beat the defaults.
phased: fragment_stress under every release setting and ACE: throughput, the RSS
after its idle phase against the floor of pages holding a live block, peak RSS.
Parameters are fixed here, before the results are looked at."""
import argparse, csv, os, re, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "build", "libhakmem.so")
BIN = os.path.join(ROOT, "benchmarks", "bin")
# workload: (binary, shape args, work parameter, units of work per second at the
# defaults (measured: larson gens=600 ~1.5 s; phase_change ~14M ops a second on the
# fixed harness, 16M taken, 8M before it), static settings to measure besides the
# defaults).  larson: the re-sweep's confirmed win until the harness fix (b70c523)
# showed it was the benchmark's own false sharing; phase_change: the phased workload (Tiny sizes, then Mid), with the three best settings of the
# sweep after the harness fix (bundle 64, partial pages 1 and 4; before it:
# November's diet 0.66, the first re-sweep's partial pages 4, bundle 16).
PHASE = ["name=phase_change", "threads=2", "slots=200000", "min=16", "max=256",
         "p2min=1024", "p2max=32768", "p2slots=4000"]
WORKLOADS = {
    "larson": ("larson", [], "gens", 400, [{"HAKMEM_DIET_FACTOR": "0.9"}]),
    "phase_change": ("mt_churn", PHASE, "ops", 16000000,
                     [{"HAKMEM_BUNDLE_WIDTH": "64"}, {"HAKMEM_PARTIAL_RELEASE_PAGES": "1"},
                      {"HAKMEM_PARTIAL_RELEASE_PAGES": "4"}]),
}
SHORT = {"HAKMEM_ACE_ENABLED": "1", "HAKMEM_ACE_FAST_INTERVAL_MS": "50", "HAKMEM_ACE_SLOW_INTERVAL_S": "1"}
DEFAULT = {"HAKMEM_ACE_ENABLED": "1"}
FIXED = {"HAKMEM_TLS_CAP": "64", "HAKMEM_DRAIN_THRESHOLD": "128", "HAKMEM_BUNDLE_WIDTH": "32",
         "HAKMEM_PARTIAL_RELEASE_PAGES": "2", "HAKMEM_DIET_FACTOR": "1"}


def run_bin(argv, extra, timeout):
    """one run of a workload binary under hakmem (ACE off unless extra says so):
    its key=value output and its stderr"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_")}
    env.update({"LD_PRELOAD": LIB, "HAKMEM_ACE_ENABLED": "0"})
    env.update(extra)
    p = subprocess.run([os.path.join(BIN, argv[0])] + argv[1:], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode:
        sys.exit("%s failed: %s" % (argv[0], p.stderr[-500:]))
    return dict(l.split("=", 1) for l in p.stdout.split() if "=" in l), p.stderr


def run(wl, secs, extra, trace=None, log=False):
    b, shape, wp, rate, _ = WORKLOADS[wl]
    extra = dict(extra)
    if trace:
        extra["HAKMEM_ACE_TRACE"] = trace
    if log:
        extra["HAKMEM_ACE_LOG_LEVEL"] = "1"
    vals, err = run_bin([b] + shape + ["%s=%d" % (wp, rate * secs)], extra, secs * 4 + 60)
    return float(vals["throughput"]), float(vals["wall_s"]), err


def trace_ops(path):
    """[(t, operations done by t)] from an ACE trace, and ACE's CPU % over the run"""
    rows = [r for r in csv.DictReader(open(path))]
    out, ops, last_t = [], 0.0, 0.0
    for r in rows:
        t = float(r["t_s"])
        ops += float(r["ops_per_s"]) * (t - last_t)
        last_t = t
        out.append((t, ops))
    return out, 100 * float(rows[-1]["cpu_ms"]) / (1000 * float(rows[-1]["t_s"]))


def ops_at(curve, t):
    for tt, ops in curve:
        if tt >= t:
            return ops
    return None


def regret(a):
    marks = [2, 5, 10, 20, 28]   # the static runs (the reference) last ~30 s
    for wl in a.workloads.split(","):
        statics = WORKLOADS[wl][4]
        configs = [("defaults", 30, {})] + [(" ".join("%s=%s" % kv for kv in e.items()), 30, e) for e in statics]
        configs += [("ACE 50 ms / 1 s", 30, SHORT), ("ACE 500 ms / 30 s", 60, DEFAULT)]
        res = {}
        for rep in range(a.reps):
            for name, secs, env in configs:
                if not name.startswith("ACE"):
                    # a static setting: every knob fixed (the setting over the defaults)
                    # and ACE observing only, so its trace counts operations the way
                    # ACE's own runs do (the reference of the curve against time)
                    env = dict(SHORT, **dict(FIXED, **env))
                tr = tempfile.mktemp(suffix=".csv")
                tput, wall, _ = run(wl, secs, env, trace=tr)
                res.setdefault(name, []).append(tput)
                res.setdefault(name + " trace", []).append(tr)
                print("rep %d %s %-32s %.2f M ops/s in %.1f s" % (rep, wl, name, tput / 1e6, wall), flush=True)
        report(wl, res, [c[0] for c in configs], marks, a.reps)


def report(wl, res, names, marks, reps):
    static_names = [n for n in names if not n.startswith("ACE")]
    best_name = max(static_names, key=lambda n: statistics.median(res[n]))
    best = statistics.median(res[best_name])
    d = statistics.median(res["defaults"])
    print("\n%s: medians of %d interleaved runs (min-max); best static: %s\n" % (wl, reps, best_name))
    print("| setting | M ops/s | vs defaults | regret vs best static | ACE CPU, % of a core |")
    print("|---|---|---|---|---|")
    curves = {n: [trace_ops(t) for t in res[n + " trace"]] for n in names}
    for name in names:
        v = res[name]
        m = statistics.median(v)
        cpus = [c[1] for c in curves[name]]
        print("| %s | %.2f (%.2f–%.2f) | %+.1f%% | %+.1f%% (%+.1f … %+.1f) | %s |" % (
            name, m / 1e6, min(v) / 1e6, max(v) / 1e6, 100 * (m / d - 1), 100 * (best - m) / best,
            100 * (best - max(v)) / best, 100 * (best - min(v)) / best,
            "%.2f" % statistics.median(cpus) if name.startswith("ACE") else "(observing) %.2f" % statistics.median(cpus)))
    print("\nregret against elapsed time: 1 − (operations done by t) / (the best static's, median of "
          "its runs), operations from the traces, median over runs:\n")
    print("| ACE | " + " | ".join("%d s" % m for m in marks) + " |")
    print("|---|" + "---|" * len(marks))
    for name in [n for n in names if n.startswith("ACE")]:
        cells = []
        for m in marks:
            ref = [ops_at(c[0], m) for c in curves[best_name]]
            ref = [x for x in ref if x]
            xs = [ops_at(c[0], m) for c in curves[name]]
            xs = [x for x in xs if x]
            cells.append("%+.1f%%" % (100 * (1 - statistics.median(xs) / statistics.median(ref))) if xs and ref else "–")
        print("| %s | %s |" % (name, " | ".join(cells)))
    for n in names:
        for t in res[n + " trace"]:
            os.unlink(t)


def gate(a):
    pat = re.compile(r"Duel diet: ([0-9.]+) vs ([0-9.]+) \(in force\): ([-+][0-9.]+)% ± ([0-9.]+)% over (\d+) blocks.*: (.*)")
    wins, total = 0, 0
    for k in range(a.runs):
        env = dict(SHORT)
        env.update({x: y for x, y in FIXED.items() if x != "HAKMEM_DIET_FACTOR"})
        env["HAKMEM_ACE_SLICE_MS"] = str(a.slice_ms)
        tput, wall, err = run("larson", a.secs, env, log=True)
        duels = [m.groups() for m in map(pat.search, err.splitlines()) if m]
        first = next((d for d in duels if d[0] == "0.90" and d[1] == "1.00"), None)
        if first:
            total += 1
            wins += first[5].endswith("in force")
        print("run %d: %s" % (k, "; ".join("%s vs %s %s%% ± %s%% (%s blocks): %s" % d for d in duels) or "no diet duel"), flush=True)
    print("\ngate (slices of %g ms): diet 0.90 beat 1.00 in %d of %d first duels (%d runs)" % (a.slice_ms, wins, total, a.runs))


# phased: fragment_stress (churn phases, then a scattered free and an idle second)
# under every setting of what hakmem gives back, against ACE with the short loops.
PHASED = [{}] + [{"HAKMEM_PARTIAL_RELEASE_PAGES": v} for v in ("0", "1", "4", "8", "64", "512")] + \
         [{"HAKMEM_DIET_FACTOR": "0.5"}, {"HAKMEM_TLS_CAP": "4"}, SHORT]


def phased(a):
    res = [[] for _ in PHASED]
    for k in range(a.reps):
        for i, extra in enumerate(PHASED):
            v, _ = run_bin(["fragment_stress"], extra, 300)
            res[i].append((float(v["throughput"]) / 1e6, float(v["rss_after_idle_kb"]) / 1024,
                           float(v["rss_floor_kb"]) / 1024, float(v["peak_rss_kb"]) / 1024))
            print("rep %d %s: %s" % (k, extra or "defaults", res[i][-1]), file=sys.stderr, flush=True)
    med = statistics.median
    print("| setting | M ops/s | RSS after the idle phase, MiB | above the floor | peak RSS, MiB |")
    print("|---|---|---|---|---|")
    for extra, r in zip(PHASED, res):
        name = "ACE on, 50 ms / 1 s" if extra is SHORT else " ".join("`%s=%s`" % kv for kv in extra.items()) or "defaults"
        t, idle = [x[0] for x in r], [x[1] for x in r]
        print("| %s | %.2f (%.2f–%.2f) | %.1f (%.1f–%.1f) | %.1f | %.1f |" % (
            name, med(t), min(t), max(t), med(idle), min(idle), max(idle),
            med(idle) - med(x[2] for x in r), med(x[3] for x in r)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["regret", "gate", "phased"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workloads", default="larson", help="regret: comma-separated, of " + ",".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--slice-ms", type=float, default=20, help="gate: HAKMEM_ACE_SLICE_MS")
    ap.add_argument("--secs", type=int, default=12, help="gate: length of one run")
    a = ap.parse_args()
    {"regret": regret, "gate": gate, "phased": phased}[a.what](a)
