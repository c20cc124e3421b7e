#!/usr/bin/env python3
"""hakmem's catch suite: small programs that each commit one memory-safety bug
against the allocator (benchmarks/security/, see its README.md), run under
LD_PRELOAD of several allocators; the tables say, per group, how many cases
each allocator stops.

Outcome of one case under one allocator:
  caught  the process was stopped (a signal, or a non-zero exit) before it
          printed "not caught"
  missed  the program printed "not caught"
  hang    it ran past the timeout (5 s; not caught)
  error   the case could not set itself up (exit 77), or exited 0 without a
          verdict; neither caught nor missed, reported apart
In the inverted groups (not zeroed on reuse, reuse order, sanity) the program
itself exits 1 when the allocator does what the group asks for, so "caught"
reads "the allocator behaved" there (see the README).

  python3 benchmarks/scripts/catch_suite.py                       # default allocators
  python3 benchmarks/scripts/catch_suite.py --allocators "glibc= hakmem=build/libhakmem.so" --out docs/results/STEM
  python3 benchmarks/scripts/catch_suite.py --selftest            # the runner's own check, a few seconds

Python 3 standard library only.
"""
import argparse
import concurrent.futures
import csv
import datetime
import io
import os
import resource
import signal
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEC = os.path.join(ROOT, "benchmarks", "security")
BIN = os.path.join(SEC, "bin")
TIMEOUT_S = 5.0
CASE_ERROR_RC = 77

SIZES = (8, 4096, 262144)
LARGE = 1 << 20

DEFAULT_ALLOCATORS = [
    ("glibc", ""),
    ("hakmem", "build/libhakmem.so"),
    ("hakmem-secure", "build/libhakmem-secure.so"),
    ("mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"),
    ("jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),
    ("tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"),
    ("mimalloc3", "/work/peers/lib/libmimalloc3.so"),
    ("mimalloc3-secure", "/work/peers/lib/libmimalloc3-secure.so"),
    ("snmalloc", "/work/peers/lib/libsnmallocshim.so"),
    ("snmalloc-checks", "/work/peers/lib/libsnmallocshim-checks.so"),
    ("hardened_malloc", "/work/peers/lib/libhardened_malloc.so"),
    ("hardened_malloc-light", "/work/peers/lib/libhardened_malloc-light.so"),
]

# Mapped file names that give away an allocator library (the no-preload
# column must show none of them).
ALLOCATOR_LIB_MARKS = ("hakmem", "mimalloc", "jemalloc", "tcmalloc", "snmalloc", "hardened_malloc")

# (group, expected number of cases, inverted?)
GROUPS = [
    ("double free", 15, False),
    ("invalid free", 21, False),
    ("C++ mismatch", 5, False),
    ("1 B / 32 B overflow", 12, False),
    ("1 MiB overflow", 6, False),
    ("mem*/strcpy overflow", 18, False),
    ("zero-size block", 12, False),
    ("use after free", 9, False),
    ("not zeroed on reuse", 3, True),
    ("reuse order", 6, True),
    ("sanity", 6, True),
]


def size_label(n):
    if n >= 1024 and n % 1024 == 0:
        return "%dK" % (n // 1024)
    return str(n)


DF_WHAT = {
    "double_free_simple": "free(p); free(p)",
    "double_free_interleaved": "free(a); free(b); free(a)",
    "double_free_delayed": "free(p), frees of 8 other same-size blocks and churn of other sizes, then free(p)",
    "double_free_after_realloc": "q = realloc(p, 8n+4096) moves the block; free(p)",
    "double_free_other_thread": "a second thread frees p, then the main thread frees p",
}
IF_WHAT = {
    "invalid_free_stack": "free() of a 64-aligned stack buffer",
    "invalid_free_global": "free() of a 64-aligned static array",
    "invalid_free_mmap": "free() of the start of the program's own mmap",
    "invalid_free_interior": "free(p + n/2 rounded down to 16; 8 for n = 8)",
    "invalid_free_unaligned": "free(p + 1)",
    "invalid_free_near": "free(p + 16)",
    "invalid_free_unused_slot": "b - a = stride of two blocks; free(b + stride), a slot never handed out",
}
CXX_WHAT = {
    "cxx_sized_delete_mismatch": "delete of a 4104-byte Derived through Base* (no virtual dtor): operator delete(p, 8)",
    "cxx_new_array_delete": "new Obj[16] (Obj has a dtor, so a count cookie) freed with scalar delete",
    "cxx_new_delete_array": "new Obj freed with delete[] (reads a count in front of the block)",
    "cxx_new_free": "new Obj freed with free()",
    "cxx_malloc_delete": "malloc(sizeof(Obj)) freed with delete",
}
MEM_WHAT = {
    "over1": "writes n+1 bytes into an n-byte block",
    "over32": "writes n+32 bytes into an n-byte block",
    "under1": "writes n bytes starting at p-1",
}
UAF_WHAT = {
    "uaf_read": "reads every 8th byte of a freed block, then same-size churn",
    "uaf_write": "overwrites a freed block; afterwards only other sizes are allocated",
    "uaf_write_reuse": "overwrites a freed block, then allocates the same size again (twice the churn)",
}
REUSE_WHAT = {
    "reuse_immediate": "free(p); malloc(n) == p is not caught",
    "reuse_within_8": "free(p); p among the next 8 malloc(n) is not caught",
}
SANITY_WHAT = {
    "sanity_malloc_huge": "malloc(SIZE_MAX, SIZE_MAX-1, -15, -4095, -2MiB+1, PTRDIFF_MAX+1) all return NULL",
    "sanity_calloc_overflow": "calloc(n, m) with n*m overflowing size_t returns NULL (4 pairs)",
    "sanity_reallocarray_overflow": "reallocarray(p, n, m) with n*m overflowing returns NULL, p intact",
    "sanity_realloc_huge": "realloc(p, SIZE_MAX / SIZE_MAX-4095 / PTRDIFF_MAX+1) returns NULL, p intact",
    "sanity_heap_exec": "blocks of 8 B, 4 KiB, 256 KiB, 1 MiB lie in non-executable mappings",
    "sanity_usable_size_stack": "malloc_usable_size(stack pointer) stops the process or returns 0",
}


def cases():
    """Every case: (name, group, argv relative to BIN, what it does)."""
    out = []

    def add(name, group, argv, what):
        out.append((name, group, [str(a) for a in argv], what))

    for prog, what in DF_WHAT.items():
        for n in SIZES:
            add("%s@%s" % (prog, size_label(n)), "double free", [prog, n], what)
    for prog, what in IF_WHAT.items():
        for n in SIZES:
            add("%s@%s" % (prog, size_label(n)), "invalid free", [prog, n], what)
    for prog, what in CXX_WHAT.items():
        add(prog, "C++ mismatch", [prog], what)
    # request sizes that are not class sizes: n - 3
    for prog in ("overflow", "underflow"):
        for dist in (1, 32):
            for n in SIZES:
                what = ("writes the %d byte(s) past the end of a malloc(n-3) block, frees it" if prog == "overflow"
                        else "writes the %d byte(s) before the start of a malloc(n-3) block, frees it") % dist
                add("%s_%dB@%s" % (prog, dist, size_label(n)), "1 B / 32 B overflow", [prog, n - 3, dist], what)
    for prog in ("overflow", "underflow"):
        for dist in (1, 32, 4096):
            what = ("writes the %d byte(s) past the end of a 1 MiB block, frees it" if prog == "overflow"
                    else "writes the %d byte(s) before the start of a 1 MiB block, frees it") % dist
            add("large_%s_%s" % (prog, size_label(dist) + ("" if dist >= 1024 else "B")),
                "1 MiB overflow", [prog, LARGE, dist], what)
    for prog, mode in (("mem_memcpy", "over1"), ("mem_memcpy", "over32"), ("mem_memmove", "over1"),
                       ("mem_memmove", "under1"), ("mem_memset", "over32"), ("mem_strcpy", "over1")):
        for n in SIZES:
            add("%s_%s@%s" % (prog[4:], mode, size_label(n)), "mem*/strcpy overflow", [prog, n, mode],
                "%s %s" % (prog[4:], MEM_WHAT[mode]))
    for src, call in (("malloc", "malloc(0)"), ("calloc", "calloc(1, 0)"), ("aligned", "aligned_alloc(64, 0)")):
        for op in ("read", "write"):
            for off in (0, 8):
                add("zero_%s_%s_%d" % (src, op, off), "zero-size block", ["zero_size", src, op, off],
                    "%s of byte %d of %s, then free" % (op, off, call))
    for prog, what in UAF_WHAT.items():
        for n in SIZES:
            add("%s@%s" % (prog, size_label(n)), "use after free", [prog, n], what)
    for n in SIZES:
        add("reuse_not_zeroed@%s" % size_label(n), "not zeroed on reuse", ["reuse_not_zeroed", n],
            "fill with 0xA5, free, malloc(n): all zero is caught")
    for prog, what in REUSE_WHAT.items():
        for n in SIZES:
            add("%s@%s" % (prog, size_label(n)), "reuse order", [prog, n], what)
    for prog, what in SANITY_WHAT.items():
        add(prog, "sanity", [prog], what)
    return out


README_BEGIN = "<!-- case table: catch_suite.py --list -->"
README_END = "<!-- end of case table -->"


def case_list_md(table):
    lines = ["| case | group | command (in bin/) | what it does |", "|---|---|---|---|"]
    for name, group, argv, what in table:
        lines.append("| %s | %s | `%s` | %s |" % (name, group, " ".join(argv), what))
    return "\n".join(lines)


def check_case_table(table):
    """The case list matches GROUPS (names unique, counts as declared)."""
    names = [c[0] for c in table]
    if len(set(names)) != len(names):
        raise SystemExit("catch_suite: duplicate case names")
    for g, want, _ in GROUPS:
        got = sum(1 for c in table if c[1] == g)
        if got != want:
            raise SystemExit("catch_suite: group %r has %d cases, expected %d" % (g, got, want))
    if len(table) != sum(g[1] for g in GROUPS):
        raise SystemExit("catch_suite: a case outside the groups")


def build():
    r = subprocess.run(["make", "-C", SEC, "-s", "-j2"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout)
        raise SystemExit("catch_suite: building benchmarks/security failed")


def parse_allocators(spec):
    out = []
    for item in spec.replace(",", " ").split():
        if "=" not in item:
            raise SystemExit("catch_suite: allocator %r is not NAME=PATH" % item)
        name, path = item.split("=", 1)
        if path and not os.path.isabs(path):
            path = os.path.join(ROOT, path)
        out.append((name, path))
    return out


def case_env(lib):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    env["LC_ALL"] = "C"
    return env


def verify_preload(lib):
    """None if the probe's /proc/self/maps shows lib (or, for no preload, no
    allocator library at all), else the reason it does not."""
    try:
        r = subprocess.run([os.path.join(BIN, "probe")], env=case_env(lib), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "the probe hung"
    if r.returncode != 0:
        return "the probe failed (status %d): %s" % (r.returncode, first_line(r.stderr))
    mapped = set()
    for line in r.stdout.splitlines():
        line = line.strip()
        if line:
            mapped.add(os.path.realpath(line))
    if lib:
        if os.path.realpath(lib) not in mapped:
            return "%s is not mapped in the probe (%s)" % (lib, first_line(r.stderr) or "no message")
        return None
    libs = sorted(m for m in mapped if any(k in os.path.basename(m) for k in ALLOCATOR_LIB_MARKS))
    if libs:
        return "an allocator library is mapped without a preload: %s" % ", ".join(libs)
    return None


def first_line(text):
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:200]
    return ""


def signame(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        return "signal %d" % num


def run_case(case, lib, timeout=TIMEOUT_S):
    """(outcome, detail, first line of stderr)."""
    name, group, argv = case[:3]
    cmd = [os.path.join(BIN, argv[0])] + argv[1:]
    try:
        r = subprocess.run(cmd, env=case_env(lib), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=SEC)
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace")
        return "hang", "timeout %gs" % timeout, first_line(err)
    out = r.stdout.decode("utf-8", "replace")
    err = first_line(r.stderr.decode("utf-8", "replace"))
    rc = r.returncode
    detail = signame(-rc) if rc < 0 else "exit %d" % rc
    if "not caught" in out.splitlines():
        return "missed", detail, err
    if rc == CASE_ERROR_RC:
        return "error", detail, err
    if rc != 0:
        return "caught", detail, err
    return "error", "exit 0 without a verdict", err


def run_all(table, allocators, jobs, progress=True):
    """rows: (case, group, allocator, outcome, detail, stderr line)."""
    work = [(c, a) for a in allocators for c in table]
    rows = [None] * len(work)
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        futs = {ex.submit(run_case, c, a[1]): i for i, (c, a) in enumerate(work)}
        for f in concurrent.futures.as_completed(futs):
            i = futs[f]
            c, a = work[i]
            outcome, detail, err = f.result()
            rows[i] = (c[0], c[1], a[0], outcome, detail, err)
            done += 1
            if progress and (done % 50 == 0 or done == len(work)):
                sys.stderr.write("catch_suite: %d/%d runs\n" % (done, len(work)))
    return rows


def group_table(rows, allocators, table):
    names = [a[0] for a in allocators]
    count = {}
    for r in rows:
        key = (r[1], r[2])
        c = count.setdefault(key, {"caught": 0, "missed": 0, "hang": 0, "error": 0})
        c[r[3]] += 1

    def cell(g_list, alloc):
        tot = {"caught": 0, "hang": 0, "error": 0}
        for g in g_list:
            c = count.get((g, alloc), {})
            for k in tot:
                tot[k] += c.get(k, 0)
        s = str(tot["caught"])
        extra = []
        if tot["hang"]:
            extra.append("%d hang" % tot["hang"])
        if tot["error"]:
            extra.append("%d error" % tot["error"])
        return s + (" (%s)" % ", ".join(extra) if extra else "")

    lines = ["| group | cases | " + " | ".join(names) + " |",
             "|---|---:|" + "---:|" * len(names)]
    for g, _, inverted in GROUPS:
        label = g + (" *" if inverted else "")
        n = sum(1 for c in table if c[1] == g)
        if n == 0:
            continue
        lines.append("| %s | %d | %s |" % (label, n, " | ".join(cell([g], a) for a in names)))
    total = len(table)
    lines.append("| **total** | **%d** | %s |" % (
        total, " | ".join("**%s**" % cell([g[0] for g in GROUPS], a) for a in names)))
    return "\n".join(lines)


def case_matrix(rows, allocators, table):
    names = [a[0] for a in allocators]
    by = {(r[0], r[2]): r for r in rows}
    mark = {"caught": "C", "missed": ".", "hang": "H", "error": "E"}
    lines = ["| case | group | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for c in table:
        lines.append("| %s | %s | %s |" % (c[0], c[1], " | ".join(
            mark[by[(c[0], a)][3]] for a in names)))
    return "\n".join(lines)


LEGEND = ("Counts are cases caught (process stopped before printing \"not caught\"). "
          "* inverted groups: the program exits 1 when the allocator behaves "
          "(zeroes reused memory, does not hand a freed block straight back, fails impossible "
          "requests, keeps the heap non-executable), so there too a higher count is better. "
          "Hangs (timeout %gs) and set-up errors are counted apart and are not caught." % TIMEOUT_S)


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "group", "allocator", "outcome", "detail", "stderr"])
        for r in rows:
            w.writerow(r)


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
    except OSError:
        return ""


def select_allocators(allocators):
    usable, notes = [], []
    for name, path in allocators:
        if path and not os.path.exists(path):
            notes.append("skipped %s: %s does not exist" % (name, path))
            continue
        why = verify_preload(path)
        if why:
            notes.append("skipped %s: preload not verified: %s" % (name, why))
            continue
        usable.append((name, path))
    return usable, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--allocators", default=None, metavar="'NAME=PATH ...'",
                    help="columns; an empty PATH means no preload (default: %s)" %
                         " ".join("%s=%s" % a for a in DEFAULT_ALLOCATORS))
    ap.add_argument("--out", metavar="STEM", help="also write STEM.csv and STEM.md")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="cases run in parallel (default 2)")
    ap.add_argument("--cases", metavar="SUBSTR", help="only cases whose name contains SUBSTR (comma list)")
    ap.add_argument("--no-build", action="store_true", help="do not run make in benchmarks/security")
    ap.add_argument("--selftest", action="store_true", help="check the runner itself (a few seconds)")
    ap.add_argument("--list", action="store_true",
                    help="print the case table (markdown; benchmarks/security/README.md holds it) and exit")
    args = ap.parse_args()

    # no core dumps: aborting cases end at once (children inherit the limit)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    if args.selftest:
        return selftest(args.no_build)
    if args.list:
        check_case_table(cases())
        print(case_list_md(cases()))
        return 0

    table = cases()
    check_case_table(table)
    if args.cases:
        keys = [k for k in args.cases.split(",") if k]
        table = [c for c in table if any(k in c[0] for k in keys)]
    if not args.no_build:
        build()
    allocators = parse_allocators(args.allocators) if args.allocators is not None else \
        [(n, p if not p or os.path.isabs(p) else os.path.join(ROOT, p)) for n, p in DEFAULT_ALLOCATORS]
    usable, notes = select_allocators(allocators)
    for n in notes:
        sys.stderr.write("catch_suite: %s\n" % n)
    if not usable:
        raise SystemExit("catch_suite: no allocator to run")

    rows = run_all(table, usable, args.jobs)
    gt = group_table(rows, usable, table)
    print(gt)
    print()
    print(LEGEND)

    if args.out:
        stem = args.out
        d = os.path.dirname(stem)
        if d:
            os.makedirs(d, exist_ok=True)
        write_csv(stem + ".csv", rows)
        md = io.StringIO()
        md.write("# Catch suite, %s (hakmem %s)\n\n" % (datetime.date.today().isoformat(), git_head()))
        md.write("`python3 benchmarks/scripts/catch_suite.py%s` — %d cases, timeout %gs, %d in parallel. "
                 "Cases: benchmarks/security/README.md.\n\n" % (
                     (' --allocators "%s"' % args.allocators) if args.allocators is not None else "",
                     len(table), TIMEOUT_S, args.jobs))
        md.write("Columns (LD_PRELOAD, verified in /proc/self/maps): %s.\n\n" % ", ".join(
            "%s = %s" % (n, p or "no preload") for n, p in usable))
        for n in notes:
            md.write("- %s\n" % n)
        if notes:
            md.write("\n")
        md.write(gt + "\n\n" + LEGEND + "\n\n")
        md.write("## Every case\n\nC caught, . missed, H hang, E error (set-up failed).\n\n")
        md.write(case_matrix(rows, usable, table) + "\n")
        with open(stem + ".md", "w") as f:
            f.write(md.getvalue())
        sys.stderr.write("catch_suite: wrote %s.csv and %s.md\n" % (stem, stem))
    return 0


def selftest(no_build):
    """Runner logic on cases with known outcomes under glibc (no preload)."""
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    table = cases()
    check_case_table(table)
    expect("number of cases", len(table), sum(g[1] for g in GROUPS))
    # the README's case table is the one the runner runs
    with open(os.path.join(SEC, "README.md")) as f:
        readme = f.read()
    expect("README case table (regenerate with --list)",
           readme.split(README_BEGIN, 1)[-1].split(README_END, 1)[0].strip(), case_list_md(table))
    expect("allocator spec", parse_allocators("glibc= x=/a/b.so, y=rel.so"),
           [("glibc", ""), ("x", "/a/b.so"), ("y", os.path.join(ROOT, "rel.so"))])
    if not no_build:
        build()
    byname = {c[0]: c for c in table}
    # glibc's tcache check aborts on an immediate double free
    o = run_case(byname["double_free_simple@8"], "")
    expect("glibc double free", (o[0], o[1]), ("caught", "SIGABRT"))
    # a correct program is not caught
    o = run_case(("benign", "-", ["benign", "64"], ""), "")
    expect("benign program", o[0], "missed")
    # a hang is a hang
    o = run_case(("benign-hang", "-", ["benign", "hang"], ""), "", timeout=0.5)
    expect("sleeping program", o[0], "hang")
    # a set-up failure is neither caught nor missed
    o = run_case(("bad-args", "-", ["zero_size", "nosuchsource", "read", "0"], ""), "")
    expect("case error", (o[0], o[1]), ("error", "exit 77"))
    # inverted group: glibc keeps heap memory non-executable, and glibc's tcache
    # hands a freed 8-byte block straight back
    expect("inverted caught", run_case(byname["sanity_heap_exec"], "")[0], "caught")
    expect("inverted missed", run_case(byname["reuse_immediate@8"], "")[0], "missed")
    # preload verification: no preload passes, a library that is not loaded fails
    expect("verify no preload", verify_preload(""), None)
    bogus = os.path.join(ROOT, "no-such-lib.so")
    expect("verify bogus preload", verify_preload(bogus) is not None, True)
    for name, lib in (("jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"),):
        if os.path.exists(lib):
            expect("verify %s" % name, verify_preload(lib), None)
    # tabulation
    rows = [("a@8", "double free", "x", "caught", "SIGABRT", ""),
            ("b@8", "double free", "x", "hang", "timeout", ""),
            ("c", "sanity", "x", "missed", "exit 0", "")]
    gt = group_table(rows, [("x", "")], table)
    expect("table double free row", "| double free | 15 | 1 (1 hang) |" in gt, True)
    expect("table total row", "| **total** | **%d** | **1 (1 hang)** |" % len(table) in gt, True)
    if failures:
        for f in failures:
            sys.stderr.write("catch_suite selftest FAILED: %s\n" % f)
        return 1
    print("catch_suite selftest: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
