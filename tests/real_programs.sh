#!/bin/bash
# Real programs under LD_PRELOAD=libhakmem.so; their output must equal the
# output with the system allocator.
#
#   tests/real_programs.sh [name...]       names: python sqlite gcc git lua perl redis
#   HAKMEM_LIB=/path/libhakmem.so          library to preload (default build/libhakmem.so;
#                                          HAKMEM_LIB=none compares glibc with itself)
# Each name is one test: exit status 0 = pass.  With several names (or none =
# all), prints "PASS name" / "FAIL name" per program and a summary line.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LIB=${HAKMEM_LIB:-$ROOT/build/libhakmem.so}
ALL="python python_ace sqlite gcc git lua perl redis"

if [ "$LIB" != none ] && [ ! -f "$LIB" ]; then
    echo "real_programs: $LIB not found (build it with make, or set HAKMEM_LIB)" >&2
    exit 1
fi

if [ $# -ne 1 ]; then
    names=${*:-$ALL}
    pass=0 fail=0
    for n in $names; do
        if timeout -k 10 600 "$0" "$n"; then echo "PASS $n"; pass=$((pass+1)); else echo "FAIL $n"; fail=$((fail+1)); fi
    done
    echo "real_programs: $pass passed, $fail failed"
    [ $fail -eq 0 ]
    exit
fi

WORK=$(mktemp -d /tmp/hak_real.XXXXXX)
cleanup() { [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

# run "$@" with the system allocator / with hakmem
sys() { env -u LD_PRELOAD "$@"; }
hak() { if [ "$LIB" = none ]; then env -u LD_PRELOAD "$@"; else env LD_PRELOAD="$LIB" ${HAK_ENV:-} "$@"; fi; }

# the preload must really be active in the program: HAKMEM_STATS=1 makes
# hakmem print its statistics at exit on stderr
check_active() {
    [ "$LIB" = none ] && return 0
    local err
    err=$(env LD_PRELOAD="$LIB" HAKMEM_STATS=1 "$@" 2>&1 >/dev/null)
    if ! grep -qi hakmem <<<"$err"; then
        echo "preload not active in: $* (no hakmem statistics on stderr)" >&2
        return 1
    fi
}

# compare two files, show a diff on failure
same() {
    if ! cmp -s "$1" "$2"; then
        echo "output differs: $1 vs $2" >&2
        diff "$1" "$2" | head -20 >&2
        return 1
    fi
}

t_python() {
    local PY=/usr/bin/python3
    # regression tests of CPython itself, incl. threading and fork; pass status is compared
    local mods=${PY_MODS:-"test_threading test_fork1 test_list test_dict test_json test_re test_os test_pickle test_set test_bytes test_unicode"}
    check_active $PY -c pass || return 1
    hak $PY -c "import sys; sys.exit(0 if any('libhakmem' in l for l in open('/proc/self/maps')) or '$LIB' == 'none' else 1)" || { echo "libhakmem not mapped in python" >&2; return 1; }
    local m rc=0
    for m in $mods; do
        local a b try
        for try in 1 2; do   # a mismatch is retried once (timing-sensitive tests under load)
            sys env PYTHONMALLOC=malloc $PY -m test $m > sys_$m.log 2>&1 </dev/null; a=$?
            hak env PYTHONMALLOC=malloc $PY -m test $m > hak_$m.log 2>&1 </dev/null; b=$?
            echo "python $m (try $try): system=$a hakmem=$b" >&2
            [ $a -eq $b ] && break
        done
        if [ $a -ne 0 ]; then echo "--- system allocator log of $m:" >&2; grep -E '^(FAIL|ERROR)|Error|result' sys_$m.log | head -20 >&2; fi
        if [ $b -ne 0 ]; then echo "--- hakmem log of $m:" >&2; tail -40 hak_$m.log >&2; fi
        [ $a -eq $b ] || rc=1
    done
    # a script whose output is compared byte for byte
    cat > p.py <<'PY'
import json, re, hashlib, threading, collections
d = {}
for i in range(200000):
    d[str(i) * (i % 7 + 1)] = [i, str(i), {'k': i}]
s = json.dumps(d, sort_keys=True)
print(len(s), hashlib.sha256(s.encode()).hexdigest())
print(len(re.findall(r'"(\d+)"', s)))
out = collections.Counter()
def work(n):
    c = collections.Counter(str(j * n) for j in range(50000))
    out[n] = sum(len(k) for k in c)
ts = [threading.Thread(target=work, args=(n,)) for n in range(1, 9)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out.items()))
b = bytearray()
for i in range(100000):
    b += bytes(str(i), 'ascii')
print(len(b), hashlib.md5(b).hexdigest())
PY
    sys env PYTHONMALLOC=malloc $PY p.py > sys_p.out || rc=1
    hak env PYTHONMALLOC=malloc $PY p.py > hak_p.out || rc=1
    same sys_p.out hak_p.out || rc=1
    return $rc
}

# the same with ACE's thread running on short loops: threads that pthread_exit,
# forks from threads, subprocesses (ACE must never keep a process alive)
t_python_ace() {
    HAK_ENV="HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS=20 HAKMEM_ACE_SLOW_INTERVAL_MS=200" \
        PY_MODS="test_threading test_fork1 test_os test_dict" t_python
}

t_sqlite() {
    check_active sqlite3 :memory: "select 1" || return 1
    cat > w.sql <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL, blob BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50000)
INSERT INTO t SELECT x, 'name-' || x || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26), x % 97, x * 1.5, zeroblob(x % 300) FROM c;
CREATE INDEX t_grp ON t(grp);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(grp), sum(val), sum(length(blob)) FROM t;
SELECT grp, count(*), min(name), max(name), avg(val) FROM t GROUP BY grp ORDER BY grp LIMIT 10;
SELECT name FROM t WHERE name LIKE 'name-4999%' ORDER BY name;
CREATE TABLE u AS SELECT grp, group_concat(id, ',') AS ids FROM t GROUP BY grp;
SELECT grp, length(ids), substr(ids, 1, 40) FROM u ORDER BY grp DESC LIMIT 5;
UPDATE t SET name = upper(name) || name WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(name)) FROM t;
SELECT a.grp, count(*) FROM t a JOIN u b ON a.grp = b.grp WHERE a.id < 20000 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 5;
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000)
INSERT INTO t(name, grp, val) SELECT printf('%08d-%s', x, hex(zeroblob(x % 40))), x % 13, x FROM c;
COMMIT;
SELECT grp, count(*), sum(length(name)) FROM t GROUP BY grp ORDER BY grp;
VACUUM;
PRAGMA integrity_check;
SELECT sum(id) FROM (SELECT id FROM t ORDER BY name DESC LIMIT 1000);
SELECT count(DISTINCT name) FROM t;
SQL
    local rc=0
    sys sqlite3 sys.db < w.sql > sys.out 2>&1 || rc=1
    hak sqlite3 hak.db < w.sql > hak.out 2>&1 || rc=1
    same sys.out hak.out || rc=1
    sys sqlite3 :memory: < w.sql > sys_mem.out 2>&1 || rc=1
    hak sqlite3 :memory: < w.sql > hak_mem.out 2>&1 || rc=1
    same sys_mem.out hak_mem.out || rc=1
    # the database written under hakmem reads back identically
    sys sqlite3 hak.db "select count(*), sum(length(name)), sum(val) from t; pragma integrity_check;" > chk1 || rc=1
    sys sqlite3 sys.db "select count(*), sum(length(name)), sum(val) from t; pragma integrity_check;" > chk2 || rc=1
    same chk1 chk2 || rc=1
    return $rc
}

t_gcc() {
    check_active gcc --version || return 1
    local rc=0 f
    for f in test_api.c test_stress.c test_badfree.c; do
        sys gcc -w -O2 -g -frandom-seed=hak -I"$ROOT/include" -c "$HERE/$f" -o sys_$f.o || rc=1
        hak gcc -w -O2 -g -frandom-seed=hak -I"$ROOT/include" -c "$HERE/$f" -o hak_$f.o || rc=1
        cmp sys_$f.o hak_$f.o || { echo "object of $f differs" >&2; rc=1; }
    done
    sys g++ -std=c++17 -O2 -g -frandom-seed=hak -c "$HERE/test_cxx.cpp" -o sys_cxx.o || rc=1
    hak g++ -std=c++17 -O2 -g -frandom-seed=hak -c "$HERE/test_cxx.cpp" -o hak_cxx.o || rc=1
    cmp sys_cxx.o hak_cxx.o || { echo "object of test_cxx.cpp differs" >&2; rc=1; }
    # link under hakmem and run the result
    hak gcc -O2 -o prog sys_test_api.c.o -ldl || rc=1
    ./prog >/dev/null 2>&1 || { echo "program linked under hakmem fails" >&2; rc=1; }
    return $rc
}

git_workload() {
    local d=$1
    export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=Tester \
           GIT_COMMITTER_EMAIL=t@example.com GIT_AUTHOR_DATE='2024-01-01T00:00:00+0000' \
           GIT_COMMITTER_DATE='2024-01-01T00:00:00+0000' HOME=$WORK/home_$d GIT_CONFIG_NOSYSTEM=1 \
           GIT_CONFIG_GLOBAL=/dev/null
    mkdir -p "$WORK/home_$d" "$d" && cd "$d" || return 1
    git init -q -b main . && git config pack.threads 1 && git config gc.autoDetach false
    local i
    for i in $(seq 1 400); do seq $i $((i * 20)) > f$i.txt; done
    git add . && git commit -q -m "initial" || return 1
    for i in $(seq 1 15); do
        seq 1 $((i * 50)) | sed "s/^/$i:/" >> f$i.txt
        echo "change $i" > c$i.txt
        git add . && git commit -q -m "commit $i" || return 1
    done
    git checkout -q -b side HEAD~5 && echo side > side.txt && git add side.txt && git commit -q -m side
    git checkout -q main && git merge -q --no-edit side
    git log --stat --format='%H %an %s' | md5sum
    git log --format='%H %P %s'
    git rev-parse HEAD 'HEAD^{tree}'
    git diff HEAD~10 HEAD --stat | tail -1
    git gc -q --aggressive
    git count-objects -v | grep -E '^(count|in-pack|packs|garbage)'
    git fsck --full 2>&1
    git cat-file --batch-all-objects --batch-check | sort | md5sum
    git archive HEAD | md5sum
    git blame f3.txt | md5sum
}

t_git() {
    check_active git --version || return 1
    local rc=0
    ( unset LD_PRELOAD; git_workload sysrepo ) > sys.out 2>&1 || rc=1
    if [ "$LIB" = none ]; then
        ( git_workload hakrepo ) > hak.out 2>&1 || rc=1
    else
        ( export LD_PRELOAD="$LIB"; git_workload hakrepo ) > hak.out 2>&1 || rc=1
    fi
    same sys.out hak.out || rc=1
    return $rc
}

t_lua() {
    check_active lua5.4 -e "x=1" || return 1
    cat > s.lua <<'LUA'
local t = {}
for i = 1, 300000 do t[i] = string.format("%d:%s", i, string.rep("x", i % 50)) end
local h = 0
for i = 1, #t do h = (h * 31 + #t[i]) % 1000000007 end
print("strings", h)
local m = {}
for i = 1, 200000 do m["k" .. (i * 7919 % 100003)] = { i, tostring(i), { i } } end
local c = 0
for k, v in pairs(m) do c = c + v[1] % 13 + #k end
print("table", c)
local parts = {}
for i = 1, 100000 do parts[#parts + 1] = tostring(i * i) end
local s = table.concat(parts, ",")
print("concat", #s, s:sub(1, 40), s:sub(-40))
local words = {}
for w in s:gmatch("%d+") do words[#words + 1] = w end
table.sort(words)
print("sorted", #words, words[1], words[#words])
local g = s:gsub("1", "one")
print("gsub", #g)
collectgarbage()
print("gc", collectgarbage("count") > 0)
LUA
    local rc=0
    sys lua5.4 s.lua > sys.out 2>&1 || rc=1
    hak lua5.4 s.lua > hak.out 2>&1 || rc=1
    same sys.out hak.out || rc=1
    return $rc
}

t_perl() {
    check_active perl -e 1 || return 1
    cat > s.pl <<'PERL'
use strict; use warnings; use Digest::MD5 qw(md5_hex);
my %h; my @a;
for my $i (1 .. 300000) { $h{"key$i"} = "v" x ($i % 40) . $i; push @a, [$i, "s$i"]; }
my $s = join(",", map { $h{$_} } sort keys %h);
print length($s), " ", md5_hex($s), "\n";
my $c = 0; $c += $_->[0] % 7 for @a; print "$c\n";
my $t = ""; $t .= sprintf("%05d|", $_) for 1 .. 200000;
(my $u = $t) =~ s/(\d)(\d)/$2$1/g;
print length($u), " ", md5_hex($u), "\n";
my @w = split /\|/, $u; print scalar(@w), " ", $w[-1], "\n";
my %cnt; $cnt{substr($_, 0, 2)}++ for @w; print join(",", map { "$_=$cnt{$_}" } (sort keys %cnt)[0..9]), "\n";
delete $h{"key$_"} for 1 .. 250000; print scalar(keys %h), "\n";
PERL
    local rc=0
    sys perl s.pl > sys.out 2>&1 || rc=1
    hak perl s.pl > hak.out 2>&1 || rc=1
    same sys.out hak.out || rc=1
    return $rc
}

redis_script() {
    local port=$1 i
    {
        echo "FLUSHALL"
        for i in $(seq 1 2000); do echo "SET key:$i value-$i-$(printf '%*s' $((i % 200)) '' | tr ' ' x)"; done
        for i in $(seq 1 2000 | awk 'NR % 7 == 0'); do echo "GET key:$i"; done
        for i in $(seq 1 500); do echo "RPUSH list item-$i"; done
        echo "LRANGE list 0 9"; echo "LLEN list"
        for i in $(seq 1 300); do echo "HSET h f$i $i"; echo "SADD s m$((i % 50))"; echo "APPEND big chunk-$i"; done
        echo "HLEN h"; echo "SCARD s"; echo "STRLEN big"; echo "DBSIZE"
        for i in $(seq 1 2000 | awk 'NR % 2 == 0'); do echo "DEL key:$i"; done
        echo "DBSIZE"; echo "GET key:3"; echo "GET key:4"
    } | redis-cli -p "$port" 2>&1
}

t_redis() {
    command -v redis-server >/dev/null || { echo "redis-server missing" >&2; return 1; }
    local port=6399
    while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
    local rc=0 which
    for which in sys hak; do
        local pre=
        [ $which = hak ] && [ "$LIB" != none ] && pre="LD_PRELOAD=$LIB"
        env -u LD_PRELOAD $pre HAKMEM_STATS=1 redis-server --port $port --bind 127.0.0.1 --save '' \
            --appendonly no --daemonize no --dir "$WORK" > redis_$which.log 2>&1 &
        REDIS_PID=$!
        local i
        for i in $(seq 1 100); do redis-cli -p $port ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
        if [ $which = hak ] && [ "$LIB" != none ] && ! grep -q libhakmem /proc/$REDIS_PID/maps; then
            echo "libhakmem not mapped in redis-server" >&2; rc=1
        fi
        redis_script $port > redis_$which.out || rc=1
        if [ $which = hak ]; then
            timeout 120 redis-benchmark -p $port -n 20000 -c 20 -q -t set,get,lpush,lpop > bench.out 2>&1 || { echo "redis-benchmark failed" >&2; rc=1; }
            cat bench.out | tr '\r' '\n' | grep -E 'requests per second' >&2
            for i in SET GET LPUSH LPOP; do grep -q "^$i:" <(tr '\r' '\n' < bench.out) || { echo "redis-benchmark: no $i result" >&2; rc=1; }; done
            redis-cli -p $port dbsize > /dev/null || rc=1
        fi
        redis-cli -p $port shutdown nosave > /dev/null 2>&1
        wait $REDIS_PID; local st=$?
        REDIS_PID=
        if [ $st -ne 0 ]; then echo "redis-server ($which) exited with $st" >&2; tail -5 redis_$which.log >&2; rc=1; fi
    done
    same redis_sys.out redis_hak.out || rc=1
    if [ "$LIB" != none ] && ! grep -qi hakmem redis_hak.log; then echo "no hakmem statistics from redis-server" >&2; rc=1; fi
    return $rc
}

case "$1" in
    python|python_ace|sqlite|gcc|git|lua|perl|redis) "t_$1" ;;
    *) echo "unknown program $1 (one of: $ALL)" >&2; exit 2 ;;
esac
