#!/bin/bash
# The launcher (scripts/hakmem.in; hakmem(1)), one check per argument:
#   env status preload errors version plot missing_lib
# LAUNCHER picks the launcher (default build/hakmem) and LAUNCHER_LIB the
# library it must preload (default build/libhakmem.so), LAUNCHER_SECLIB the one
# --secure preloads (default build/libhakmem-secure.so); tests/install.sh runs
# these against an installed bin/hakmem.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/pkg_common.sh"
L=${LAUNCHER:-$ROOT/build/hakmem}
LIB=${LAUNCHER_LIB:-$ROOT/build/libhakmem.so}
SECLIB=${LAUNCHER_SECLIB:-$ROOT/build/libhakmem-secure.so}
[ -x "$L" ] || fail "no launcher $L (run make)"

# expect VAR=VALUE in the environment listing $TMP/env
expect() { grep -qxF "$1" "$TMP/env" || { cat "$TMP/env"; fail "expected $1 in the program's environment"; }; }

check_env() {
    env -u LD_PRELOAD "$L" --ace --price 1 --stats --trace "$TMP/t.csv" --set tls_cap=32 \
        --set HAKMEM_BUNDLE_WIDTH=16 --set Drain_Threshold=0:64,5:16 -- env > "$TMP/env" || fail "exit $?"
    expect "HAKMEM_ACE_ENABLED=1"
    expect "HAKMEM_ACE_MEM_PRICE=1"
    expect "HAKMEM_STATS=1"
    expect "HAKMEM_ACE_TRACE=$TMP/t.csv"
    expect "HAKMEM_TLS_CAP=32"
    expect "HAKMEM_BUNDLE_WIDTH=16"
    expect "HAKMEM_DRAIN_THRESHOLD=0:64,5:16"
    expect "LD_PRELOAD=$LIB"
    # the = forms, a later option wins, an existing preload stays after hakmem's
    LD_PRELOAD=libm.so.6 "$L" --stats=json --trace="$TMP/u.csv" --set=large_decay_ms=5 \
        --set large_decay_ms=7 --price=0.5 env > "$TMP/env" || fail "exit $?"
    expect "HAKMEM_ACE_MEM_PRICE=0.5"
    expect "HAKMEM_STATS=json"
    expect "HAKMEM_ACE_TRACE=$TMP/u.csv"
    expect "HAKMEM_LARGE_DECAY_MS=7"
    expect "LD_PRELOAD=$LIB:libm.so.6"
    ! grep -q '^HAKMEM_ACE_ENABLED=' "$TMP/env" || fail "HAKMEM_ACE_ENABLED set without --ace"
    # --secure: the secure build next to the default one
    env -u LD_PRELOAD "$L" --secure env > "$TMP/env" || fail "exit $?"
    expect "LD_PRELOAD=$SECLIB"
}

check_status() {
    local rc out
    "$L" -- sh -c 'exit 3'; rc=$?
    [ $rc -eq 3 ] || fail "exit status $rc through --, expected 3"
    "$L" sh -c 'exit 3'; rc=$?
    [ $rc -eq 3 ] || fail "exit status $rc without --, expected 3"
    "$L" --set tls_cap=8 sh -c 'kill -TERM $$'; rc=$?
    [ $rc -eq 143 ] || fail "exit status $rc of a program killed by SIGTERM, expected 143"
    out=$("$L" -- printf '[%s]' 'a b' '' '--ace') || fail "exit $?"
    [ "$out" = "[a b][][--ace]" ] || fail "arguments not passed as given: $out"
}

check_preload() {
    local real out
    real=$(readlink -f "$LIB")
    "$L" -- grep -qF "$real" /proc/self/maps || fail "$real not mapped in the program"
    # the library itself reads what the launcher set (python3: coreutils close stderr at exit)
    out=$("$L" --stats -- python3 -c pass 2>&1 >/dev/null)
    echo "$out" | grep -q '^\[hakmem\] total allocs=' || { echo "$out"; fail "no statistics from --stats"; }
    out=$("$L" --set bundle_width=wide -- true 2>&1)
    echo "$out" | grep -qF 'hakmem: ignoring HAKMEM_BUNDLE_WIDTH=wide' || { echo "$out"; fail "the library did not see --set bundle_width"; }
}

# usage errors: exit 2, a message, and the program does not run
check_errors() {
    local out rc name
    out=$("$L" --set bogus=1 -- touch "$TMP/ran" 2>&1); rc=$?
    [ $rc -eq 2 ] || fail "--set bogus=1: exit $rc, expected 2"
    [ ! -e "$TMP/ran" ] || fail "the program ran after an unknown knob"
    echo "$out" | grep -qF "unknown knob 'bogus'" || fail "no unknown-knob message: $out"
    for name in $(env -i "$ROOT/build/gen_options" names); do
        name=$(echo "${name#HAKMEM_}" | tr 'A-Z' 'a-z')
        echo "$out" | grep -qw "$name" || fail "the unknown-knob message does not list $name: $out"
    done
    for args in "--set tls_cap" "--frob" "--trace" "--set" "--price" "--ace" ""; do
        out=$("$L" $args 2>&1 </dev/null); rc=$?
        [ $rc -eq 2 ] || fail "hakmem $args: exit $rc, expected 2"
        echo "$out" | grep -q '^hakmem: ' || fail "hakmem $args: no message"
    done
}

check_version() {
    local want out
    want=$(header_version "$ROOT/include/hakmem.h")
    out=$("$L" --version) || fail "--version: exit $?"
    [ "$out" = "hakmem $want" ] || fail "--version says '$out', the header $want"
    out=$("$L" --help) || fail "--help: exit $?"
    echo "$out" | grep -q '^usage: hakmem ' || fail "--help prints no usage"
    echo "$out" | grep -qw tls_cap || fail "--help lists no knobs"
    "$L" -h | grep -q '^usage: hakmem ' || fail "-h prints no usage"
}

check_plot() {
    local n
    command -v python3 > /dev/null || fail "python3 missing (scripts/install-test-deps.sh)"
    "$L" --ace --trace "$TMP/t.csv" --set ace_fast_interval_ms=20 --set ace_slow_interval_ms=200 -- \
        python3 -c 'import time; x = [bytes(64) for _ in range(200000)]; time.sleep(0.3)' || fail "traced run: exit $?"
    n=$(wc -l < "$TMP/t.csv")
    [ "$n" -ge 3 ] || fail "trace has $n lines"
    "$L" plot "$TMP/t.csv" "$TMP/t.png" || fail "plot: exit $?"
    [ "$(head -c 8 "$TMP/t.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "plot wrote no PNG"
    "$L" plot "$TMP/t.csv" > /dev/null && [ -s "$TMP/t.png" ] || fail "plot without OUT.png"
    ! "$L" plot "$TMP/none.csv" 2>/dev/null || fail "plot of a missing trace succeeded"
}

# an installed launcher whose library is not (yet) there says so
check_missing_lib() {
    local out rc
    out=$("$L" -- true 2>&1); rc=$?
    [ $rc -eq 1 ] && echo "$out" | grep -qF "$LIB not found" || fail "missing $LIB: exit $rc, '$out'"
}

[ $# -gt 0 ] || set -- env status preload errors version plot
for c in "$@"; do
    "check_$c"
    echo "ok $c"
done
