#!/bin/bash
# Runs every test; called by `make -C tests run` (see Makefile for the knobs).
# Each test is one line: PASS/FAIL, name, seconds.  Ends with "N passed, M failed".
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
B=${B:-$ROOT/build/tests}
LIB=${HAKMEM_LIB:-$ROOT/build/libhakmem.so}
MAKE=${MAKE:-make}
ONLY=${ONLY:-}
LOGS=$B/logs
mkdir -p "$LOGS"
PASS=0 FAIL=0 FAILED=()

if [ "$LIB" != none ] && [ ! -f "$LIB" ]; then
    echo "error: $LIB not found; run make at the top level first" >&2
fi

# t NAME TIMEOUT CMD... : run one test, record the result
t() {
    local name=$1 tmo=$2; shift 2
    [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && return 0
    local log="$LOGS/$name.log" start=$SECONDS rc
    timeout -k 10 "$tmo" bash -c '"$@"' _ "$@" > "$log" 2>&1
    rc=$?
    local dt=$((SECONDS - start))
    if [ $rc -eq 0 ]; then
        PASS=$((PASS + 1)); printf 'PASS  %-40s %4ds\n' "$name" "$dt"
    else
        FAIL=$((FAIL + 1)); FAILED+=("$name")
        [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "(timed out after ${tmo}s)" >> "$log"
        printf 'FAIL  %-40s %4ds  (exit %d, log %s)\n' "$name" "$dt" "$rc" "${log#$ROOT/}"
        tail -n 8 "$log" | sed 's/^/      | /'
    fi
}

# run with hakmem preloaded (plain names); HAKMEM_LIB=none runs on glibc
pre() {
    if [ "$LIB" = none ]; then env -u LD_PRELOAD "$@"
    else env LD_PRELOAD="$LIB" HAKTEST_REQUIRE_HAKMEM=1 "$@"; fi
}
have() { [ -x "$1" ] || { echo "missing test binary $1 (build failed?)"; return 1; }; }
bin() { have "$B/$1" && "$B/$1" "${@:2}"; }
# a test that needs the binary to exist and runs it under the preload
prebin() { have "$B/$1" && pre "$B/$1" "${@:2}"; }
export -f pre have bin prebin
export B LIB ROOT

API_SUBTESTS="malloc_basic malloc_zero free_null free_keeps_errno huge_enomem calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc_pvalloc free_sized sized_boundaries size_classes random_mix"
STRESS="prodcons exchange aligned churn fork"
BAD="stack global mmap mmap_base interior_tiny interior_mid interior_large double_tiny double_mid double_large double_tiny_busy realloc_stack realloc_interior free_sized_stack sized_tiny sized_tiny_small sized_mid sized_mid_small sized_large sized_large_over sized_aligned sized_aligned_large sized_double sized_interior never_tiny realloc_never usable_never"

echo "== unit tests (LD_PRELOAD, hak_ API, static link)"
for s in $API_SUBTESTS; do t "api.preload.$s" 120 prebin test_api $s; done
for s in $API_SUBTESTS; do t "api.hak.$s" 120 bin test_api_hak $s; done
if [ "$LIB" != none ]; then
    for s in $API_SUBTESTS; do HAKTEST_REQUIRE_HAKMEM=1 t "api.static.$s" 120 bin test_api_static $s; done
fi

echo "== C++: hakmem's operator new/delete (LD_PRELOAD; libhakmem.a with g++ -static and -static-libstdc++)"
CXX_SUBTESTS="basic forms sized_boundaries bad_alloc new_handler new_handler_retry"
CXX_BAD="bad_delete_tiny bad_delete_near bad_delete_array bad_delete_mid bad_delete_large bad_delete_large_mid bad_delete_aligned bad_delete_aligned_array bad_delete_base bad_delete_double"
# the linker's trace of a static link (tests/Makefile): every operator and
# malloc/free defined by libhakmem.a's members, none by another archive's
cxx_static_link() {
    local trace=$B/$1.trace op bad=0
    have "$B/$1" || return 1
    for op in _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t _ZnamSt11align_val_t \
              _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm \
              _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t \
              _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t _ZdlPvSt11align_val_tRKSt9nothrow_t \
              _ZdaPvSt11align_val_tRKSt9nothrow_t malloc free; do
        local defs
        defs=$(grep -E ": definition of $op\$" "$trace" | grep -F '.a(')
        echo "$op: ${defs##*: }"
        [ "$(echo "$defs" | grep -c .)" = 1 ] && echo "$defs" | grep -qE 'libhakmem\.a\(hakmem_(new|override)\.o\)' ||
            { echo "FAIL: $op: $defs"; bad=1; }
    done
    return $bad
}
export -f cxx_static_link
for s in $CXX_SUBTESTS; do t "cxx.preload.$s" 120 prebin test_cxx $s; done
if [ "$LIB" != none ]; then
    t "cxx.preload.route" 60 prebin test_cxx route
    for s in $CXX_BAD; do t "cxx.preload.$s" 60 prebin test_cxx $s; done
    t "cxx.static.link" 60 cxx_static_link test_cxx_static
    t "cxx.static_libstdcxx.link" 60 cxx_static_link test_cxx_static_libstdcxx
    for s in $CXX_SUBTESTS $CXX_BAD; do HAKTEST_REQUIRE_HAKMEM=1 t "cxx.static.$s" 120 bin test_cxx_static $s; done
    for s in basic forms bad_alloc new_handler bad_delete_tiny bad_delete_aligned; do
        HAKTEST_REQUIRE_HAKMEM=1 t "cxx.static_libstdcxx.$s" 120 bin test_cxx_static_libstdcxx $s
    done
fi

echo "== the core's data structures, white-box (plain, ASan+UBSan by clang and by gcc)"
# each subtest in a process of its own: pagemap checks the neighbours of the only segment
for s in size_class pagemap span_blocks span_lists page_release batches; do
    t "units.$s" 60 bin test_core_units $s
    t "units.asan.$s" 60 bin test_core_units_asan $s
    t "units.asan_gcc.$s" 60 bin test_core_units_asan_gcc $s
done

echo "== protections: guard pages, the segments' high-water marks, the secrets read-only (white-box)"
# a process per subtest: seg_highwater checks the only segment's low pages
for s in seg_guard seg_highwater heap_guard secret_ro; do t "guards.$s" 60 bin test_guards $s; done
for s in seg_guard seg_highwater; do HAKMEM_HUGEPAGES=1 t "guards.huge.$s" 60 bin test_guards $s; done

echo "== realloc (LD_PRELOAD, hak_ API)"
REALLOC_SUBTESTS="slack class_up class_down mid_large large_grow large_shrink large_mid fail null_zero cross_thread random copy"
for s in $REALLOC_SUBTESTS; do t "realloc.preload.$s" 120 prebin test_realloc $s; done
for s in $REALLOC_SUBTESTS; do t "realloc.hak.$s" 120 bin test_realloc_hak $s; done

echo "== large blocks: warm reuse, decay, the realloc border"
LARGE_SUBTESTS="reuse calloc reuse_other quiet split_join shrink_tail bound decay release border threads"
for s in $LARGE_SUBTESTS; do
    HAKMEM_LARGE_DECAY_MS=100 t "large.preload.$s" 120 prebin test_large $s
    HAKMEM_LARGE_DECAY_MS=100 t "large.hak.$s" 120 bin test_large_hak $s
done
t "page_heap.whitebox" 120 bin test_page_heap
for s in huge_large huge_release; do
    HAKMEM_HUGEPAGES=1 t "large.preload.$s" 120 prebin test_large $s
    HAKMEM_HUGEPAGES=1 t "large.hak.$s" 120 bin test_large_hak $s
done

echo "== multi-threaded stress"
for s in $STRESS; do t "stress.preload.$s" 180 prebin test_stress $s; done
for s in $STRESS; do t "stress.hak.$s" 180 bin test_stress_hak $s; done

echo "== remote frees to their spans"
REMOTE="idle_release idle_reuse abandoned exit_unflushed fork_push owner full"
for s in $REMOTE; do t "remote.preload.$s" 120 prebin test_remote $s; done
for s in $REMOTE; do t "remote.hak.$s" 120 bin test_remote_hak $s; done
for s in idle_release idle_reuse abandoned exit_unflushed owner; do TSAN_OPTIONS="halt_on_error=1 exitcode=66" t "tsan.remote.$s" 300 bin test_remote_tsan $s; done

# the page map reserves nothing large: hakmem works under a 64 MiB address-space limit
as64() { ulimit -v 65536 && "$@"; }
export -f as64
for s in idle_reuse abandoned; do
    t "rlimit_as64m.preload.$s" 120 as64 prebin test_remote $s
    t "rlimit_as64m.hak.$s" 120 as64 bin test_remote_hak $s
done

echo "== the free path's slow cases (hak_ API): full magazine, remote free, Mid across threads, no heap, Large, bad input"
FREE_PATH="full_magazine remote_back mid_other heapless large bad_map_interior bad_map_double bad_remote_double bad_mid_flushed_double"
for s in $FREE_PATH; do t "free_path.$s" 120 bin test_free_path_hak $s; done
HAKMEM_TLS_CAP=8 t "free_path.full_magazine_cap8" 120 bin test_free_path_hak full_magazine

echo "== out of memory (LD_PRELOAD, hak_ API)"
for s in huge rlimit heapless cached; do
    t "oom.preload.$s" 120 prebin test_oom $s
    t "oom.hak.$s" 120 bin test_oom_hak $s
done

echo "== glibc's extension API (LD_PRELOAD, hak_ API, static link)"
GLIBC_SUBTESTS="figures saturate trim info mallopt stats_json"
for s in $GLIBC_SUBTESTS; do
    t "glibc.preload.$s" 120 prebin test_glibc $s
    t "glibc.hak.$s" 120 bin test_glibc_hak $s
    if [ "$LIB" != none ]; then HAKTEST_REQUIRE_HAKMEM=1 t "glibc.static.$s" 120 bin test_glibc_static $s; fi
done

echo "== options: HAKMEM_VERBOSE, unknown variables, bad values, flag words, HAKMEM_STATS=json and _FILE"
# stderr of a short run of test_glibc's churn helper, under the preload ($1: runner)
churn_err() { local run=$1; shift; (export "$@" HAKTEST_MS=${HAKTEST_MS:-300}; $run test_glibc churn) 2>&1 >/dev/null; }
opt_verbose() {
    local err n bad=0
    err=$(churn_err prebin HAKMEM_VERBOSE=1 HAKMEM_BUNDLE_WIDTH=16 HAKMEM_ACE_SLICE_MS=8 HAKMEM_STATS_FILE=/dev/null)
    echo "$err" | head -40
    [ -x "$ROOT/build/gen_options" ] || { echo "FAIL: build/gen_options missing (make)"; return 1; }
    for n in $("$ROOT/build/gen_options" names); do
        echo "$err" | grep -qE "^hakmem: option $n=.* \((default|environment)" || { echo "FAIL: no line for $n"; bad=1; }
    done
    for n in HAKMEM_VERBOSE=1 HAKMEM_BUNDLE_WIDTH=16 HAKMEM_ACE_SLICE_MS=8 HAKMEM_STATS_FILE=/dev/null; do
        echo "$err" | grep -qxF "hakmem: option $n (environment)" || { echo "FAIL: $n not from the environment"; bad=1; }
    done
    for n in "knob bundle_width=16 (fixed)" "knob tls_cap=64 (default)" "OS page 4096 bytes" "segment 4194304 bytes" \
             "hakmem: LLC " "hakmem: hardware counters "; do
        echo "$err" | grep -qF "$n" || { echo "FAIL: no \"$n\""; bad=1; }
    done
    return $bad
}
opt_unknown() {
    local err
    err=$(churn_err prebin HAKMEM_NO_SUCH_OPTION=1 HAKMEM_LIB=x)
    echo "$err"
    [ "$(echo "$err" | grep -c 'unknown variable HAKMEM_NO_SUCH_OPTION ')" = 1 ] || { echo "FAIL: no single warning"; return 1; }
    ! echo "$err" | grep -q 'HAKMEM_LIB' || { echo "FAIL: HAKMEM_LIB (set by the test tools) warned about"; return 1; }
}
# every type: one message, with the accepted form
opt_bad_values() {
    local err long bad=0 m
    long=$(printf 'x%.0s' $(seq 1 450))
    err=$(churn_err prebin HAKMEM_VERBOSE=maybe HAKMEM_BUNDLE_WIDTH=wide HAKMEM_DIET_FACTOR=lots HAKMEM_STATS=xml \
          HAKMEM_TLS_CAP=99:1 HAKMEM_STATS_FILE=/tmp/$long HAKMEM_ACE_LOG_LEVEL=loud)
    echo "$err" | cut -c1-160
    while IFS= read -r m; do
        [ "$(echo "$err" | grep -cF "$m")" = 1 ] || { echo "FAIL: want one \"$m\""; bad=1; }
    done <<'EOT'
ignoring HAKMEM_VERBOSE=maybe (expected 0, 1, no, yes, false, true, off or on)
ignoring HAKMEM_BUNDLE_WIDTH=wide (expected an integer in 1..1024)
ignoring HAKMEM_DIET_FACTOR=lots (expected a number in 0.1..1.0)
ignoring HAKMEM_STATS=xml (expected off,text,json or 0..2)
ignoring the rest of HAKMEM_TLS_CAP=99:1 (expected N or class:N,class:N with class < 52, N in 1..64)
(expected a file name of at most 400 bytes)
ignoring HAKMEM_ACE_LOG_LEVEL=loud (expected an integer)
EOT
    return $bad
}
# HAKMEM_ACE_ENABLED (a flag) takes yes/true/on and no/false/off, any case
opt_flag_words() {
    local w err bad=0
    for w in yes true on YES 1; do
        err=$(churn_err prebin HAKMEM_ACE_ENABLED=$w HAKMEM_ACE_LOG_LEVEL=1 HAKMEM_ACE_FAST_INTERVAL_MS=20)
        echo "$w: $(echo "$err" | head -1)"
        echo "$err" | grep -q '^\[ACE\] started' || { echo "FAIL: ACE_ENABLED=$w did not start ACE"; bad=1; }
    done
    for w in no false off Off 0; do
        err=$(churn_err prebin HAKMEM_ACE_ENABLED=$w HAKMEM_ACE_LOG_LEVEL=1 HAKMEM_ACE_FAST_INTERVAL_MS=20)
        echo "$w: $(echo "$err" | head -1)"
        [ -z "$err" ] || { echo "FAIL: ACE_ENABLED=$w: $err"; bad=1; }
    done
    return $bad
}
# the exit statistics as JSON and as text into files: both parse, same totals
opt_stats_file() {
    local run=$1 b=$2 d rc
    d=$(mktemp -d)
    HAKMEM_STATS=json HAKMEM_STATS_FILE=$d/j $run $b figures 2>$d/j.err >/dev/null
    HAKMEM_STATS=1 HAKMEM_STATS_FILE=$d/t $run $b figures 2>$d/t.err >/dev/null
    ls -l $d; head -c 300 $d/j; echo; tail -3 $d/t
    [ "$(stat -c %a $d/j)" = 644 ] || { echo "FAIL: mode $(stat -c %a $d/j)"; rm -rf $d; return 1; }
    ! grep -q '"classes"\|\[hakmem\] total' $d/j.err $d/t.err || { echo "FAIL: statistics on stderr too"; rm -rf $d; return 1; }
    python3 - $d/j $d/t <<'EOT'
import json, re, sys
j = json.load(open(sys.argv[1]))
text = {}
for l in open(sys.argv[2]):
    if l.startswith("[hakmem] total "):
        text.update((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", l))
assert j["classes"] and all("free_blocks" in c for c in j["classes"]), "no classes"
assert set(j["total"]) == set(text), "names differ: %s" % (set(j["total"]) ^ set(text))
for k in ("allocs", "frees", "large_allocs", "large_frees"):   # the same program twice: these are equal
    assert j["total"][k] == text[k], "%s: json %d, text %d" % (k, j["total"][k], text[k])
assert j["total"]["allocs"] > 20000, "allocs %d" % j["total"]["allocs"]
print("json and text: %d totals, %d classes" % (len(text), len(j["classes"])))
EOT
    rc=$?
    rm -rf $d
    return $rc
}
# the statistics file is named by a copy of the variable: the program may
# rewrite its environment before exit (redis-server's process title)
opt_stats_file_clobbered() {
    local run=$1 b=$2 d rc=0
    d=$(mktemp -d)
    HAKMEM_STATS=1 HAKMEM_STATS_FILE=$d/c $run $b clobber_env 2>$d/c.err >/dev/null
    grep -q '^\[hakmem\] total ' $d/c 2>/dev/null || { echo "FAIL: no statistics in $d/c"; cat $d/c.err; rc=1; }
    rm -rf $d
    return $rc
}
export -f churn_err opt_verbose opt_unknown opt_bad_values opt_flag_words opt_stats_file opt_stats_file_clobbered
if [ "$LIB" != none ]; then
    t "options.verbose" 60 opt_verbose
    t "options.unknown_var" 60 opt_unknown
    t "options.bad_values" 60 opt_bad_values
    t "options.flag_words" 120 opt_flag_words
    t "options.stats_file.preload" 60 opt_stats_file prebin test_glibc
    t "options.stats_file.clobbered_env" 60 opt_stats_file_clobbered prebin test_glibc
    HAKTEST_REQUIRE_HAKMEM=1 t "options.stats_file.static" 60 opt_stats_file bin test_glibc_static
fi

echo "== the seed's knobs: counted effects"
# each subtest runs its workload in two children, the knob at two values
for s in tls_cap diet bundle_width drain_threshold partial_release_pages; do t "knobs.$s" 60 bin test_knobs_hak $s; done

echo "== counters"
for m in preload hak; do
    if [ $m = preload ]; then run=prebin; b=test_counters; else run=bin; b=test_counters_hak; fi
    HAKMEM_TLS_CAP=4 HAKMEM_BUNDLE_WIDTH=16 t "counters.$m.lock_waits" 180 $run $b lock_waits
    HAKMEM_DRAIN_THRESHOLD=32 t "counters.$m.remote_drains" 180 $run $b remote
    t "counters.$m.pages_released" 180 $run $b release
    t "counters.$m.spans_adopted" 180 $run $b adopt
done

echo "== bad input (child processes)"
for c in $BAD; do t "badfree.preload.$c" 60 prebin test_badfree $c; done
for c in $BAD; do t "badfree.hak.$c" 60 bin test_badfree_hak $c; done

echo "== the secure build (libhakmem-secure.so): its mechanisms, the API, bad input, C++, reduced stress"
SECLIB=${HAKMEM_SECURE_LIB:-$ROOT/build/libhakmem-secure.so}
# HAKTEST_SECURE: test_api does not write into a malloc(0) block (PROT_NONE there)
spre() { env LD_PRELOAD="$SECLIB" HAKTEST_REQUIRE_HAKMEM=1 HAKTEST_SECURE=1 "$@"; }
# In a setuid program (AT_SECURE) the secure build reads no HAKMEM_* variable:
# a setuid-root copy of secure_env run by nobody prints no statistics for
# HAKMEM_STATS=1, the same copy run by root does.  Skipped without root or
# setpriv, or where the copy's setuid bit has no effect (a nosuid mount).
secure_setuid_env() {
    local d out rc=0
    [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null || { echo "SKIP: needs root and setpriv"; return 0; }
    have "$B/secure_env" || return 1
    d=$(mktemp -d "$B/suid.XXXXXX") && chmod 755 "$d" && cp "$B/secure_env" "$d/" && chmod 4755 "$d/secure_env"
    out=$(HAKMEM_STATS=1 "$d/secure_env" 2>&1)
    echo "as root: $out" | head -3
    echo "$out" | grep -qx "at_secure=0" && echo "$out" | grep -q '^\[hakmem\] total' || { echo "FAIL: no statistics as root"; rc=1; }
    out=$(HAKMEM_STATS=1 setpriv --reuid=65534 --regid=65534 --clear-groups "$d/secure_env" 2>&1)
    echo "as nobody: $out" | head -3
    if echo "$out" | grep -qx "at_secure=0"; then
        echo "SKIP: the setuid bit took no effect here (nosuid mount?)"
    elif ! echo "$out" | grep -qx "at_secure=1" || echo "$out" | grep -q '^\[hakmem\]'; then
        echo "FAIL: HAKMEM_STATS read with AT_SECURE set"; rc=1
    fi
    rm -rf "$d"
    return $rc
}
sbin() { have "$B/$1" && spre "$B/$1" "${@:2}"; }
export -f spre sbin secure_setuid_env
export SECLIB
if [ "$LIB" != none ]; then
    for s in $("$B/test_secure" list 2>/dev/null); do t "secure.$s" 60 sbin test_secure $s; done
    for s in $API_SUBTESTS; do t "api.secure.$s" 120 sbin test_api $s; done
    # sized_*: the default build's class rule (test_secure checks the exact size instead)
    for c in $BAD; do [[ $c == sized_* ]] || t "badfree.secure.$c" 60 sbin test_badfree $c; done
    for s in $CXX_SUBTESTS bad_delete_double; do t "cxx.secure.$s" 120 sbin test_cxx $s; done
    for s in $STRESS; do HAKTEST_SCALE=25 t "stress.secure.$s" 180 sbin test_stress $s; done
    t "secure.setuid_env" 60 secure_setuid_env
fi

echo "== sanitizers (hak_ API, reduced stress)"
# TSan: fork is left out (TSan itself is unreliable in the child of a
# multi-threaded fork); everything else at a quarter of the normal work, churn
# at 5 % (5000 threads): TSan's runtime keeps state per finished thread, so
# its own RSS grows with the thread count whatever the allocator does.
for s in prodcons exchange aligned churn; do
    sc=25; [ "$s" = churn ] && sc=5
    HAKTEST_SCALE=$sc TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" t "tsan.$s" 300 bin test_stress_tsan $s
done
for s in prodcons exchange aligned churn fork; do
    HAKTEST_SCALE=50 UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1" t "ubsan.$s" 300 bin test_stress_ubsan $s
done

echo "== real programs under LD_PRELOAD"
for p in python python_ace sqlite gcc git lua perl redis; do
    HAKMEM_LIB="$LIB" t "real.$p" 600 "$HERE/real_programs.sh" $p
done
for p in python sqlite gcc git redis; do
    HAKMEM_LIB="$SECLIB" t "real.secure.$p" 600 "$HERE/real_programs.sh" $p
done

echo "== packaging: the launcher, make install, generated docs"
for s in env status preload errors version plot; do t "launcher.$s" 120 bash "$HERE/launcher.sh" $s; done
# make install/uninstall into temporary prefixes (never the system's)
for s in exports layout pkgconfig cmake destdir launcher man; do t "install.$s" 300 bash "$HERE/install.sh" $s; done
# docs/OPTIONS.md is what the option table prints (make docs regenerates it)
docs_options() {
    have "$ROOT/build/gen_options" || return 1
    env -i "$ROOT/build/gen_options" md > "$B/OPTIONS.md" || return 1
    diff -u "$ROOT/docs/OPTIONS.md" "$B/OPTIONS.md" ||
        { echo "FAIL: docs/OPTIONS.md differs from the option table in core/hakmem_options.c; run make docs"; return 1; }
}
export -f docs_options
t "docs.options" 60 docs_options
# RESULTS.md's and the README's tables are what their data files in docs/results/ give
t "docs.results_tables" 60 python3 "$ROOT/benchmarks/scripts/results_tables.py" --check
# nothing .gitignore names is committed (build outputs, compiled Python)
no_build_outputs() {
    git -C "$ROOT" rev-parse --git-dir > /dev/null 2>&1 || { echo "not a git checkout: nothing to check"; return 0; }
    local f
    f=$(git -C "$ROOT" ls-files -ci --exclude-standard)
    [ -z "$f" ] || { echo "FAIL: committed files that .gitignore names (git rm --cached them):"; echo "$f"; return 1; }
}
export -f no_build_outputs
t "lint.no_build_outputs" 60 no_build_outputs
# no function in core/ over 60 lines
t "lint.fn_length" 60 python3 "$ROOT/scripts/check_fn_length.py"

if [ -f "$HERE/ace/Makefile" ]; then
    echo "== ACE tests"
    t "ace" 900 $MAKE --no-print-directory -C "$HERE/ace" run
fi
# the seed's A/B binary links libhakmem.a, which nothing of ACE is referenced
# from: ACE must still be in it and start (it hooks itself into the core)
ace_static() {
    local out
    out=$(cd "$ROOT" && HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_LOG_LEVEL=1 HAKMEM_ACE_FAST_INTERVAL_MS=20 \
          HAKMEM_ACE_SLOW_INTERVAL_MS=200 ./bench_fragment_stress_hakx quick 2>&1 >/dev/null)
    echo "$out" | tail -5
    echo "$out" | grep -q '^\[ACE\] ' || { echo "FAIL: no [ACE] line from ./bench_fragment_stress_hakx"; return 1; }
}
export -f ace_static
[ -x "$ROOT/bench_fragment_stress_hakx" ] && t "ace.static_hakx" 300 ace_static
if [ -f "$ROOT/benchmarks/Makefile" ] && grep -q '^selftest:' "$ROOT/benchmarks/Makefile"; then
    echo "== benchmark selftest"
    t "benchmarks.selftest" 900 $MAKE --no-print-directory -C "$ROOT/benchmarks" selftest
fi

if [ $FAIL -gt 0 ]; then
    echo "failed: ${FAILED[*]}"
fi
echo "$PASS passed, $FAIL failed"
[ $FAIL -eq 0 ]
