#!/usr/bin/env python3
"""hakmem benchmark runner: side-by-side comparison, knob sweep, self-test.

  run_bench.py [--mode quick|default|long] [--reps N] [--workloads a,b] [--allocators a,b]
               [--extra-peers "name=/path/lib.so name2=/path/lib2.so"]
  run_bench.py --sweep [--mode ...] [--reps N] [--knobs tls_cap,...] [--no-confirm]
  run_bench.py --confirm-from docs/results/<date>-sweep.csv   (confirmation stage only)
  run_bench.py --selftest

Every workload runs under every allocator, interleaved (for each repetition: for
each workload: every allocator in turn), so drift on the machine hits all
columns alike.  Medians and min-max over the repetitions; ratios against hakmem
with ACE off.  Output: a table on stdout, docs/results/<date>[-mode].md + .csv
(+ -raw.csv with every run), PNG charts via gnuplot; progress on stderr.
Python 3 standard library only.
"""
import argparse
import csv
import datetime
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH_DIR)
BIN = os.path.join(BENCH_DIR, "bin")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
HAKMEM_SO = os.path.join(ROOT, "build", "libhakmem.so")

# ACE runs are short, so its loops are made to act within them.
ACE_ENV = {"HAKMEM_ACE_ENABLED": "1", "HAKMEM_ACE_FAST_INTERVAL_MS": "50", "HAKMEM_ACE_SLOW_INTERVAL_S": "1"}

# name, preload path (None = glibc), extra env, substring expected in allocator_lib=, apt package
ALLOCATORS = [
    ("hakmem", HAKMEM_SO, {"HAKMEM_ACE_ENABLED": "0"}, "libhakmem", None),
    ("hakmem-ace", HAKMEM_SO, ACE_ENV, "libhakmem", None),
    ("glibc", None, {}, "glibc", None),
    ("mimalloc", LIBDIR + "/libmimalloc.so.2", {}, "libmimalloc", "libmimalloc2.0"),
    ("jemalloc", LIBDIR + "/libjemalloc.so.2", {}, "libjemalloc", "libjemalloc2"),
    ("tcmalloc", LIBDIR + "/libtcmalloc_minimal.so.4", {}, "libtcmalloc", "libtcmalloc-minimal4"),
]
REF = "hakmem"
# Extra peers (--extra-peers / make bench EXTRA_PEERS="name=/path/lib.so ..."): more
# LD_PRELOAD columns, e.g. mimalloc 3.x and snmalloc built from source
# (scripts/build-peers-from-source.sh, docs/PEERS-BUILD.md).  Same tuple layout as
# ALLOCATORS; filled in by main().
EXTRA = []

# Workloads: name, binary, fixed shape arguments, per-mode arguments (quick, default, long).
# Parameters are fixed here before results are looked at; a change says why in its commit.
WORKLOADS = [
    ("fragment_stress", "fragment_stress", [], None),
    ("huge_ws", "huge_ws", ["name=huge_ws"], None),
    ("realloc_heavy", "realloc_heavy", [], None),
    ("mid_mt1", "mt_churn", ["name=mid_mt1", "threads=1", "min=1024", "max=32768"], None),
    ("mid_mt", "mt_churn", ["name=mid_mt", "threads=4", "min=1024", "max=32768"], None),
    ("mid_mt16", "mt_churn", ["name=mid_mt16", "threads=16", "min=1024", "max=32768"], None),
    ("larson", "larson", [], None),
    ("xmalloc_small", "prodcons", ["name=xmalloc_small", "min=16", "max=128"], None),
    ("xmalloc_mid", "prodcons", ["name=xmalloc_mid", "min=1024", "max=65536"],
     (["objects=500000"], ["objects=2000000"], ["objects=8000000"])),
    ("cache_scratch", "cache_scratch", [], None),
    ("small_churn", "mt_churn", ["name=small_churn", "threads=1", "min=16", "max=256"],
     (["ops=8000000"], ["ops=32000000"], ["ops=128000000"])),
    # knob-sensitive workloads (defaults expected to be wrong; the sweep measures by how much)
    ("huge_ws_tls", "huge_ws", ["name=huge_ws_tls", "threads=2", "batch=48", "passes=4", "max=256"],
     (["live_mb=64", "ops=2000000"], ["live_mb=256", "ops=8000000"], ["live_mb=512", "ops=32000000"])),
    ("remote_heavy", "prodcons", ["name=remote_heavy", "min=16", "max=1024", "batch=16"],
     (["objects=1000000"], ["objects=4000000"], ["objects=16000000"])),
    ("phase_change", "mt_churn", ["name=phase_change", "threads=2", "slots=200000", "min=16", "max=256",
                                  "p2min=1024", "p2max=32768", "p2slots=4000"], None),
    # the producer/consumer and glibc malloc-simple shapes (larson's and a 512 MiB random replace: above)
    ("prodcons_512", "prodcons", ["name=prodcons_512", "min=16", "max=512"], None),
    ("xmalloc_64", "prodcons", ["name=xmalloc_64", "min=64", "max=64", "keep=0"],
     (["objects=4000000"], ["objects=16000000"], ["objects=64000000"])),
    ("malloc_simple", "malloc_simple", [], None),
    # rpmalloc's test (2 threads, 16 B-16 KB, freed by the
    # other thread; a time row) and big buffers replaced (ops = KiB written)
    ("xmalloc_16k", "prodcons", ["name=xmalloc_16k", "min=16", "max=16384"], None),
    ("large_replace", "large_replace", [], None),
    # the large-block issue: 100 live blocks of 300 KiB-4 MiB replaced at random
    # (every page written), and a phased service (busy / batch / quiet) whose
    # busy phases replace such blocks; faults, CPU-seconds, RSS after the quiet phase
    ("large_churn", "large_churn", [], None),
    ("service_day", "service_day", [], None),
]
# The one parameter that sets how much work a workload does: the confirmation
# stage scales it so that each run lasts long enough for ACE's loops to act.
WORK_PARAM = {"fragment_stress": "phase_ops", "huge_ws": "ops", "realloc_heavy": "rounds", "mid_mt1": "ops", "mid_mt": "ops",
              "mid_mt16": "ops", "larson": "gens", "xmalloc_small": "objects", "xmalloc_mid": "objects",
              "cache_scratch": "iterations", "small_churn": "ops", "huge_ws_tls": "ops",
              "remote_heavy": "objects", "phase_change": "ops", "prodcons_512": "objects",
              "xmalloc_64": "objects", "malloc_simple": "allocs", "xmalloc_16k": "objects",
              "large_replace": "replaces", "large_churn": "replaces", "service_day": "busy_ops"}
MODES = {"quick": 0, "default": 1, "long": 2}
DEFAULT_REPS = {"quick": 3, "default": 4, "long": 7}
SWEEP_REPS = {"quick": 2, "default": 3, "long": 5}
CONFIRM_REPS = {"quick": 3, "default": 5, "long": 7}
CONFIRM_SECONDS = {"quick": 2.0, "default": 4.0, "long": 8.0}
WIN_MARGIN = 0.05   # a best static setting counts as a win over the defaults from +5 %
TIMEOUT = {"quick": 60, "default": 120, "long": 600}

# Tiny parameters for --selftest (checks the runner, not speed).
SELFTEST_ARGS = {
    "fragment_stress": ["slots=2000", "phase_ops=20000", "fill_mb=4", "idle_ms=100"],
    "huge_ws": ["live_mb=8", "ops=100000"],
    "realloc_heavy": ["strings=100", "rounds=2"],
    "mid_mt1": ["ops=100000"], "mid_mt": ["ops=100000"], "mid_mt16": ["ops=100000"],
    "larson": ["gens=4", "rounds=2000", "blocks=200"],
    "xmalloc_small": ["objects=100000"], "xmalloc_mid": ["objects=20000"],
    "cache_scratch": ["iterations=20000"], "small_churn": ["ops=200000"],
    "huge_ws_tls": ["live_mb=8", "ops=100000"], "remote_heavy": ["objects=100000"],
    "phase_change": ["ops=100000", "slots=20000"],
    "prodcons_512": ["objects=100000"], "xmalloc_64": ["objects=100000"], "malloc_simple": ["allocs=20000"],
    "xmalloc_16k": ["objects=100000"], "large_replace": ["replaces=10", "max_mb=6", "idle_ms=10"],
    "large_churn": ["blocks=20", "replaces=200"],
    "service_day": ["cycles=1", "slots=200", "busy_ops=2000", "batch=20", "quiet_ms=50"],
}

# Tables: metric key, title, scale, unit, better
METRICS = [
    ("throughput", "Throughput, M ops/s (wall clock; higher is better)", 1e-6, "higher"),
    ("ops_per_cpu_s", "Ops per CPU-second, M (user+sys; higher is better)", 1e-6, "higher"),
    ("peak_rss_kb", "Peak RSS, MiB (VmHWM; lower is better)", 1 / 1024, "lower"),
]
EXTRAS = [  # workload-specific figures: workload, key, label, scale
    ("fragment_stress", "rss_after_idle_kb", "RSS after free 90% + idle, MiB", 1 / 1024),
    ("fragment_stress", "rss_floor_kb", "occupied-page floor (base + pages with a live block), MiB", 1 / 1024),
    ("fragment_stress", "rss_excess_kb", "RSS after idle above that floor, MiB", 1 / 1024),
    ("realloc_heavy", "realloc_p50_ns", "realloc p50, ns", 1),
    ("realloc_heavy", "realloc_p99_ns", "realloc p99, ns", 1),
    ("realloc_heavy", "realloc_max_ns", "realloc max, ns", 1),
    ("realloc_heavy", "realloc_mean_ns", "realloc mean, ns", 1),
    ("realloc_heavy", "grow_small_p99_ns", "realloc small-step growth p99, ns", 1),
    ("realloc_heavy", "double_p50_ns", "realloc doubling p50, ns", 1),
    ("realloc_heavy", "shrink_p50_ns", "realloc shrink p50, ns", 1),
    ("realloc_heavy", "double_mean_ns", "realloc doubling mean, ns", 1),
    ("realloc_heavy", "double_p99_ns", "realloc doubling p99, ns", 1),
    ("realloc_heavy", "shrink_mean_ns", "realloc shrink mean, ns", 1),
    ("xmalloc_16k", "wall_s", "time, s", 1),
    ("large_replace", "wall_s", "time, s", 1),
    ("large_replace", "rss_after_free_kb", "RSS right after freeing every buffer, MiB", 1 / 1024),
    ("large_replace", "rss_after_idle_kb", "RSS after 1.5 s idle (no allocator call), MiB", 1 / 1024),
    # the two fixed-work workloads, also as time
    ("xmalloc_64", "wall_s", "time, s", 1),
    ("malloc_simple", "wall_s", "time, s", 1),
    ("malloc_simple", "ns_per_pair_n25", "malloc+write+free, 25 blocks, ns", 1),
    ("malloc_simple", "ns_per_pair_n1600", "malloc+write+free, 1600 blocks, ns", 1),
    # large blocks: time, CPU-seconds (user+sys, and each), minor faults (getrusage)
    ("large_churn", "throughput", "replacements per second, thousands (higher is better)", 1e-3),
    ("large_churn", "wall_s", "time, s", 1),
    ("large_churn", "cpu_s", "user+sys CPU-s", 1),
    ("large_churn", "user_s", "user CPU-s", 1),
    ("large_churn", "sys_s", "system CPU-s", 1),
    ("large_churn", "minflt", "minor faults, thousands", 1e-3),
    ("large_churn", "anon_huge_kb", "in transparent huge pages at the end (1 fault per 2 MiB), MiB", 1 / 1024),
    ("service_day", "wall_s", "time, s (busy + batch + 1.2 s quiet phases)", 1),
    ("service_day", "cpu_s", "user+sys CPU-s", 1),
    ("service_day", "user_s", "user CPU-s", 1),
    ("service_day", "sys_s", "system CPU-s", 1),
    ("service_day", "quiet_cpu_s", "CPU-s in the quiet phases", 1),
    ("service_day", "minflt", "minor faults, thousands", 1e-3),
    ("service_day", "rss_before_quiet_kb", "RSS at the start of the last quiet phase, MiB", 1 / 1024),
    ("service_day", "rss_after_quiet_kb", "RSS after the last quiet phase, MiB", 1 / 1024),
    ("service_day", "anon_huge_before_quiet_kb", "in transparent huge pages at the start of the last quiet phase, MiB", 1 / 1024),
]
EXTRAS += [(w[0], "ace_cpu_pct", "ACE thread CPU, % of one core", 1) for w in WORKLOADS]

KNOBS = {  # the seed's candidates (ace_cand_* in core/hakmem_ace_controller.c)
    "HAKMEM_TLS_CAP": ["4", "8", "16", "32", "64"],
    "HAKMEM_DRAIN_THRESHOLD": ["32", "64", "128", "256", "512"],
    "HAKMEM_BUNDLE_WIDTH": ["16", "32", "64", "128"],
    "HAKMEM_PARTIAL_RELEASE_PAGES": ["1", "2", "4", "8"],
    "HAKMEM_DIET_FACTOR": ["0.5", "0.66", "0.75", "0.9", "1.0"],
}


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def fmt_time(s):
    s = int(max(0, s))
    return "%dm%02ds" % (s // 60, s % 60) if s >= 60 else "%ds" % s


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_") and k not in ("LD_PRELOAD", "BENCH_MODE")}
    return env


def shell_quote(a):
    return a if all(c.isalnum() or c in "/._-=:,+" for c in a) else "'" + a.replace("'", "'\\''") + "'"


class Run:
    """One execution of one workload under one allocator."""

    def __init__(self, workload, alloc, argv, env_extra, preload, expect_lib, timeout):
        self.workload, self.alloc, self.argv = workload, alloc, argv
        self.env_extra, self.preload, self.expect_lib, self.timeout = env_extra, preload, expect_lib, timeout
        self.values, self.ok, self.error, self.duration, self.stdout = {}, False, "", 0.0, ""

    def command(self):
        env = dict(self.env_extra)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        pre = " ".join("%s=%s" % (k, shell_quote(v)) for k, v in env.items())
        argv = [os.path.relpath(self.argv[0], ROOT)] + self.argv[1:]
        return (pre + " " if pre else "") + " ".join(shell_quote(a) for a in argv)

    def execute(self):
        env = clean_env()
        env.update(self.env_extra)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        trace = None
        if env.get("HAKMEM_ACE_ENABLED") == "1" and "HAKMEM_ACE_TRACE" not in env:
            # ACE's trace gives its own thread's CPU time (last row's cpu_ms)
            fd, trace = tempfile.mkstemp(prefix="hakmem-ace-", suffix=".csv")
            os.close(fd)
            env["HAKMEM_ACE_TRACE"] = trace
        try:
            return self._execute(env)
        finally:
            if trace:
                self._read_trace(trace)
                os.unlink(trace)

    def _read_trace(self, path):
        try:
            rows = list(csv.DictReader(open(path)))
        except OSError:
            return
        if rows and rows[-1].get("cpu_ms") and float(rows[-1]["t_s"]) > 0:
            self.values["ace_ticks"] = str(len(rows))
            self.values["ace_cpu_pct"] = "%.3f" % (100 * float(rows[-1]["cpu_ms"]) / (1000 * float(rows[-1]["t_s"])))

    def _execute(self, env):
        t0 = time.time()
        try:
            p = subprocess.run(self.argv, env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=self.timeout, errors="replace")
        except subprocess.TimeoutExpired as e:
            self.duration = time.time() - t0
            self.error = "timed out after %ds" % self.timeout
            self.stdout = e.stdout or "" if isinstance(e.stdout, str) else ""
            return self
        self.duration = time.time() - t0
        self.stdout = p.stdout
        for line in p.stdout.splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                self.values[k.strip()] = v.strip()
        tail = " | ".join(p.stderr.strip().splitlines()[-4:])
        if p.returncode != 0:
            if p.returncode < 0:
                try:
                    sig = signal.Signals(-p.returncode).name
                except ValueError:
                    sig = str(-p.returncode)
                self.error = "killed by %s" % sig
            else:
                self.error = "exit status %d" % p.returncode
            if tail:
                self.error += "; stderr: " + tail[-400:]
            return self
        lib = self.values.get("allocator_lib", "?")
        if self.expect_lib not in lib:
            self.error = "preload not active: allocator_lib=%s, expected %s" % (lib, self.expect_lib)
            return self
        if self.values.get("verify_errors", "0") != "0":
            self.error = "verify_errors=%s (memory contents changed)" % self.values["verify_errors"]
            return self
        if "throughput" not in self.values:
            self.error = "no throughput line in output"
            return self
        self.ok = True
        return self

    def num(self, key):
        try:
            return float(self.values[key])
        except (KeyError, ValueError):
            return None


def parse_extra_peers(spec):
    """'name=/path/lib.so name2=/path/lib2.so' (spaces or commas between entries) ->
    ALLOCATORS-style tuples.  The run's allocator_lib= must contain the basename of
    the library (symlinks resolved: /proc/self/maps shows the file itself)."""
    out, taken = [], {a[0] for a in ALLOCATORS}
    for item in spec.replace(",", " ").split():
        name, sep, path = item.partition("=")
        if not sep or not name or not path or not all(c.isalnum() or c in "._+-" for c in name):
            raise ValueError("extra peer %r: expected name=/path/to/lib.so" % item)
        if name in taken:
            raise ValueError("extra peer %r: the name %s is already a column" % (item, name))
        taken.add(name)
        path = os.path.abspath(os.path.expanduser(path))
        expect = os.path.basename(os.path.realpath(path))
        out.append((name, path, {}, expect, None))
    return out


def extra_names():
    return {a[0] for a in EXTRA}


def available_allocators(wanted):
    """Returns (present list, notes about skipped ones)."""
    present, notes = [], []
    for a in ALLOCATORS + EXTRA:
        name, so = a[0], a[1]
        if wanted and name not in wanted:
            continue
        if so and not os.path.exists(so):
            if name in extra_names():
                notes.append("%s: SKIPPED -- %s not found (extra peer; build it with "
                             "scripts/build-peers-from-source.sh, see docs/PEERS-BUILD.md)" % (name, so))
            elif name.startswith("hakmem"):
                notes.append("%s: SKIPPED -- %s not found (run `make` at the repository root)" % (name, os.path.relpath(so, ROOT)))
            else:
                notes.append("%s: SKIPPED -- %s not installed (run scripts/install-peers.sh, Debian package %s)" % (name, so, a[4]))
            continue
        present.append(a)
    return present, notes


def workload_argv(w, mode, selftest=False):
    name, binary, shape, per_mode = w
    argv = [os.path.join(BIN, binary), "quick" if selftest else mode] + list(shape)
    if per_mode:
        argv += per_mode[MODES[mode]] if not selftest else []
    if selftest:
        argv += SELFTEST_ARGS.get(name, [])
    return argv


def rotated(jobs, rep):
    """jobs with each workload's columns rotated by rep, so that no column always
    runs first (or last) after another workload."""
    out, i = [], 0
    while i < len(jobs):
        j = i
        while j < len(jobs) and jobs[j][0] == jobs[i][0]:
            j += 1
        group = jobs[i:j]
        k = rep % len(group)
        out += group[k:] + group[:k]
        i = j
    return out


def run_matrix(jobs, reps, label):
    """jobs: list of (workload, column, factory) ; runs reps x jobs interleaved.  Returns list of Run."""
    total = len(jobs) * reps
    done, results = 0, []
    per_wl = {}
    t_start = time.time()
    for rep in range(reps):
        for wl, col, make in rotated(jobs, rep):
            r = make()
            # time left: measured mean per workload, the global mean for workloads not yet seen
            all_d = [d for v in per_wl.values() for d in v]
            glob = statistics.mean(all_d) if all_d else None
            left = 0.0
            if glob is not None:
                idx = [j[:2] for j in jobs].index((wl, col))
                for rr in range(rep, reps):
                    for j in (jobs[idx:] if rr == rep else jobs):
                        m = per_wl.get(j[0])
                        left += statistics.mean(m) if m else glob
            log("[%s %3d/%d] %-15s %-11s run %d/%d   elapsed %s  est. left %s" % (
                label, done + 1, total, wl, col, rep + 1, reps, fmt_time(time.time() - t_start),
                fmt_time(left) if glob is not None else "?"))
            r.execute()
            per_wl.setdefault(wl, []).append(r.duration)
            if not r.ok:
                log("    FAILED: %s\n    command: %s" % (r.error, r.command()))
            results.append(r)
            done += 1
    log("[%s] finished %d runs in %s" % (label, total, fmt_time(time.time() - t_start)))
    return results


def summarize(results, key):
    """{(workload, column): (median, min, max, n)} for numeric key over successful runs."""
    acc = {}
    for r in results:
        if r.ok and r.num(key) is not None:
            acc.setdefault((r.workload, r.alloc), []).append(r.num(key))
    return {k: (statistics.median(v), min(v), max(v), len(v)) for k, v in acc.items()}


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def machine_info():
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cores"] = str(os.cpu_count())
    info["kernel"] = platform.release()
    try:
        info["glibc"] = platform.libc_ver()[1]
    except Exception:
        info["glibc"] = "?"
    vers = []
    for pkg in ("libmimalloc2.0", "libjemalloc2", "libtcmalloc-minimal4"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout.strip()
        except OSError:
            v = ""
        vers.append("%s %s" % (pkg, v or "not installed"))
    vers += ["%s %s" % (a[0], a[1]) for a in EXTRA]
    info["peers"] = ", ".join(vers)
    try:
        info["commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True).stdout.strip() or "none (no commit yet)"
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
        if dirty:
            info["commit"] += " + uncommitted changes"
    except OSError:
        info["commit"] = "?"
    try:
        info["llc"] = subprocess.run(["getconf", "LEVEL3_CACHE_SIZE"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


def cell(stat, ref, scale, digits=2):
    if stat is None:
        return "FAIL"
    med, lo, hi, n = stat
    s = "%.*f" % (digits, med * scale)
    if ref:
        s += " (%.2fx)" % (med / ref[0]) if ref[0] else ""
    return s


def md_cell(stat, ref, scale, digits=2):
    if stat is None:
        return "FAIL"
    med, lo, hi, n = stat
    s = "**%.*f**<br>%.*f–%.*f" % (digits, med * scale, digits, lo * scale, digits, hi * scale)
    if ref and ref[0]:
        s += "<br>×%.2f" % (med / ref[0])
    return s


def digits_for(values):
    m = max([abs(v) for v in values if v is not None] or [1])
    return 0 if m >= 1000 else 1 if m >= 10 else 2


def text_table(title, rows, cols, cells):
    head = title
    title = "workload" if rows and ":" not in rows[0] else "figure"
    widths = [max(len(title), max([len(r) for r in rows] or [0]))] + [
        max(len(c), max([len(cells[(r, c)]) for r in rows] or [0])) for c in cols]
    out = [head, title.ljust(widths[0]) + "  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths[1:]))]
    out.append("-" * len(out[1]))
    for r in rows:
        out.append(r.ljust(widths[0]) + "  " + "  ".join(cells[(r, c)].rjust(w) for c, w in zip(cols, widths[1:])))
    return "\n".join(out)


def gnuplot_chart(path, title, ylabel, rows, cols, ratios, note):
    if not shutil.which("gnuplot"):
        return "gnuplot not installed (apt-get install gnuplot-nox): no chart"
    with tempfile.TemporaryDirectory() as td:
        dat = os.path.join(td, "d.dat")
        with open(dat, "w") as f:
            f.write("workload " + " ".join(cols) + "\n")
            for r in rows:
                f.write(r + " " + " ".join("%.4f" % ratios[(r, c)] if ratios.get((r, c)) is not None else "NaN"
                                           for c in cols) + "\n")
        gp = os.path.join(td, "c.gp")
        plots = ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2) if i == 0 else
                          "'' using %d title columnheader(%d)" % (i + 2, i + 2) for i in range(len(cols)))
        with open(gp, "w") as f:
            f.write("""set terminal pngcairo size 1400,600 noenhanced font ',10'
set output '%s'
set title '%s'
set ylabel '%s'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30
set key outside right top
set grid ytics
set yrange [0:*]
set bmargin 7
set label 1 '%s' at screen 0.01,0.03 font ',8'
plot %s
""" % (path, title, ylabel, note, plots))
        return gnuplot_run(gp, "pngcairo size 1400,600 noenhanced font ',10'", "png size 1400,600")


def gnuplot_run(gp, cairo, png):
    """Run gnuplot on script gp; when its terminal `cairo` fails (pngcairo may be
    missing), again with the plain `png` terminal.  None, or why there is no chart."""
    p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if p.returncode != 0:
        txt = open(gp).read().replace(cairo, png)
        open(gp, "w").write(txt)
        p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if p.returncode != 0:
            return "gnuplot failed: " + p.stderr.strip()[-300:]
    return None


def result_paths(outdir, stem):
    os.makedirs(outdir, exist_ok=True)
    return {k: os.path.join(outdir, stem + suffix) for k, suffix in
            (("md", ".md"), ("csv", ".csv"), ("raw", "-raw.csv"), ("tput_png", "-throughput.png"),
             ("rss_png", "-rss.png"))}


def write_raw(path, results):
    keys = sorted({k for r in results for k in r.values})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "allocator", "ok", "error", "duration_s", "command"] + keys)
        for r in results:
            w.writerow([r.workload, r.alloc, int(r.ok), r.error, "%.3f" % r.duration, r.command()] +
                       [r.values.get(k, "") for k in keys])


def write_report(paths, md, csv_header, csv_rows, results):
    """paths["md"] (the lines of md), paths["csv"] (the header and rows), paths["raw"] (every run)"""
    with open(paths["md"], "w") as f:
        f.write("\n".join(md) + "\n")
    with open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(csv_header)
        w.writerows(csv_rows)
    write_raw(paths["raw"], results)


def compare(args):
    mode = args.mode
    reps = args.reps or DEFAULT_REPS[mode]
    wanted_a = args.allocators.split(",") if args.allocators else None
    wanted_w = args.workloads.split(",") if args.workloads else None
    allocs, notes = available_allocators(wanted_a)
    for n in notes:
        log("NOTE: " + n)
    if not allocs:
        log("no allocator available")
        return 1
    workloads = [w for w in WORKLOADS if not wanted_w or w[0] in wanted_w]
    for w in workloads:
        if not os.path.exists(os.path.join(BIN, w[1])):
            log("missing %s: run `make -C benchmarks workloads`" % os.path.join(BIN, w[1]))
            return 1
    cols = [a[0] for a in allocs]
    ref = REF if REF in cols else cols[0]
    timeout = TIMEOUT[mode] if not args.selftest else 30
    jobs = []
    for w in workloads:
        for a in allocs:
            def make(w=w, a=a):
                return Run(w[0], a[0], workload_argv(w, mode, args.selftest), a[2], a[1], a[3], timeout)
            jobs.append((w[0], a[0], make))
    log("mode=%s reps=%d workloads=%d allocators=%s" % ("selftest" if args.selftest else mode, reps,
                                                        len(workloads), ",".join(cols)))
    load_start = loadavg()
    results = run_matrix(jobs, reps, "bench")
    load_end = loadavg()

    date = datetime.date.today().isoformat()
    stem = args.stem or (date if mode == "default" else "%s-%s" % (date, mode))
    outdir = args.outdir or os.path.join(ROOT, "docs", "results")
    paths = result_paths(outdir, stem)
    rows = [w[0] for w in workloads]
    info = machine_info()
    failures = [r for r in results if not r.ok]

    # ---- terminal + markdown tables
    term, md = [], []
    cmdline = "make bench" + ("-" + mode if mode != "default" else "") if not args.selftest else "run_bench.py --selftest"
    extra_cols = [a for a in allocs if a[0] in extra_names()]
    if EXTRA and not args.selftest:
        cmdline += ' EXTRA_PEERS="%s"' % " ".join("%s=%s" % (a[0], a[1]) for a in EXTRA)
    md.append("# hakmem benchmark comparison, %s (%s mode)\n" % (date, "selftest" if args.selftest else mode))
    md.append("Command: `%s` (runner: `python3 benchmarks/scripts/run_bench.py --mode %s --reps %d`).\n" % (
        cmdline, mode, reps))
    md.append("Machine: %s, %s cores, Linux %s, glibc %s, L3 %s bytes. Peers: %s. hakmem commit: %s.\n" % (
        info.get("cpu", "?"), info["cores"], info["kernel"], info["glibc"], info.get("llc", "?"), info["peers"],
        info["commit"]))
    md.append("1-minute load average at start / end: %s / %s (the benchmarks themselves use up to 2 cores; "
              "a higher load means other processes competed, so timings are noisier).\n" % (load_start, load_end))
    md.append("Each cell: **median** over %d interleaved repetitions, min–max, and the ratio to the `%s` column "
              "(for throughput higher is better, for RSS and latency lower is better).\n" % (reps, ref))
    md.append("Columns: `hakmem` = `LD_PRELOAD=build/libhakmem.so HAKMEM_ACE_ENABLED=0`; `hakmem-ace` = "
              "`HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=%s HAKMEM_ACE_SLOW_INTERVAL_S=%s` (intervals shortened "
              "from the defaults 500 ms / 30 s so the fast and slow loops act within runs of a few seconds); `glibc` = no preload; "
              "peers via `LD_PRELOAD` of the Debian libraries. The preload is verified in every run "
              "(`allocator_lib=` from /proc/self/maps).\n" % (ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"], ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"]))
    if extra_cols:
        md.append("Extra peers (`--extra-peers`, `make bench EXTRA_PEERS=...`; LD_PRELOAD, verified by the "
                  "library's file name in /proc/self/maps): " +
                  "; ".join("`%s` = `%s` (`allocator_lib` must contain `%s`)" % (a[0], a[1], a[3]) for a in extra_cols) +
                  ". How they were built: docs/PEERS-BUILD.md.\n")
    if notes:
        md.append("**Skipped:**\n\n" + "\n".join("- " + n for n in notes) + "\n")
    term.append("hakmem benchmark comparison -- mode %s, %d reps, median (ratio to %s); load average %s -> %s" % (
        mode, reps, ref, load_start, load_end))
    term.append("hakmem-ace: ACE on with HAKMEM_ACE_FAST_INTERVAL_MS=%s, HAKMEM_ACE_SLOW_INTERVAL_S=%s "
                "(shortened so ACE acts in short runs)" % (ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"], ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"]))
    for a in extra_cols:
        term.append("extra peer %s: LD_PRELOAD=%s" % (a[0], a[1]))
    for n in notes:
        term.append("NOTE: " + n)

    csv_rows = []
    for key, title, scale, better in METRICS:
        st = summarize(results, key)
        d = digits_for([v[0] * scale for v in st.values()])
        cells, mcells = {}, {}
        for r in rows:
            refst = st.get((r, ref))
            for c in cols:
                s = st.get((r, c))
                cells[(r, c)] = cell(s, refst, scale, d)
                mcells[(r, c)] = md_cell(s, refst, scale, d)
                if s:
                    csv_rows.append([r, c, key, s[0], s[1], s[2], s[3],
                                     "%.4f" % (s[0] / refst[0]) if refst and refst[0] else ""])
        term.append("")
        term.append(text_table(title, rows, cols, cells))
        md.append("## %s\n" % title)
        md.append("| workload | " + " | ".join(cols) + " |")
        md.append("|---|" + "---|" * len(cols))
        for r in rows:
            md.append("| %s | " % r + " | ".join(mcells[(r, c)] for c in cols) + " |")
        md.append("")

    extra_rows, ecells, emcells = [], {}, {}
    for wl, key, label, scale in EXTRAS:
        if wl not in rows:
            continue
        st = summarize(results, key)
        if not any((wl, c) in st for c in cols):
            continue
        rname = "%s: %s" % (wl, label)
        extra_rows.append(rname)
        refst = st.get((wl, ref))
        d = digits_for([v[0] * scale for v in st.values()])
        for c in cols:
            s = st.get((wl, c))
            # a figure only ACE-on runs have (ACE's CPU) is not applicable elsewhere
            na = s is None and key.startswith("ace_") and c != "hakmem-ace"
            ecells[(rname, c)] = "–" if na else cell(s, refst, scale, d)
            emcells[(rname, c)] = "–" if na else md_cell(s, refst, scale, d)
            if s:
                csv_rows.append([wl, c, key, s[0], s[1], s[2], s[3],
                                 "%.4f" % (s[0] / refst[0]) if refst and refst[0] else ""])
    if extra_rows:
        term.append("")
        term.append(text_table("Workload-specific figures (lower is better)", extra_rows, cols, ecells))
        md.append("## Workload-specific figures (lower is better)\n")
        md.append("| figure | " + " | ".join(cols) + " |")
        md.append("|---|" + "---|" * len(cols))
        for r in extra_rows:
            md.append("| %s | " % r + " | ".join(emcells[(r, c)] for c in cols) + " |")
        md.append("")

    # ACE thread presence (threads_at_end > 1 on a workload whose threads are all joined)
    if "hakmem-ace" in cols:
        seen = [r for r in results if r.ok and r.alloc == "hakmem-ace" and r.workload != "larson"]
        bg = sum(1 for r in seen if (r.num("threads_at_end") or 0) > 1)
        line = "ACE thread alive at the end of %d of %d hakmem-ace runs (threads_at_end > 1)." % (bg, len(seen))
        term.append("")
        term.append(line)
        md.append(line + "\n")

    # charts
    chart_notes = []
    for key, pkey, title in (("throughput", "tput_png", "Throughput relative to %s (higher is better)" % ref),
                             ("peak_rss_kb", "rss_png", "Peak RSS relative to %s (lower is better)" % ref)):
        st = summarize(results, key)
        ratios = {}
        for r in rows:
            refst = st.get((r, ref))
            for c in cols:
                s = st.get((r, c))
                ratios[(r, c)] = s[0] / refst[0] if s and refst and refst[0] else None
        err = gnuplot_chart(paths[pkey], title + ", %s mode, medians of %d" % (mode, reps), "ratio to " + ref,
                            rows, cols, ratios, "%s, %s; hakmem-ace with shortened ACE intervals" % (date, info.get("cpu", "")))
        if err:
            chart_notes.append(err)
        else:
            md.append("![%s](%s)\n" % (title, os.path.basename(paths[pkey])))
    for n in chart_notes:
        md.append("Chart: " + n + "\n")
        term.append("Chart: " + n)

    if failures:
        md.append("## Failed runs\n")
        term.append("")
        term.append("FAILED RUNS (%d):" % len(failures))
        seen = set()
        for r in failures:
            k = (r.workload, r.alloc, r.error.split(";")[0])
            if k in seen:
                continue
            seen.add(k)
            n = sum(1 for x in failures if (x.workload, x.alloc, x.error.split(";")[0]) == k)
            md.append("- `%s` under %s (%d of %d runs): %s  \n  reproduce: `%s`" % (r.workload, r.alloc, n, reps,
                                                                                  r.error, r.command()))
            term.append("  %s / %s (%dx): %s\n    reproduce: %s" % (r.workload, r.alloc, n, r.error, r.command()))
        md.append("")

    md.append("Files: `%s` (medians), `%s` (every run, with its exact command).\n" % (
        os.path.basename(paths["csv"]), os.path.basename(paths["raw"])))
    write_report(paths, md, ["workload", "allocator", "metric", "median", "min", "max", "n", "ratio_to_" + ref],
                 csv_rows, results)
    if not args.selftest:
        print("\n".join(term))
    print("\nwritten: " + ", ".join(os.path.relpath(p, ROOT) for k, p in paths.items() if os.path.exists(p)))
    if not args.selftest and not failures and os.path.abspath(outdir) == os.path.join(ROOT, "docs", "results"):
        print("to make this run the one docs/RESULTS.md and README.md show: "
              "python3 benchmarks/scripts/results_tables.py --stem " + stem)
    if args.selftest:
        return selftest_check(paths, rows, cols, notes, failures, reps)
    return 1 if failures and args.strict else 0


SELFTEST_MISSING = ("selftest-missing", "/nonexistent/libselftest-missing.so")
SELFTEST_ALIAS = "selftest-alias"


def selftest_extra_peers(outdir):
    """The selftest's extra peers: one that does not exist (must be skipped with a
    note) and, when a Debian peer is installed, a copy of it under a file name that
    no built-in rule knows (its preload must be recognised by that name)."""
    EXTRA.extend(parse_extra_peers("%s=%s" % SELFTEST_MISSING))
    for a in ALLOCATORS:
        if a[1] and a[4] and os.path.exists(a[1]):
            os.makedirs(outdir, exist_ok=True)
            alias = os.path.join(os.path.abspath(outdir), "libselftestalias.so")
            shutil.copyfile(a[1], alias)
            EXTRA.extend(parse_extra_peers("%s=%s" % (SELFTEST_ALIAS, alias)))
            log("selftest: extra peer %s = copy of %s, extra peer %s = %s (missing)" % (
                SELFTEST_ALIAS, a[1], SELFTEST_MISSING[0], SELFTEST_MISSING[1]))
            return
    log("selftest: no Debian peer installed; only the missing extra peer %s is checked" % SELFTEST_MISSING[0])


def selftest_check(paths, rows, cols, notes, failures, reps):
    problems = []
    for k in ("md", "csv", "raw"):
        if not os.path.exists(paths[k]) or os.path.getsize(paths[k]) == 0:
            problems.append("missing output " + paths[k])
    if shutil.which("gnuplot"):
        for k in ("tput_png", "rss_png"):
            if not os.path.exists(paths[k]) or open(paths[k], "rb").read(8) != b"\x89PNG\r\n\x1a\n":
                problems.append("missing or invalid chart " + paths[k])
    # every allocator is present or skipped with a note
    for a in ALLOCATORS + EXTRA:
        if a[0] not in cols and not any(n.startswith(a[0] + ":") for n in notes):
            problems.append("allocator %s neither run nor noted" % a[0])
    # the selftest's extra peers: the missing one is skipped with a note, the
    # present one (a Debian peer under another file name) is a column
    for a in EXTRA:
        if a[0] == SELFTEST_MISSING[0] and (a[0] in cols or not any(n.startswith(a[0] + ": SKIPPED") for n in notes)):
            problems.append("missing extra peer %s not skipped with a note" % a[0])
        if a[0] == SELFTEST_ALIAS and a[0] not in cols:
            problems.append("present extra peer %s is not a column" % a[0])
    md = open(paths["md"]).read() if os.path.exists(paths["md"]) else ""
    for n in notes:
        if n not in md:
            problems.append("skip note missing from the report: " + n)
    # figures parse back from the CSV: a positive median throughput per (workload, allocator)
    got = {}
    try:
        with open(paths["csv"]) as f:
            for row in csv.DictReader(f):
                if row["metric"] in ("throughput", "ops_per_cpu_s", "peak_rss_kb"):
                    v = float(row["median"])
                    if not v > 0:
                        problems.append("non-positive %s for %s/%s" % (row["metric"], row["workload"], row["allocator"]))
                    got[(row["workload"], row["allocator"], row["metric"])] = v
    except (OSError, KeyError, ValueError) as e:
        problems.append("cannot parse CSV: %s" % e)
    for r in rows:
        for c in cols:
            for m in ("throughput", "ops_per_cpu_s", "peak_rss_kb"):
                if (r, c, m) not in got:
                    problems.append("no %s figure for %s under %s" % (m, r, c))
    for r in failures:
        problems.append("run failed: %s under %s: %s (reproduce: %s)" % (r.workload, r.alloc, r.error, r.command()))
    if problems:
        log("SELFTEST FAILED:\n  " + "\n  ".join(problems[:40]))
        return 1
    log("SELFTEST OK: %d workloads x %d allocators x %d reps, %d skipped with a note, outputs in %s" % (
        len(rows), len(cols), reps, len(notes), os.path.dirname(paths["md"])))
    return 0


def sweep_stem_dir(args, mode):
    """Output stem and directory of the sweep and its confirmation stage."""
    stem = args.stem or (datetime.date.today().isoformat() + "-sweep" + ("" if mode == "default" else "-" + mode))
    outdir = args.outdir or os.path.join(ROOT, "docs", "results")
    os.makedirs(outdir, exist_ok=True)
    return stem, outdir


def write_setting_report(outdir, stem, md, csv_rows, results, term):
    """Failed runs appended to md; md, per-setting csv and raw csv written;
    terminal summary printed.  Returns (md path, csv path, failed runs)."""
    failures = [r for r in results if not r.ok]
    if failures:
        md.append("\n## Failed runs\n")
        for r in failures:
            md.append("- %s / %s: %s — `%s`" % (r.workload, r.alloc, r.error, r.command()))
    mdp, csvp, rawp = (os.path.join(outdir, stem + x) for x in (".md", ".csv", "-raw.csv"))
    with open(mdp, "w") as f:
        f.write("\n".join(md) + "\n")
    with open(csvp, "w", newline="") as f:
        cw = csv.writer(f)
        cw.writerow(["workload", "setting", "metric", "median", "min", "max", "n"])
        cw.writerows(csv_rows)
    write_raw(rawp, results)
    print("\n".join(term))
    if failures:
        print("FAILED RUNS: %d (see %s)" % (len(failures), os.path.relpath(mdp, ROOT)))
    print("written: %s, %s, %s" % tuple(os.path.relpath(p, ROOT) for p in (mdp, csvp, rawp)))
    return mdp, csvp, failures


def sweep(args):
    mode = args.mode
    reps = args.reps or SWEEP_REPS[mode]
    if not os.path.exists(HAKMEM_SO):
        log("sweep needs %s (run `make`)" % HAKMEM_SO)
        return 1
    wanted_w = args.workloads.split(",") if args.workloads else None
    knobs = {k: v for k, v in KNOBS.items() if not args.knobs or any(x.upper() in k for x in args.knobs.split(","))}
    workloads = [w for w in WORKLOADS if not wanted_w or w[0] in wanted_w]
    settings = [("defaults", {})] + [("%s=%s" % (k, v), {k: v}) for k, vals in knobs.items() for v in vals]
    if not args.no_ace:
        settings.append(("ACE on", dict(ACE_ENV)))
    timeout = TIMEOUT[mode]
    jobs = []
    for w in workloads:
        for sname, senv in settings:
            env = {"HAKMEM_ACE_ENABLED": "0"}
            env.update(senv)

            def make(w=w, sname=sname, env=env):
                return Run(w[0], sname, workload_argv(w, mode), env, HAKMEM_SO, "libhakmem", timeout)
            jobs.append((w[0], sname, make))
    log("sweep: mode=%s reps=%d workloads=%d settings=%d (one knob varied at a time, ACE off)" % (
        mode, reps, len(workloads), len(settings)))
    results = run_matrix(jobs, reps, "sweep")
    tp = summarize(results, "throughput")
    rss = summarize(results, "peak_rss_kb")
    date = datetime.date.today().isoformat()
    stem, outdir = sweep_stem_dir(args, mode)
    info = machine_info()
    md = ["# hakmem knob sweep, %s (%s mode)\n" % (date, mode),
          "Command: `make bench-sweep` (runner: `python3 benchmarks/scripts/run_bench.py --sweep --mode %s --reps %d`). "
          "hakmem commit: %s. Machine: %s, %s cores.\n" % (mode, reps, info["commit"], info.get("cpu", "?"), info["cores"]),
          "Every workload under each static value of each knob, one knob varied at a time from the defaults, "
          "ACE off (`HAKMEM_ACE_ENABLED=0`); medians of %d interleaved repetitions. `ACE on` uses "
          "HAKMEM_ACE_FAST_INTERVAL_MS=%s, HAKMEM_ACE_SLOW_INTERVAL_S=%s. Margin = best static / defaults − 1 (throughput).\n" % (
              reps, ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"], ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"]),
          "## Best static setting per workload\n",
          "| workload | defaults M ops/s | best static setting | best M ops/s | margin over defaults | ACE on M ops/s | ACE vs defaults | ACE vs best static | lowest peak RSS setting (MiB vs defaults) |",
          "|---|---|---|---|---|---|---|---|---|"]
    term = ["knob sweep -- mode %s, %d reps, medians (throughput M ops/s)" % (mode, reps)]
    summary_rows = []
    for w in workloads:
        wl = w[0]
        d = tp.get((wl, "defaults"))
        statics = [(s, tp[(wl, s)]) for s, _ in settings if s not in ("ACE on",) and (wl, s) in tp]
        if not d or not statics:
            md.append("| %s | FAIL | | | | | | | |" % wl)
            continue
        best_s, best = max(statics, key=lambda x: x[1][0])
        ace = tp.get((wl, "ACE on"))
        rs = [(s, rss[(wl, s)]) for s, _ in settings if s != "ACE on" and (wl, s) in rss]
        low_s, low = min(rs, key=lambda x: x[1][0]) if rs else ("", None)
        rd = rss.get((wl, "defaults"))
        margin = best[0] / d[0] - 1
        md.append("| %s | %.2f | %s | %.2f | %+.1f%% | %s | %s | %s | %s |" % (
            wl, d[0] * 1e-6, best_s, best[0] * 1e-6, 100 * margin,
            "%.2f" % (ace[0] * 1e-6) if ace else "–",
            "%+.1f%%" % (100 * (ace[0] / d[0] - 1)) if ace else "–",
            "%+.1f%%" % (100 * (ace[0] / best[0] - 1)) if ace else "–",
            "%s (%.1f vs %.1f)" % (low_s, low[0] / 1024, rd[0] / 1024) if low and rd else "–"))
        term.append("%-15s defaults %8.2f  best %-32s %8.2f (%+.1f%%)%s" % (
            wl, d[0] * 1e-6, best_s, best[0] * 1e-6, 100 * margin,
            "  ACE %8.2f (%+.1f%% vs best)" % (ace[0] * 1e-6, 100 * (ace[0] / best[0] - 1)) if ace else ""))
        summary_rows.append(wl)
    md.append("\n## Every setting (throughput M ops/s, median [min–max]; peak RSS MiB)\n")
    md.append("| setting | " + " | ".join(w[0] for w in workloads) + " |")
    md.append("|---|" + "---|" * len(workloads))
    csv_rows = []
    for s, _ in settings:
        cells = []
        for w in workloads:
            t, m = tp.get((w[0], s)), rss.get((w[0], s))
            cells.append("%.2f [%.2f–%.2f]<br>%.0f MiB" % (t[0] * 1e-6, t[1] * 1e-6, t[2] * 1e-6, m[0] / 1024) if t and m else "FAIL")
            if t:
                csv_rows.append([w[0], s, "throughput", t[0], t[1], t[2], t[3]])
            if m:
                csv_rows.append([w[0], s, "peak_rss_kb", m[0], m[1], m[2], m[3]])
        md.append("| %s | " % s + " | ".join(cells) + " |")
    mdp, csvp, failures = write_setting_report(outdir, stem, md, csv_rows, results, term)
    if args.no_confirm or args.no_ace:
        return 0
    best = {}
    for w in workloads:
        statics = [(s, tp[(w[0], s)][0]) for s, _ in settings if s != "ACE on" and (w[0], s) in tp]
        if statics:
            best[w[0]] = max(statics, key=lambda x: x[1])[0]
    return confirm(args, best, os.path.relpath(csvp, ROOT))


def setting_env(name):
    """'HAKMEM_X=v' -> {'HAKMEM_X': 'v'}; 'defaults' -> {}."""
    return dict([name.split("=", 1)]) if "=" in name else {}


def best_static_from_csv(path):
    """{workload: best static setting} from a sweep .csv (throughput medians)."""
    best = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["metric"] != "throughput" or row["setting"] == "ACE on":
                continue
            v = float(row["median"])
            if row["workload"] not in best or v > best[row["workload"]][1]:
                best[row["workload"]] = (row["setting"], v)
    return {w: b[0] for w, b in best.items()}


def confirm(args, best, sweep_note):
    """Confirmation stage: defaults, the sweep's best static setting and ACE on,
    re-measured with more repetitions and with runs scaled to last about
    CONFIRM_SECONDS each, so that ACE's loops have time to act (a sweep run
    lasts well under a second).  Returns 0."""
    mode = args.mode
    reps = args.confirm_reps or CONFIRM_REPS[mode]
    target = args.confirm_seconds or CONFIRM_SECONDS[mode]
    timeout = TIMEOUT[mode] * 4
    workloads = [w for w in WORKLOADS if w[0] in best]
    # calibrate: one defaults run per workload gives its work parameter and run time
    scaled = {}
    for w in workloads:
        r = Run(w[0], "defaults", workload_argv(w, mode, args.selftest), {"HAKMEM_ACE_ENABLED": "0"}, HAKMEM_SO,
                "libhakmem", timeout)
        r.execute()
        key = "param_" + WORK_PARAM[w[0]]
        wall, base = r.num("wall_s"), r.num(key)
        if not r.ok or not wall or not base:
            log("confirm: calibration of %s failed (%s); it runs unscaled" % (w[0], r.error or "no " + key))
            scaled[w[0]] = None
            continue
        k = max(1, int(round(target / wall)))
        scaled[w[0]] = "%s=%d" % (WORK_PARAM[w[0]], int(base) * k)
        log("confirm: %-15s %s=%d ran %.2fs -> x%d" % (w[0], WORK_PARAM[w[0]], int(base), wall, k))
    jobs = []
    for w in workloads:
        argv = workload_argv(w, mode, args.selftest) + ([scaled[w[0]]] if scaled[w[0]] else [])
        cols = ["defaults"] + ([best[w[0]]] if best[w[0]] != "defaults" else []) + ["ACE on"]
        for col in cols:
            env = {"HAKMEM_ACE_ENABLED": "0"}
            env.update(dict(ACE_ENV) if col == "ACE on" else setting_env(col))

            def make(w=w, col=col, env=env, argv=argv):
                return Run(w[0], col, argv, env, HAKMEM_SO, "libhakmem", timeout)
            jobs.append((w[0], col, make))
    log("confirm: mode=%s reps=%d workloads=%d, runs of about %.0f s" % (mode, reps, len(workloads), target))
    results = run_matrix(jobs, reps, "confirm")
    tp = summarize(results, "throughput")
    cpu = summarize(results, "ops_per_cpu_s")
    acecpu = summarize(results, "ace_cpu_pct")
    date = datetime.date.today().isoformat()
    stem, outdir = sweep_stem_dir(args, mode)
    info = machine_info()
    md = ["# hakmem: does ACE capture the sweep's wins? %s (%s mode)\n" % (date, mode),
          "Command: `python3 benchmarks/scripts/run_bench.py --confirm-from %s --mode %s` (also the last stage of "
          "`make bench-sweep`). hakmem commit: %s. Machine: %s, %s cores.\n" % (
              sweep_note, mode, info["commit"], info.get("cpu", "?"), info["cores"]),
          "For each workload: the static defaults, the best static setting of the sweep, and ACE on "
          "(HAKMEM_ACE_FAST_INTERVAL_MS=%s, HAKMEM_ACE_SLOW_INTERVAL_S=%s, nothing else set), %d interleaved "
          "repetitions, medians. Each workload's work parameter is scaled so that a run lasts about %.0f s "
          "(ACE learns over tens of ticks; a sweep run is shorter than a second). A best static setting "
          "is a *win* when it beats the defaults by at least %.0f %% here; ACE *captures* a win when it is "
          "within 5 %% of it, and elsewhere should be no more than 5 %% below the defaults.\n" % (
              ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"], ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"], reps, target,
              100 * WIN_MARGIN),
          "| workload | run | defaults M ops/s | best static (sweep) | its M ops/s | margin | ACE on M ops/s | ACE vs best | ACE vs defaults | verdict | ACE CPU, % of a core |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    term = ["confirmation -- %d reps, runs of ~%.0f s, medians (throughput M ops/s)" % (reps, target)]
    csv_rows = []
    for w in workloads:
        wl = w[0]
        d, a = tp.get((wl, "defaults")), tp.get((wl, "ACE on"))
        b = tp.get((wl, best[wl])) if best[wl] != "defaults" else d
        if not d or not a or not b:
            md.append("| %s | | FAIL | | | | | | | | |" % wl)
            continue
        ac = acecpu.get((wl, "ACE on"))
        margin, a_best, a_def = b[0] / d[0] - 1, a[0] / b[0] - 1, a[0] / d[0] - 1
        if margin >= WIN_MARGIN:
            verdict = "win captured" if a_best >= -0.05 else "win missed"
        else:
            verdict = "no win; ACE ok" if a_def >= -0.05 else "no win; ACE below defaults"
        md.append("| %s | %s | %.2f | %s | %.2f | %+.1f%% | %.2f | %+.1f%% | %+.1f%% | %s | %s |" % (
            wl, scaled[wl] or "unscaled", d[0] * 1e-6, "`%s`" % best[wl], b[0] * 1e-6, 100 * margin,
            a[0] * 1e-6, 100 * a_best, 100 * a_def, verdict, "%.2f" % ac[0] if ac else "–"))
        term.append("%-15s defaults %8.2f  best %-32s %8.2f (%+.1f%%)  ACE %8.2f (%+.1f%% vs best, %+.1f%% vs defaults)  %s" % (
            wl, d[0] * 1e-6, best[wl], b[0] * 1e-6, 100 * margin, a[0] * 1e-6, 100 * a_best, 100 * a_def, verdict))
        for col in ["defaults"] + ([best[wl]] if best[wl] != "defaults" else []) + ["ACE on"]:
            for key, summ in (("throughput", tp), ("ops_per_cpu_s", cpu), ("ace_cpu_pct", acecpu)):
                v = summ.get((wl, col))
                if v:
                    csv_rows.append([wl, col, key, v[0], v[1], v[2], v[3]])
    md.append("\nMedian [min–max] of every column: the .csv next to this file; every run: the -raw.csv.")
    mdp, csvp, failures = write_setting_report(outdir, stem + "-confirm", md, csv_rows, results, term)
    if args.selftest:
        return confirm_selftest_check(mdp, csvp, best, failures)
    return 0


def confirm_selftest_check(mdp, csvp, best, failures):
    """The confirmation stage wrote a verdict per workload and a median per column."""
    problems = ["run failed: %s / %s: %s" % (r.workload, r.alloc, r.error) for r in failures]
    md = open(mdp).read()
    got = set()
    with open(csvp) as f:
        for row in csv.DictReader(f):
            if float(row["median"]) > 0:
                got.add((row["workload"], row["setting"], row["metric"]))
    for wl, b in best.items():
        if not any(line.startswith("| %s |" % wl) and ("captured" in line or "missed" in line or "no win" in line)
                   for line in md.splitlines()):
            problems.append("no verdict for " + wl)
        for col in {"defaults", b, "ACE on"}:
            if (wl, col, "throughput") not in got:
                problems.append("no confirmation figure for %s / %s" % (wl, col))
    if problems:
        log("CONFIRM SELFTEST FAILED:\n  " + "\n  ".join(problems))
        return 1
    log("CONFIRM SELFTEST OK: %d workloads, verdicts and figures in %s" % (len(best), os.path.dirname(mdp)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=list(MODES), default=os.environ.get("MODE", "default") or "default")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--workloads", help="comma-separated subset")
    ap.add_argument("--allocators", help="comma-separated subset of " + ",".join(a[0] for a in ALLOCATORS) +
                    " and the extra peers' names")
    ap.add_argument("--extra-peers", default=os.environ.get("EXTRA_PEERS", ""), metavar="'NAME=SO ...'",
                    help="more LD_PRELOAD columns, e.g. 'mimalloc3=/work/peers/lib/libmimalloc3.so "
                         "snmalloc=/work/peers/lib/libsnmallocshim.so' (default: $EXTRA_PEERS); a missing one "
                         "is skipped with a note")
    ap.add_argument("--sweep", action="store_true", help="knob sweep instead of the comparison")
    ap.add_argument("--knobs", help="sweep only these knobs (e.g. tls_cap,drain)")
    ap.add_argument("--no-ace", action="store_true", help="sweep without the ACE-on row (and no confirmation)")
    ap.add_argument("--no-confirm", action="store_true", help="sweep without the confirmation stage")
    ap.add_argument("--confirm-from", metavar="SWEEP_CSV", help="only the confirmation stage, best settings from this sweep .csv")
    ap.add_argument("--confirm-reps", type=int, help="repetitions of the confirmation stage")
    ap.add_argument("--confirm-seconds", type=float, help="target length of a confirmation run")
    ap.add_argument("--selftest", action="store_true", help="tiny configuration checking the runner (< 60 s)")
    ap.add_argument("--outdir", help="output directory (default docs/results)")
    ap.add_argument("--stem", help="output file name stem (default <date>[-mode])")
    ap.add_argument("--ace-fast-ms", default="50", help="HAKMEM_ACE_FAST_INTERVAL_MS for hakmem-ace (default 50)")
    ap.add_argument("--ace-slow-s", default="1", help="HAKMEM_ACE_SLOW_INTERVAL_S for hakmem-ace (default 1)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any run failed")
    args = ap.parse_args()
    ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"] = args.ace_fast_ms
    ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"] = args.ace_slow_s
    try:
        EXTRA.extend(parse_extra_peers(args.extra_peers))
    except ValueError as e:
        log("run_bench.py: %s" % e)
        return 2
    if args.selftest:
        args.mode = "quick"
        args.reps = args.reps or 2
        args.outdir = args.outdir or os.path.join(BENCH_DIR, "selftest-out")
        args.stem = args.stem or "selftest"
        selftest_extra_peers(args.outdir)
    if args.confirm_from:
        best = best_static_from_csv(args.confirm_from)
        if args.workloads:
            best = {w: b for w, b in best.items() if w in args.workloads.split(",")}
        return confirm(args, best, args.confirm_from)
    if args.sweep:
        return sweep(args)
    rc = compare(args)
    if args.selftest and rc == 0 and os.path.exists(HAKMEM_SO):
        args.confirm_seconds, args.confirm_reps = args.confirm_seconds or 0.2, args.confirm_reps or 1
        rc = confirm(args, {"mid_mt": "HAKMEM_BUNDLE_WIDTH=16", "small_churn": "defaults"}, "(selftest)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
