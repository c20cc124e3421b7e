#!/usr/bin/env python3
"""Real programs under every allocator: the comparison users judge an allocator by.

  real_bench.py [--reps N] [--programs sqlite,python,lua,perl,redis] [--allocators a,b]
                [--extra-peers "NAME=/path/lib.so ..."] [--outdir DIR] [--stem STEM] [--strict]
  real_bench.py --selftest    tiny work; also checks that every check can fail (< 30 s)

Each program does a fixed amount of work (PROGRAMS; fixed before any result was
looked at) under the columns of run_bench.py (ALLOCATORS and --extra-peers), the
columns interleaved within each repetition (run_bench.rotated).  Per run: wall
seconds, user+sys CPU seconds (the child's rusage from wait4) and peak RSS (the
program's VmHWM, printed by the program itself: wait4's ru_maxrss also counts the
spawning Python's RSS, taken over at exec); for redis the server's figures, and
the wall time of the redis-benchmark passes.
Medians, min-max, ratios to hakmem (ACE off), a geometric-mean row.

A run counts only if it passes every check:
  - its output equals the output of a reference run under glibc (before the matrix);
  - the preload is active: the library named by the column is in the program's
    /proc/self/maps (the scripts print it; for redis the parent reads the server's);
    under glibc no column's library is there;
  - hakmem columns: HAKMEM_STATS's exit report (on stderr) shows hakmem served the
    allocations (at least MIN_HAKMEM_ALLOCS); hakmem-ace: ACE's start line is on
    stderr (HAKMEM_ACE_LOG_LEVEL=1);
  - redis: Debian's redis-server links libjemalloc.so.2, so without a preload it
    runs jemalloc; its glibc column preloads libc.so.6, and jemalloc's own count of
    allocated bytes (INFO memory allocator_allocated) must be at least JEMALLOC_SHARE[0]
    of redis's used_memory under jemalloc, at most JEMALLOC_SHARE[1] under the others.
Output: tables on stdout, docs/results/<date>-real.md, .csv (medians and
ratios), -raw.csv (every run with its command).  Python 3 standard library only.
"""
import argparse
import csv
import datetime
import hashlib
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402  (columns, clean environment, interleaving, table cells)
from ace_real import free_port  # noqa: E402

REAL_DIR = os.path.join(rb.BENCH_DIR, "real")
WORK_DIR = os.path.join(rb.BIN, "real")   # generated inputs, kept so a failed run's command reproduces
LIBC = os.path.join(rb.LIBDIR, "libc.so.6")
PYTHON = "/usr/bin/python3"               # not a pyenv shim: a shell script would run first under the preload
MIN_HAKMEM_ALLOCS = 1000
# jemalloc's allocated bytes / redis's used_memory: at least [0] when jemalloc serves,
# at most [1] otherwise (measured: 0.46-1.6 under jemalloc, its INFO figures being up
# to 100 ms old; 28 KiB, jemalloc's own start-up, under the others)
JEMALLOC_SHARE = (0.25, 0.1)
TIMEOUT = {"default": 300, "selftest": 30}
DEFAULT_REPS = 5
METRICS = [  # key, title, scale
    ("wall_s", "Wall time, s (lower is better)", 1),
    ("cpu_s", "CPU time, user+sys s (lower is better)", 1),
    ("peak_rss_kb", "Peak RSS, MiB (lower is better)", 1 / 1024),
]


class Failed(Exception):
    pass


def basename_of(so):
    """The file name /proc/<pid>/maps shows for a library (symlinks resolved)."""
    return os.path.basename(os.path.realpath(so))


def reap(p, timeout):
    """wait4 on a Popen child, killed after timeout seconds: its rusage."""
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru


def exit_error(rc, wall, timeout, stderr):
    if wall >= timeout:
        msg = "timed out after %ds" % timeout
    elif rc < 0:
        msg = "killed by %s" % signal.Signals(-rc).name
    else:
        msg = "exit status %d" % rc
    tail = " | ".join(stderr.strip().splitlines()[-4:])
    return msg + ("; stderr: " + tail[-400:] if tail else "")


def vmhwm_kb(text):
    m = re.search(r"^VmHWM:\s*(\d+) kB", text, re.M)
    if not m:
        raise Failed("no VmHWM line (peak RSS) in the output")
    return int(m.group(1))


def output_sha(text):
    """sha256 (16 hex digits) of a program's output without its check lines"""
    out = [line for line in text.splitlines() if not line.startswith(("maps /", "VmHWM:"))]
    return hashlib.sha256("\n".join(out).encode()).hexdigest()[:16]


class Script:
    """A program run once per measurement; its stdout ends with "maps <file>" lines
    and its VmHWM line."""
    links = None   # a malloc library the binary itself links (only redis has one)

    def __init__(self, name, what, argv, scale, env=None, stdin=None):
        self.name, self.what, self.argv, self.scale = name, what, argv, scale
        self.env, self.stdin = env or {}, stdin

    def available(self):
        return shutil.which(self.argv[0]) is not None

    def input_path(self, n):
        """the file the program reads on stdin, or None"""
        return os.path.join(WORK_DIR, "%s-%d.txt" % (self.name, n)) if self.stdin else None

    def prepare(self, n):
        """Writes the input, the same bytes for every column (once per invocation)."""
        if self.stdin:
            with open(self.input_path(n), "w") as f:
                f.write(self.stdin(n))

    def argv_for(self, n):
        return [a.format(n=n, real=REAL_DIR) for a in self.argv]

    def describe(self, n):
        path = self.input_path(n)
        pre = " ".join("%s=%s" % kv for kv in self.env.items())
        return (pre + " " if pre else "") + " ".join(self.argv_for(n)) + (" < " + path if path else "")

    def run(self, env, n, timeout):
        argv, path = self.argv_for(n), self.input_path(n)
        env = dict(env, **self.env)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, open(path or os.devnull, "rb") as fin:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, env=env, cwd=WORK_DIR, stdin=fin, stdout=out, stderr=err)
            ru = reap(p, timeout)
            wall = time.monotonic() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if p.returncode:
            raise Failed(exit_error(p.returncode, wall, timeout, stderr))
        maps = [line[5:] for line in stdout.splitlines() if line.startswith("maps /")]
        return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_kb": vmhwm_kb(stdout),
                "output_sha256": output_sha(stdout)}, maps, stderr


def sqlite_sql(n):
    """n INSERTs of random words (fixed seed) in one transaction, two indexes,
    aggregates, a GROUP BY into a table, UPDATE, DELETE, sorts over text; then the
    mapped files (the preload check) and VmHWM (the peak RSS)."""
    rnd = random.Random(1)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10))) for _ in range(3000)]
    out = ["PRAGMA journal_mode=OFF;",
           "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, body TEXT, val REAL);", "BEGIN;"]
    for i in range(1, n + 1):
        body = " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 24)))
        out.append("INSERT INTO t VALUES(%d,%d,'%s%d','%s',%d.5);" % (
            i, rnd.randrange(1000), rnd.choice(words), i, body, rnd.randrange(10 ** 6)))
    out += ["COMMIT;",
            "CREATE INDEX t_name ON t(name);",
            "CREATE INDEX t_grp ON t(grp, val);",
            "SELECT count(*), sum(length(body)), sum(val) FROM t;",
            "SELECT grp, count(*), min(name), max(name), sum(length(body)) FROM t GROUP BY grp "
            "ORDER BY count(*) DESC, grp LIMIT 10;",
            "CREATE TABLE w AS SELECT substr(body, 1, instr(body || ' ', ' ') - 1) AS first, count(*) AS n, "
            "group_concat(id) AS ids FROM t GROUP BY first;",
            "SELECT count(*), sum(n), max(length(ids)) FROM w;",
            "UPDATE t SET body = upper(body) || ' ' || name WHERE id % 3 = 0;",
            "DELETE FROM t WHERE id % 5 = 0;",
            "SELECT count(*), sum(length(body)), avg(val) FROM t WHERE grp < 500;",
            "SELECT id, name FROM t ORDER BY body DESC, id LIMIT 5;",
            "SELECT count(DISTINCT body) FROM t;",
            "CREATE TEMP TABLE maps(line TEXT);",
            ".import /proc/self/maps maps",
            "SELECT 'maps ' || substr(line, instr(line, '/')) FROM maps WHERE instr(line, '/') > 0;",
            "CREATE TEMP TABLE status(line TEXT);",
            ".import /proc/self/status status",
            "SELECT line FROM status WHERE line LIKE 'VmHWM:%';"]
    return "\n".join(out) + "\n"


def redis_check(n):
    """the redis-cli script run after the benchmark (the same whatever n)"""
    lines = ["FLUSHALL"]
    lines += ["SET key:%d value-%d-%s" % (i, i, "x" * (i % 200)) for i in range(1, 2001)]
    lines += ["GET key:%d" % i for i in range(7, 2001, 7)]
    lines += ["RPUSH list item-%d" % i for i in range(1, 501)] + ["LRANGE list 0 9", "LLEN list"]
    for i in range(1, 301):
        lines += ["HSET h f%d %d" % (i, i), "SADD s m%d" % (i % 50), "APPEND big chunk-%d" % i]
    lines += ["HLEN h", "SCARD s", "STRLEN big", "DBSIZE"]
    lines += ["DEL key:%d" % i for i in range(2, 2001, 2)] + ["DBSIZE", "GET key:3", "GET key:4", "LPOP list"]
    return "\n".join(lines) + "\n"


class Redis(Script):
    """redis-server under the column's preload, driven by redis-benchmark (no preload)
    over loopback; then a fixed redis-cli script whose replies are the output."""
    links = "libjemalloc.so.2"
    BENCH = ["-c", "20", "-P", "16", "-r", "100000", "-t", "set,get,lpush,lpop", "-q"]
    VALUE_BYTES = (100, 1000)
    TESTS = ("SET", "GET", "LPUSH", "LPOP")

    def __init__(self, scale):
        super().__init__("redis", "redis-server (`--save '' --appendonly no`) driven by redis-benchmark on "
                         "loopback: `%s -n N -d D` for D = %s bytes (N below), then a fixed redis-cli script "
                         "(SET/GET/RPUSH/HSET/SADD/APPEND/DEL, 2000 keys) whose replies are the output" % (
                             " ".join(["redis-benchmark"] + self.BENCH), " and ".join(map(str, self.VALUE_BYTES))),
                         ["redis-server"], scale, stdin=redis_check)

    def available(self):
        return all(shutil.which(b) for b in ("redis-server", "redis-benchmark", "redis-cli"))

    def describe(self, n):
        return ("redis-server --port PORT --bind 127.0.0.1 --save '' --appendonly no & " +
                "; ".join("redis-benchmark -p PORT -n %d -d %d %s" % (n, d, " ".join(self.BENCH))
                          for d in self.VALUE_BYTES) +
                "; redis-cli -p PORT < %s; redis-cli -p PORT shutdown nosave" % self.input_path(n))

    def run(self, env, n, timeout):
        check = self.input_path(n)
        port = str(free_port())
        plain = rb.clean_env()   # the clients run without the preload
        cli = ["redis-cli", "-p", port]
        with tempfile.TemporaryFile() as log:
            srv = subprocess.Popen(["redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", WORK_DIR], env=env, cwd=WORK_DIR,
                                   stdout=log, stderr=subprocess.STDOUT)
            try:
                values, maps = self._drive(srv, cli, plain, check, n, timeout)
                log.seek(0)
                return values, maps, log.read().decode(errors="replace")
            except Failed as e:
                log.seek(0)
                tail = " | ".join(log.read().decode(errors="replace").strip().splitlines()[-3:])
                raise Failed("%s%s" % (e, "; server log: " + tail[-300:] if tail else ""))
            finally:
                if srv.returncode is None:
                    srv.kill()
                    reap(srv, timeout)

    def _drive(self, srv, cli, plain, check, n, timeout):
        for _ in range(200):
            if subprocess.run(cli + ["ping"], env=plain, capture_output=True, text=True).stdout.strip() == "PONG":
                break
            if srv.poll() is not None:
                raise Failed("redis-server exited with %d at start" % srv.returncode)
            time.sleep(0.05)
        else:
            raise Failed("redis-server did not answer PING within 10 s")
        with open("/proc/%d/maps" % srv.pid) as f:
            maps = [line[line.index("/"):].rstrip("\n") for line in f if "/" in line]
        values = {}
        t0 = time.monotonic()
        for d in self.VALUE_BYTES:
            p = subprocess.run(["redis-benchmark", "-p", cli[2], "-n", str(n), "-d", str(d)] + self.BENCH,
                               env=plain, capture_output=True, text=True, timeout=timeout)
            rps = dict(re.findall(r"^(\w+): ([0-9.]+) requests per second", p.stdout.replace("\r", "\n"), re.M))
            if p.returncode or sorted(rps) != sorted(self.TESTS):
                raise Failed("redis-benchmark -d %d: exit %d, results for %s" % (d, p.returncode, sorted(rps)))
            values.update(("rps_%s_d%d" % (t.lower(), d), rps[t]) for t in self.TESTS)
        values["wall_s"] = time.monotonic() - t0
        time.sleep(0.2)   # INFO's allocator figures are refreshed by serverCron every 100 ms
        info = dict(re.findall(r"^(\w+):(\S+)", subprocess.run(cli + ["info", "memory"], env=plain,
                                                              capture_output=True, text=True).stdout, re.M))
        if not info.get("used_memory") or not info.get("allocator_allocated"):
            raise Failed("INFO memory without used_memory and allocator_allocated")
        values["used_memory"], values["jemalloc_allocated"] = info["used_memory"], info["allocator_allocated"]
        with open(check, "rb") as fin:
            p = subprocess.run(cli, env=plain, stdin=fin, capture_output=True, timeout=timeout)
        values["output_sha256"] = output_sha(p.stdout.decode(errors="replace"))
        with open("/proc/%d/status" % srv.pid) as f:
            values["peak_rss_kb"] = vmhwm_kb(f.read())
        subprocess.run(cli + ["shutdown", "nosave"], env=plain, capture_output=True)
        ru = reap(srv, timeout)
        if srv.returncode:
            raise Failed("redis-server: " + exit_error(srv.returncode, 0, timeout, ""))
        values["cpu_s"] = ru.ru_utime + ru.ru_stime
        return values, maps


# Work per run (default: 1-5 s each under glibc here; selftest: a fraction of a second).
PROGRAMS = [
    Script("sqlite", "sqlite3 `:memory:` reading a generated SQL script (fixed seed): N INSERTs of random "
           "words in one transaction, two indexes, aggregates, a GROUP BY into a table, UPDATE, DELETE, "
           "ORDER BY over text", ["sqlite3", ":memory:"], {"default": 200000, "selftest": 2000}, stdin=sqlite_sql),
    Script("python", "python3 with `PYTHONMALLOC=malloc` (every object from the allocator under test) "
           "running real/churn.py: 4 rounds of N records of strings built, sorted, indexed, dumped to JSON "
           "and loaded back", [PYTHON, "{real}/churn.py", "{n}"], {"default": 100000, "selftest": 2000},
           env={"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}),
    Script("lua", "lua5.4 running real/churn.lua: 4 rounds of N formatted strings sorted, indexed in tables, "
           "concatenated and rewritten with gsub", ["lua5.4", "{real}/churn.lua", "{n}"],
           {"default": 300000, "selftest": 3000}),
    Script("perl", "perl running real/churn.pl: 4 rounds of a hash of N strings filled, sorted, joined, "
           "rewritten with s///g, split, counted and half deleted", ["perl", "{real}/churn.pl", "{n}"],
           {"default": 150000, "selftest": 3000}, env={"PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0"}),
    Redis({"default": 200000, "selftest": 2000}),
]


class RealRun(rb.Run):
    """One program under one column: run_bench's Run (environment, preload, ACE
    trace, raw CSV row) with the program's own run and checks."""

    def __init__(self, prog, col, mode, reference, preload_names):
        name, so, env, _, _ = col
        preload = so
        if prog.links and name == "glibc":
            preload = LIBC   # the binary's own jemalloc would serve otherwise
        self.want = basename_of(so) if so else None
        self.ace = env.get("HAKMEM_ACE_ENABLED") == "1"
        env = dict(env)
        if self.want == basename_of(rb.HAKMEM_SO):
            # to stderr: HAKMEM_STATS_FILE's name is lost in redis-server, which
            # overwrites its environment for its process title
            env["HAKMEM_STATS"] = "1"
        if self.ace:
            # its start line: ACE's trace (run_bench's ACE CPU figure) is lost in redis-server
            env["HAKMEM_ACE_LOG_LEVEL"] = "1"
        super().__init__(prog.name, name, [prog.argv[0]], env, preload, None, TIMEOUT[mode])
        self.prog, self.n, self.reference = prog, prog.scale[mode], reference
        self.others = preload_names - {self.want}

    def command(self):
        env = dict(self.env_extra)
        if self.preload:
            env["LD_PRELOAD"] = self.preload
        return " ".join("%s=%s" % (k, rb.shell_quote(v)) for k, v in env.items()) + " " + self.prog.describe(self.n)

    def _execute(self, env):
        t0 = time.time()
        try:
            values, maps, stderr = self.prog.run(env, self.n, self.timeout)
            self.values.update((k, "%.3f" % v if isinstance(v, float) else str(v)) for k, v in values.items())
            self.check(maps, stderr)
            self.ok = True
        except (Failed, OSError, subprocess.SubprocessError) as e:
            self.error = str(e)
        finally:
            self.duration = time.time() - t0
        return self

    def check(self, maps, stderr):
        mapped = {os.path.basename(m) for m in maps}
        if self.reference is not None and self.values["output_sha256"] != self.reference:
            raise Failed("output differs from glibc's (sha256 %s, glibc %s)" % (self.values["output_sha256"],
                                                                               self.reference))
        if self.want and self.want not in mapped:
            raise Failed("preload not active: %s is not in the program's /proc/self/maps" % self.want)
        stray = (self.others & mapped) - {self.prog.links}
        if not self.want and stray:
            raise Failed("glibc column, but %s is mapped" % ",".join(sorted(stray)))
        if self.want == basename_of(rb.HAKMEM_SO):
            m = re.search(r"^\[hakmem\] total allocs=(\d+)", stderr, re.M)
            if not m or int(m.group(1)) < MIN_HAKMEM_ALLOCS:
                raise Failed("hakmem's exit report (HAKMEM_STATS) shows %s allocations, expected >= %d" % (
                    m.group(1) if m else "no", MIN_HAKMEM_ALLOCS))
            self.values["hakmem_allocs"] = m.group(1)
        if self.ace and not re.search(r"^\[ACE\] started", stderr, re.M):
            raise Failed("hakmem-ace column, but ACE's start line is not on stderr (HAKMEM_ACE_LOG_LEVEL=1)")
        if self.prog.links:
            share = float(self.values["jemalloc_allocated"]) / float(self.values["used_memory"])
            self.values["jemalloc_share"] = "%.3f" % share
            if self.want == self.prog.links and share < JEMALLOC_SHARE[0]:
                raise Failed("jemalloc column, but jemalloc holds only %.0f %% of used_memory" % (100 * share))
            if self.want != self.prog.links and share > JEMALLOC_SHARE[1]:
                raise Failed("jemalloc (which %s links) serves the allocations: it holds %.0f %% of used_memory" % (
                    self.prog.argv[0], 100 * share))


def reference_runs(progs, mode):
    """glibc's output of each program (also a warm-up run); programs whose
    reference run fails are dropped with a note."""
    glibc = next(a for a in rb.ALLOCATORS if a[0] == "glibc")
    refs, notes = {}, []
    for p in progs:
        r = RealRun(p, glibc, mode, None, set())
        rb.log("[real] reference run of %s under glibc" % p.name)
        r.execute()
        if r.ok:
            refs[p.name] = r.values["output_sha256"]
        else:
            notes.append("%s: SKIPPED -- its reference run under glibc failed: %s (command: %s)" % (
                p.name, r.error, r.command()))
    return refs, notes


def geomean_ratios(st, rows, cols, ref):
    """{column: (geometric mean of median/ref-median over programs, programs counted)}"""
    out = {}
    for c in cols:
        rs = [st[(r, c)][0] / st[(r, ref)][0] for r in rows if (r, c) in st and (r, ref) in st and st[(r, ref)][0]]
        out[c] = (math.exp(statistics.fmean(math.log(x) for x in rs)), len(rs)) if rs else None
    return out


def tables(results, rows, cols, ref):
    """terminal text, markdown lines and CSV rows of the three metrics"""
    term, md, csv_rows = [], [], []
    for key, title, scale in METRICS:
        st = rb.summarize(results, key)
        geo = geomean_ratios(st, rows, cols, ref)
        d = rb.digits_for([v[0] * scale for v in st.values()])
        cells, mcells = {}, {}
        for r in rows:
            for c in cols:
                s, refst = st.get((r, c)), st.get((r, ref))
                cells[(r, c)] = rb.cell(s, refst, scale, d)
                mcells[(r, c)] = rb.md_cell(s, refst, scale, d)
                if s:
                    csv_rows.append([r, c, key, s[0], s[1], s[2], s[3],
                                     "%.4f" % (s[0] / refst[0]) if refst and refst[0] else ""])
        grow = "geo-mean ratio"
        for c in cols:
            g = geo[c]
            cells[(grow, c)] = "%.2fx%s" % (g[0], "" if g[1] == len(rows) else " (%d)" % g[1]) if g else "–"
            mcells[(grow, c)] = "**×%.2f**%s" % (g[0], "" if g[1] == len(rows) else " (%d of %d)" % (
                g[1], len(rows))) if g else "–"
            if g:
                csv_rows.append([grow, c, key, "%.4f" % g[0], "", "", g[1], "%.4f" % g[0]])
        term += ["", rb.text_table(title, rows + [grow], cols, cells)]
        md += ["## %s\n" % title, "| program | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        md += ["| %s | " % r + " | ".join(mcells[(r, c)] for c in cols) + " |" for r in rows + [grow]]
        md.append("")
    return term, md, csv_rows


def program_version(p):
    cmd = {"sqlite": ["sqlite3", "--version"], "python": [PYTHON, "--version"], "lua": ["lua5.4", "-v"],
           "perl": ["perl", "-e", "print $^V"], "redis": ["redis-server", "--version"]}[p.name]
    out = subprocess.run(cmd, capture_output=True, text=True)
    return " ".join((out.stdout or out.stderr).split()[:3])


def compare(args, mode):
    reps = args.reps or (1 if mode == "selftest" else DEFAULT_REPS)
    allocs, notes = rb.available_allocators(args.allocators.split(",") if args.allocators else None)
    wanted = args.programs.split(",") if args.programs else None
    progs = []
    for p in PROGRAMS:
        if wanted and p.name not in wanted:
            continue
        if p.available():
            progs.append(p)
        else:
            notes.append("%s: SKIPPED -- %s not installed" % (p.name, p.argv[0]))
    os.makedirs(WORK_DIR, exist_ok=True)
    for p in progs:
        p.prepare(p.scale[mode])
    refs, ref_failures = reference_runs(progs, mode)
    notes += ref_failures
    progs = [p for p in progs if p.name in refs]
    for n in notes:
        rb.log("NOTE: " + n)
    if not progs or not allocs:
        rb.log("real_bench: nothing to run")
        return None
    cols = [a[0] for a in allocs]
    ref = rb.REF if rb.REF in cols else cols[0]
    names = {basename_of(a[1]) for a in allocs if a[1]}
    jobs = [(p.name, a[0], lambda p=p, a=a: RealRun(p, a, mode, refs[p.name], names)) for p in progs for a in allocs]
    rb.log("real programs: reps=%d programs=%s allocators=%s" % (reps, ",".join(p.name for p in progs), ",".join(cols)))
    load_start = rb.loadavg()
    results = rb.run_matrix(jobs, reps, "real")
    load_end = rb.loadavg()

    rows = [p.name for p in progs]
    term, md_tables, csv_rows = tables(results, rows, cols, ref)
    failures = [r for r in results if not r.ok]
    date = datetime.date.today().isoformat()
    stem = args.stem or (date + "-real")
    outdir = args.outdir or os.path.join(rb.ROOT, "docs", "results")
    os.makedirs(outdir, exist_ok=True)
    info = rb.machine_info()
    md = ["# hakmem on real programs, %s\n" % date,
          "Command: `%s` (runner: `python3 benchmarks/scripts/real_bench.py --reps %d%s`).\n" % (
              "real_bench.py --selftest" if mode == "selftest" else "make bench-real", reps,
              " --extra-peers '%s'" % " ".join("%s=%s" % (a[0], a[1]) for a in rb.EXTRA) if rb.EXTRA else ""),
          "Machine: %s, %s cores, Linux %s, glibc %s. Peers: %s. hakmem commit: %s.\n" % (
              info.get("cpu", "?"), info["cores"], info["kernel"], info["glibc"], info["peers"], info["commit"]),
          "Programs: " + "; ".join("%s %s" % (p.name, program_version(p)) for p in progs) + ".\n",
          "1-minute load average at start / end: %s / %s.\n" % (load_start, load_end),
          "Each cell: **median** over %d interleaved repetitions, min–max, and the ratio to the `%s` column; "
          "the last row is the geometric mean of those ratios over the programs. Wall time, CPU time "
          "(user+sys, from `wait4`) and peak RSS (VmHWM, read by the program itself at its end) are the "
          "program's; for redis the server's, its wall time that of the redis-benchmark passes.\n" % (reps, ref),
          "Columns as in `make bench` (benchmarks/README.md): `hakmem` = `HAKMEM_ACE_ENABLED=0`, `hakmem-ace` = "
          "`HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=%s HAKMEM_ACE_SLOW_INTERVAL_S=%s`, the peers by "
          "`LD_PRELOAD`. hakmem columns also set `HAKMEM_STATS=1` (an exit report on stderr), hakmem-ace "
          "`HAKMEM_ACE_LOG_LEVEL=1` (ACE's start line): the checks below.\n" % (
              rb.ACE_ENV["HAKMEM_ACE_FAST_INTERVAL_MS"], rb.ACE_ENV["HAKMEM_ACE_SLOW_INTERVAL_S"]),
          "Checks of every run (a run failing one is listed below and not counted): output equal to glibc's; "
          "the column's library in the program's `/proc/self/maps` (none of the columns' libraries under "
          "glibc); hakmem's exit report counts at least %d allocations; ACE's start line under hakmem-ace. "
          "redis: Debian's redis-server links libjemalloc.so.2, so its `glibc` column is `LD_PRELOAD=%s` "
          "(without it jemalloc serves), and jemalloc's own `allocator_allocated` must be at least %.0f %% of "
          "redis's `used_memory` under jemalloc and at most %.0f %% under every other column (`jemalloc_share` "
          "in the raw CSV). `mallctl`, `nallocx` and `malloc_stats_print` still resolve to jemalloc: INFO's "
          "`allocator_*` figures then describe jemalloc's unused heap, and `sdsResize` skips a realloc only "
          "when `nallocx` equals the block's real `malloc_usable_size`.\n" % (
              MIN_HAKMEM_ALLOCS, LIBC, 100 * JEMALLOC_SHARE[0], 100 * JEMALLOC_SHARE[1]),
          "## Programs\n", "| program | work | N |", "|---|---|---|"]
    md += ["| %s | %s | %d |" % (p.name, p.what, p.scale["selftest" if mode == "selftest" else "default"]) for p in progs]
    md.append("")
    if notes:
        md.append("**Skipped:**\n\n" + "\n".join("- " + n for n in notes) + "\n")
    md += md_tables
    if failures:
        md.append("## Failed runs\n")
        term += ["", "FAILED RUNS (%d):" % len(failures)]
        for r in failures:
            md.append("- `%s` under %s: %s  \n  reproduce: `%s`" % (r.workload, r.alloc, r.error, r.command()))
            term.append("  %s / %s: %s\n    reproduce: %s" % (r.workload, r.alloc, r.error, r.command()))
        md.append("")
    paths = {k: os.path.join(outdir, stem + s) for k, s in (("md", ".md"), ("csv", ".csv"), ("raw", "-raw.csv"))}
    md.append("Files: `%s` (medians, geo-means), `%s` (every run, with its command).\n" % (
        os.path.basename(paths["csv"]), os.path.basename(paths["raw"])))
    rb.write_report(paths, md, ["program", "allocator", "metric", "median", "min", "max", "n", "ratio_to_" + ref],
                    csv_rows, results)
    head = "real programs -- %d reps, median (ratio to %s); load average %s -> %s" % (reps, ref, load_start, load_end)
    print("\n".join([head] + ["NOTE: " + n for n in notes] + term))
    print("\nwritten: " + ", ".join(os.path.relpath(p, rb.ROOT) for p in paths.values()))
    return {"paths": paths, "rows": rows, "cols": cols, "allocs": allocs, "notes": notes, "failures": failures,
            "ref_failures": ref_failures, "refs": refs, "progs": progs}


def selftest(args):
    """The tiny matrix under every column (with run_bench's selftest extra peers: one
    missing, one a Debian peer under another file name), its report, then one run
    made to break each check, which must be rejected with that check's message."""
    outdir = args.outdir or os.path.join(rb.BENCH_DIR, "selftest-out")
    args.outdir, args.stem = outdir, args.stem or "real-selftest"
    rb.selftest_extra_peers(outdir)
    t0 = time.time()
    res = compare(args, "selftest")
    if res is None:
        rb.log("REAL SELFTEST FAILED: nothing ran")
        return 1
    problems = ["run failed: %s under %s: %s (reproduce: %s)" % (r.workload, r.alloc, r.error, r.command())
                for r in res["failures"]] + res["ref_failures"]
    for a in rb.ALLOCATORS + rb.EXTRA:
        if a[0] not in res["cols"] and not any(n.startswith(a[0] + ": SKIPPED") for n in res["notes"]):
            problems.append("column %s neither run nor noted" % a[0])
    if rb.SELFTEST_ALIAS in {a[0] for a in rb.EXTRA} and rb.SELFTEST_ALIAS not in res["cols"]:
        problems.append("present extra peer %s is not a column" % rb.SELFTEST_ALIAS)
    got = set()
    with open(res["paths"]["csv"]) as f:
        for row in csv.DictReader(f):
            if float(row["median"]) > 0:
                got.add((row["program"], row["allocator"], row["metric"]))
    for r in res["rows"] + ["geo-mean ratio"]:
        for c in res["cols"]:
            for key, _, _ in METRICS:
                if (r, c, key) not in got:
                    problems.append("no %s figure for %s under %s" % (key, r, c))
    scripts = [p for p in res["progs"] if not p.links]
    if not scripts:
        problems.append("no program besides redis ran: the output check is untested")
    glibc = next(a for a in rb.ALLOCATORS if a[0] == "glibc")
    names = {basename_of(a[1]) for a in res["allocs"] if a[1]}
    preloaded = [a for a in res["allocs"] if a[1]]
    controls = []   # (run made to break a check, the message it must fail with)
    if scripts:
        p = scripts[0]
        r = RealRun(p, glibc, "selftest", res["refs"][p.name], names)
        r.n += 1
        p.prepare(r.n)
        controls.append((r, "output differs"))
        for a in preloaded[:1]:
            r = RealRun(p, a, "selftest", res["refs"][p.name], names)
            r.preload = None
            controls.append((r, "preload not active"))
            r = RealRun(p, glibc, "selftest", res["refs"][p.name], names)
            r.preload = a[1]
            controls.append((r, "glibc column, but"))
        for a in res["allocs"]:
            if a[2].get("HAKMEM_ACE_ENABLED") == "1":
                r = RealRun(p, a, "selftest", res["refs"][p.name], names)
                r.env_extra["HAKMEM_ACE_ENABLED"] = "0"
                controls.append((r, "ACE's start line is not"))
    for p in res["progs"]:
        if p.links:
            r = RealRun(p, glibc, "selftest", res["refs"][p.name], names)
            r.preload = None
            controls.append((r, "serves the allocations"))
    for r, expect in controls:
        r.execute()
        rb.log("[real selftest] %s under %s, broken on purpose: %s" % (r.workload, r.alloc, r.error or "accepted"))
        if r.ok or expect not in r.error:
            problems.append("a run that breaks a check was not rejected with %r: %s under %s, %s" % (
                expect, r.workload, r.alloc, r.error or "accepted"))
    if problems:
        rb.log("REAL SELFTEST FAILED:\n  " + "\n  ".join(problems[:40]))
        return 1
    rb.log("REAL SELFTEST OK: %d programs x %d columns, %d broken runs rejected, %d skipped with a note, %.0f s" % (
        len(res["rows"]), len(res["cols"]), len(controls), len(res["notes"]), time.time() - t0))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, help="repetitions (default %d)" % DEFAULT_REPS)
    ap.add_argument("--programs", help="comma-separated subset of " + ",".join(p.name for p in PROGRAMS))
    ap.add_argument("--allocators", help="comma-separated subset of the columns (run_bench.py's, and extra peers)")
    ap.add_argument("--extra-peers", default=os.environ.get("EXTRA_PEERS", ""), metavar="'NAME=SO ...'",
                    help="more LD_PRELOAD columns, as run_bench.py's (default: $EXTRA_PEERS)")
    ap.add_argument("--outdir", help="output directory (default docs/results)")
    ap.add_argument("--stem", help="output file name stem (default <date>-real)")
    ap.add_argument("--strict", action="store_true", help="exit 1 if any run failed")
    ap.add_argument("--selftest", action="store_true", help="tiny work, every check shown able to fail (< 30 s)")
    args = ap.parse_args()
    try:
        rb.EXTRA.extend(rb.parse_extra_peers(args.extra_peers))
    except ValueError as e:
        rb.log("real_bench.py: %s" % e)
        return 2
    if args.selftest:
        return selftest(args)
    res = compare(args, "default")
    if res is None:
        return 1
    return 1 if (res["failures"] or res["ref_failures"]) and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
