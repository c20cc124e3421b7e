#!/usr/bin/env python3
"""Allocator instructions per malloc/free pair on a whole benchmark, by callgrind.

Runs one benchmark command under valgrind --tool=callgrind once per allocator
(LD_PRELOAD), sums the self cost (Ir) of every function by the ELF object it
lives in, and reports the instructions spent in the allocator's library per
pair, where the number of pairs is the benchmark's own "pairs=N" output line.
The total is printed too: where an allocator's code is not attributed to its
library (tcmalloc's inlined operators), compare totals instead.

usage: scripts/callgrind_shape.py [--name NAME=SO ...] -- CMD ARGS...
default command: benchmarks/bin/malloc_simple quick (glibc's bench-malloc-simple
shape); default allocators: hakmem (build/libhakmem.so) and, when present,
mimalloc3 ($MIMALLOC3_SO or /work/peers/lib/libmimalloc3.so).  Each allocator
is a preloaded library (glibc's malloc, inside libc, is not separated out).
"""
import os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def self_cost_by_object(path):
    """Sum of self Ir per object in a callgrind output file."""
    names = {"ob": {}, "fn": {}}
    cost, ob, skip_next = {}, "?", False
    ref = re.compile(r"^(c?ob|c?fn|c?fi|c?fl|fe|fi)=(\((\d+)\))?\s*(.*)$")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            m = ref.match(line)
            if m:
                key, _, num, name = m.groups()
                table = "ob" if key.endswith("ob") else "fn" if key.endswith("fn") else None
                if table:
                    if num and name:
                        names[table][num] = name
                    elif num:
                        name = names[table].get(num, "?")
                if key == "ob":
                    ob = name
                continue
            if line.startswith("calls="):
                skip_next = True   # the next cost line is the call's inclusive cost
                continue
            if line[0].isdigit() or line[0] in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    cost[ob] = cost.get(ob, 0) + int(parts[1])
    return cost


def run(so, cmd):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        env = dict(os.environ, HAKMEM_ACE_ENABLED="0")
        if so:
            env["LD_PRELOAD"] = so
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd,
                           env=env, capture_output=True, text=True)
        m = re.search(r"^pairs=(\d+)", p.stdout, re.M)
        if p.returncode != 0 or not m:
            return None
        return int(m.group(1)), self_cost_by_object(out)


def main():
    args = sys.argv[1:]
    allocs, cmd = [], []
    while args:
        a = args.pop(0)
        if a == "--name":
            allocs.append(args.pop(0).split("=", 1))
        elif a == "--":
            cmd = args
            break
        else:
            sys.exit(__doc__)
    if not allocs:
        allocs = [("hakmem", os.path.join(ROOT, "build/libhakmem.so"))]
        mi3 = os.environ.get("MIMALLOC3_SO", "/work/peers/lib/libmimalloc3.so")
        if os.path.exists(mi3):
            allocs.append(("mimalloc3", mi3))
    cmd = cmd or [os.path.join(ROOT, "benchmarks/bin/malloc_simple"), "quick"]
    print("callgrind: allocator instructions per malloc+free pair (self Ir in the allocator's object / pairs)")
    print("command: " + " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd))
    print("%-12s %10s %14s %14s %8s" % ("allocator", "pairs", "allocator Ir", "total Ir", "per pair"))
    for name, so in allocs:
        r = run(so, cmd)
        if not r:
            print("%-12s failed" % name)
            continue
        pairs, cost = r
        real = os.path.realpath(so)   # callgrind names the file a symlink points to
        mine = sum(v for k, v in cost.items() if os.path.realpath(k) == real)
        print("%-12s %10d %14d %14d %8.1f" % (name, pairs, mine, sum(cost.values()), mine / pairs))


if __name__ == "__main__":
    main()
