#!/usr/bin/env python3
"""What each of ACE's groups and rules does on the suite.

  benchmarks/scripts/ace_ablation.py census [--reps 2] [--secs 5] [--workloads a,b]
  benchmarks/scripts/ace_ablation.py ablate --group G[,G] --workloads a,b [--reps 5] [--secs 5]

census: every suite workload (run_bench.py's, default mode), scaled to run about
--secs seconds, with ACE at the short loops (50 ms / 1 s) and its log at level 1.
Per group: duels fought and won (a win moves the knob); per rule: how often it
fired.  A group or rule that never moves a knob on any workload changes none of
throughput, RSS and latency there: what it costs is its exploration.
ablate: ACE with the group's knobs free against ACE with them fixed at their
static values (so the group is never explored and no rule moves them),
interleaved; medians of throughput, peak RSS and the sampled p99 latency of the
ACE trace.
"""
import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

SHORT = {"HAKMEM_ACE_ENABLED": "1", "HAKMEM_ACE_FAST_INTERVAL_MS": "50", "HAKMEM_ACE_SLOW_INTERVAL_S": "1",
         "HAKMEM_ACE_LOG_LEVEL": "1"}
BANDS = [range(0, 8), range(8, 20), range(20, 36), range(36, 52)]
GROUPS = ["tls_cap[16-128B]", "tls_cap[144B-1K]", "tls_cap[1K-16K]", "tls_cap[16K-256K]", "diet"]
RULES = [("backlog -> drain down", r"Drain threshold\[\d+\]: \d+ → \d+ \(high backlog"),
         ("drain restored", r"Drain threshold\[\d+\]: \d+ → \d+ \(stable, restore"),
         ("mutex wait -> bundle up", r"Bundle width: \d+ → \d+ \(mutex wait"),
         ("bundle step undone (no relief)", r"Bundle width: \d+ → \d+ \(no relief"),
         ("bundle restored", r"Bundle width: \d+ → \d+ \(stable, restore"),
         ("LLC pressure -> diet move", r"Diet factor: .* \(LLC pressure"),
         ("diet restored", r"Diet factor: .* \(stable, gradual restore"),
         ("release cost -> release step toward keeping pages", r"Partial release pages: \d+ → \d+ \(release costs more"),
         ("ghost hits -> Large bound up", r"Large cache bound \(MiB\): \d+ → \d+ \(ghost hits"),
         ("hold time from the price", r"Hold time \(ms\): \d+ → \d+ \(hold time"),
         ("above the RSS target -> scavenge", r"Scavenge \(above the RSS target\)"),
         ("fragmentation -> partial release", r"Partial release \(fragmentation\)"),
         ("RSS up -> scavenge", r"Scavenge \(RSS up\)"),
         ("idle -> scavenge", r"Scavenge \(idle\)"),
         ("phase change -> bandits start over", r"Phase change:")]
DUEL = re.compile(r"\[ACE\] Duel (\S+): (\S+) vs (\S+) \(in force\): ([-+][\d.]+)% ± ([\d.]+)% over (\d+) blocks"
                  r".*: (.*)$")


def fixed_env(group):
    """environment that fixes every knob of group at its static value"""
    if group.startswith("tls_cap"):
        return {"HAKMEM_TLS_CAP": ",".join("%d:64" % c for c in BANDS[GROUPS.index(group)])}
    return {"diet": {"HAKMEM_DIET_FACTOR": "1"}}[group]


def run(argv, extra, timeout):
    env = rb.clean_env()
    env.update({"LD_PRELOAD": rb.HAKMEM_SO})
    env.update(extra)
    fd, trace = tempfile.mkstemp(prefix="hakmem-abl-", suffix=".csv")
    os.close(fd)
    if env.get("HAKMEM_ACE_ENABLED") == "1":
        env["HAKMEM_ACE_TRACE"] = trace
    try:
        p = subprocess.run(argv, env=env, cwd=rb.ROOT, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        if p.returncode:
            sys.exit("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr[-400:]))
        vals = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l and not l.startswith("#"))
        rows = list(csv.DictReader(open(trace))) if env.get("HAKMEM_ACE_ENABLED") == "1" else []
        return vals, p.stderr, rows
    finally:
        os.unlink(trace)


def scaled_argv(w, secs):
    """the workload's default-mode command, its work parameter scaled to ~secs"""
    argv = rb.workload_argv(w, "default")
    vals, _, _ = run(argv, {"HAKMEM_ACE_ENABLED": "0"}, 600)
    key = rb.WORK_PARAM[w[0]]
    k = max(1, int(round(secs / float(vals["wall_s"]))))
    return argv + ["%s=%d" % (key, int(float(vals["param_" + key])) * k)]


def p99_median(rows):
    v = [float(r["p99_ns"]) for r in rows if r["idle"] == "0" and r["slice"] == "0" and float(r["ops_per_s"]) > 0]
    return statistics.median(v) if v else float("nan")


def census(a):
    wls = [w for w in rb.WORKLOADS if not a.workloads or w[0] in a.workloads.split(",")]
    duels = {g: {} for g in GROUPS}      # group -> workload -> [duels, won]
    rules = {r: {} for r, _ in RULES}    # rule -> workload -> count
    for w in wls:
        argv = scaled_argv(w, a.secs)
        for rep in range(a.reps):
            vals, err, rows = run(argv, SHORT, a.secs * 10 + 120)
            print("%-15s rep %d: %.2f s, %d ticks" % (w[0], rep + 1, float(vals["wall_s"]), len(rows)),
                  file=sys.stderr)
            for line in err.splitlines():
                m = DUEL.search(line)
                if m:
                    d = duels[m.group(1)].setdefault(w[0], [0, 0])
                    d[0] += 1
                    d[1] += m.group(7).endswith("in force")
                for name, pat in RULES:
                    if re.search(pat, line):
                        rules[name][w[0]] = rules[name].get(w[0], 0) + 1
    print("\n| group | duels / won, per workload | duels / won, all |")
    print("|---|---|---|")
    for g in GROUPS:
        cells = ["%s %d/%d" % (wl, d[0], d[1]) for wl, d in duels[g].items()]
        print("| %s | %s | %d / %d |" % (g, ", ".join(cells) or "none", sum(d[0] for d in duels[g].values()),
                                        sum(d[1] for d in duels[g].values())))
    print("\n| rule | workloads where it fired (times, over %d runs) |" % a.reps)
    print("|---|---|")
    for name, _ in RULES:
        cells = ["%s %d" % (wl, n) for wl, n in rules[name].items()]
        print("| %s | %s |" % (name, ", ".join(cells) or "never"))


def ablate(a):
    wls = [w for w in rb.WORKLOADS if w[0] in a.workloads.split(",")]
    for w in wls:
        argv = scaled_argv(w, a.secs)
        fixed = dict(SHORT)
        for g in a.group.split(","):
            for k, v in fixed_env(g).items():
                fixed[k] = fixed[k] + "," + v if k in fixed else v
        cols = {"free": dict(SHORT), "fixed": fixed}
        got = {c: [] for c in cols}
        for rep in range(a.reps):
            for c in (list(cols) if rep % 2 == 0 else list(cols)[::-1]):
                vals, _, rows = run(argv, cols[c], a.secs * 10 + 120)
                got[c].append((float(vals["throughput"]), float(vals["peak_rss_kb"]) / 1024, p99_median(rows)))
        med = {c: [statistics.median(x[i] for x in got[c]) for i in range(3)] for c in cols}
        lo_hi = {c: (min(x[0] for x in got[c]), max(x[0] for x in got[c])) for c in cols}
        print("| %s | %s | %.3f (%.2f–%.2f vs %.2f–%.2f M) | %.3f | %.3f |" % (
            w[0], a.group, med["free"][0] / med["fixed"][0], lo_hi["free"][0] / 1e6, lo_hi["free"][1] / 1e6,
            lo_hi["fixed"][0] / 1e6, lo_hi["fixed"][1] / 1e6, med["free"][1] / med["fixed"][1],
            med["free"][2] / med["fixed"][2]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["census", "ablate"])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--workloads", default="")
    ap.add_argument("--group", help="ablate: comma-separated, of " + ", ".join(GROUPS))
    a = ap.parse_args()
    if a.stage == "census":
        census(a)
    else:
        if not a.group or not a.workloads or any(g not in GROUPS for g in a.group.split(",")):
            ap.error("ablate needs --group (of %s) and --workloads" % ", ".join(GROUPS))
        print("| workload | group | throughput free / fixed (ranges) | peak RSS free / fixed | p99 free / fixed |")
        print("|---|---|---|---|---|")
        ablate(a)


if __name__ == "__main__":
    main()
