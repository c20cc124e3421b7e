#!/usr/bin/env python3
"""A/B of hakmem settings: workloads run under build/libhakmem.so with each
setting in turn, interleaved (rep by rep, setting order rotated), medians and
min-max of the figures each run prints.

  ab_env.py [--reps N] [--figures throughput,call_p99_ns,peak_rss_kb]
            --set A='' --set B='HAKMEM_HUGEPAGES=1' -- 'huge_ws default lat=1' ...

A workload is a benchmarks/bin program and its arguments, one string each.
Python 3 standard library only.
"""
import argparse, os, shlex, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(workload, env_set):
    argv = shlex.split(workload)
    env = dict(os.environ, LD_PRELOAD=os.path.join(ROOT, "build", "libhakmem.so"))
    env.update(kv.split("=", 1) for kv in shlex.split(env_set))
    out = subprocess.run([os.path.join(ROOT, "benchmarks", "bin", argv[0])] + argv[1:], env=env,
                         capture_output=True, text=True, check=True).stdout
    return {k: float(v) for k, _, v in (l.partition("=") for l in out.splitlines())
            if v and v.replace(".", "", 1).isdigit()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--figures", default="throughput,call_p99_ns,peak_rss_kb")
    ap.add_argument("--set", action="append", required=True, help="NAME=ENV (ENV: 'K=V K2=V2', may be empty)")
    ap.add_argument("workloads", nargs="+")
    a = ap.parse_args()
    sets = [s.split("=", 1) for s in a.set]
    figs = a.figures.split(",")
    got = {}
    for rep in range(a.reps):
        for w in a.workloads:
            order = sets[rep % len(sets):] + sets[:rep % len(sets)]
            for name, env in order:
                r = run(w, env)
                for f in figs:
                    if f in r:
                        got.setdefault((w, name, f), []).append(r[f])
        print("rep %d/%d done" % (rep + 1, a.reps), file=sys.stderr)
    base = sets[0][0]
    print("| workload | figure | " + " | ".join(n for n, _ in sets) + " |")
    print("|---|---|" + "---|" * len(sets))
    for w in a.workloads:
        for f in figs:
            if (w, base, f) not in got:
                continue
            b = statistics.median(got[(w, base, f)])
            cells = []
            for n, _ in sets:
                v = got.get((w, n, f), [])
                if not v:
                    cells.append("-")
                    continue
                m = statistics.median(v)
                cells.append("%.4g (%.4g-%.4g)%s" % (m, min(v), max(v), "" if n == base else " %.2fx" % (m / b if b else 0)))
            print("| %s | %s | %s |" % (w, f, " | ".join(cells)))


if __name__ == "__main__":
    main()
