#!/usr/bin/env python3
"""ACE on vs off on real programs, under LD_PRELOAD with the
seed's default intervals (500 ms / 30 s): what a user gets.

  benchmarks/scripts/ace_real.py [--reps N] [--only redis,sqlite,python] [--idle-s 65]

redis-server under redis-benchmark (loopback, a fixed request count), sqlite3
running a fixed SQL script, and python3 (PYTHONMALLOC=malloc) running a fixed
script whose allocation phase is followed by an idle phase (at least 60 s, so
the slow loop acts at the default interval).  ACE off and on alternate within
each repetition; the table gives medians and the spread (min-max).
Parameters are fixed here, before the results are looked at."""
import argparse, os, re, socket, subprocess, statistics, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "build", "libhakmem.so")
MODES = {"off": {"HAKMEM_ACE_ENABLED": "0"}, "on": {"HAKMEM_ACE_ENABLED": "1"}}

SQL = """
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300000)
INSERT INTO t SELECT x, x % 997, printf('name-%08d-%s', x, substr(hex(randomblob(24)), 1, x % 40 + 8)), x * 0.5 FROM c;
CREATE INDEX t_grp ON t(grp, name);
CREATE TABLE u AS SELECT grp, group_concat(name, ',') AS names, count(*) AS n FROM t GROUP BY grp;
UPDATE t SET name = name || '-updated' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(name)), sum(n) FROM t, (SELECT sum(n) AS n FROM u);
SELECT grp, max(length(names)) FROM u GROUP BY grp % 10 ORDER BY 1;
"""

PY = r"""
import time, sys, gc
t0 = time.monotonic()
keep = []
for r in range(12):
    d = {("k%d" % i): [i, str(i) * (i % 13 + 1), (i, i * 2)] for i in range(150000)}
    s = sorted(d.items(), key=lambda kv: kv[1][1])
    keep.append(d if r % 4 == 0 else None)
    del s
    del d
busy = time.monotonic() - t0
keep = [k for k in keep if k][:1]
gc.collect()
time.sleep(IDLE)
rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]
print("busy_s=%.3f idle_rss_kb=%s" % (busy, rss))
"""


def env_for(mode):
    e = dict(os.environ)
    e.pop("HAKMEM_ACE_FAST_INTERVAL_MS", None)
    e.pop("HAKMEM_ACE_SLOW_INTERVAL_S", None)
    e["LD_PRELOAD"] = LIB
    e.update(MODES[mode])
    return e


def run_timed(cmd, env, stdin=None):
    """wall seconds, stdout and peak RSS (KiB, the child's own rusage) of one run"""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        fin.write((stdin or "").encode())
        fin.seek(0)
        p = subprocess.Popen(cmd, env=env, stdin=fin, stdout=fout, stderr=ferr)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = status
        wall = time.monotonic() - t0
        fout.seek(0); ferr.seek(0)
        out, err = fout.read().decode(), ferr.read().decode()
    if status != 0:
        raise RuntimeError("%s failed: %s" % (cmd[0], err[-400:]))
    return wall, out, ru.ru_maxrss


def status_kb(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bench_redis(mode, idle_s):
    port = free_port()
    d = tempfile.mkdtemp(prefix="ace-redis-")
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", d], env=env_for(mode),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
                break
            time.sleep(0.1)
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "300000", "-c", "20", "-q", "-r", "100000",
                              "-d", "256", "-t", "set,get,lpush,lpop"], capture_output=True, text=True, timeout=600).stdout
        rps = [float(m.group(1)) for m in re.finditer(r"([0-9.]+) requests per second", out.replace("\r", "\n"))]
        peak = status_kb(srv.pid, "VmHWM")
        time.sleep(idle_s)
        idle = status_kb(srv.pid, "VmRSS")
        return {"throughput": statistics.mean(rps) if rps else 0, "peak_rss_kb": peak, "idle_rss_kb": idle}
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)
        srv.wait(timeout=30)


def bench_sqlite(mode, idle_s):
    wall, out, peak = run_timed(["sqlite3", ":memory:"], env_for(mode), SQL)
    return {"wall_s": wall, "peak_rss_kb": peak}


def bench_python(mode, idle_s):
    e = env_for(mode)
    e["PYTHONMALLOC"] = "malloc"
    wall, out, peak = run_timed([sys.executable, "-c", PY.replace("IDLE", str(idle_s))], e)
    m = re.search(r"busy_s=([0-9.]+) idle_rss_kb=(\d+)", out)
    return {"busy_s": float(m.group(1)), "peak_rss_kb": peak, "idle_rss_kb": int(m.group(2))}


BENCH = {"redis": (bench_redis, 3.0), "sqlite": (bench_sqlite, 0), "python": (bench_python, None)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="redis,sqlite,python")
    ap.add_argument("--idle-s", type=float, default=65.0, help="python's idle phase (>= 60 s: one slow tick)")
    a = ap.parse_args()
    res = {}
    for rep in range(a.reps):
        for name in a.only.split(","):
            fn, idle = BENCH[name]
            order = ["off", "on"] if rep % 2 == 0 else ["on", "off"]
            for mode in order:
                r = fn(mode, a.idle_s if idle is None else idle)
                print("rep %d %-6s ACE %-3s %s" % (rep, name, mode, " ".join("%s=%g" % kv for kv in r.items())), flush=True)
                for k, v in r.items():
                    res.setdefault((name, k, mode), []).append(v)
    print("\n| program | metric | ACE off median (min–max) | ACE on median (min–max) | on / off |")
    print("|---|---|---|---|---|")
    for (name, k, mode) in sorted(res):
        if mode != "off":
            continue
        off, on = res[(name, k, "off")], res.get((name, k, "on"), [])
        mo, mn = statistics.median(off), statistics.median(on)
        f = (lambda v: "%.0f" % v) if mo >= 100 else (lambda v: "%.3f" % v)
        print("| %s | %s | %s (%s–%s) | %s (%s–%s) | %.3f |" % (name, k, f(mo), f(min(off)), f(max(off)),
              f(mn), f(min(on)), f(max(on)), mn / mo if mo else 0))


if __name__ == "__main__":
    main()
