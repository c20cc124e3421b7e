#!/bin/bash
# Instructions per malloc/free pair, counted by callgrind, for hakmem and the peers.
#
# Main measure: PAIRS malloc+free pairs in batches of B --
# allocate B blocks of SIZE, then free them in reverse order -- run at two
# values of PAIRS; per pair = (Ir(P2) - Ir(P1)) / (P2 - P1).  The difference
# cancels start-up and lazy initialisation; the loop's own instructions (about
# 5 per malloc and 5 per free, PLT jumps included) stay in, so every allocator
# carries the same loop.  Sizes 32 and 200 B, B = 1 and 64.
#
# Second table, labelled "calls only": the same minus the instructions per pair
# of the same loop without the calls (callgrind_pair batch-empty), an estimate of
# the calls alone.
#
# usage: scripts/callgrind_pair.sh [--sizes "32 200"] [--batches "1 64"]
#                                  [--pairs P1] [--mimalloc3 SO] [--snmalloc SO]
#   P2 = 2 x P1 (default P1 = 192000, a multiple of every B used here)
#   mimalloc 3.x: --mimalloc3 or $MIMALLOC3_SO (default /work/peers/lib/libmimalloc3.so);
#   optional -- a missing library is a "skipped" row.  snmalloc (--snmalloc or
#   $SNMALLOC_SO) does not start under valgrind ("Failed to initialise snmalloc":
#   its address-space reservation fails there), so it is listed as skipped.
# Output: the tables on stdout, also written to docs/results/<date>-callgrind.txt.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
SIZES="32 200" BATCHES="1 64" P1=192000
MI3="${MIMALLOC3_SO-/work/peers/lib/libmimalloc3.so}"
SNM="${SNMALLOC_SO-/work/peers/lib/libsnmallocshim.so}"
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) SIZES="$2"; shift 2 ;;
        --batches) BATCHES="$2"; shift 2 ;;
        --pairs) P1="$2"; shift 2 ;;
        --mimalloc3) MI3="$2"; shift 2 ;;
        --snmalloc) SNM="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "callgrind_pair.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
P2=$((2 * P1))
for b in $BATCHES; do
    [ $((P1 % b)) -eq 0 ] || { echo "callgrind_pair.sh: B=$b does not divide PAIRS=$P1" >&2; exit 2; }
done
LIB=/usr/lib/x86_64-linux-gnu
command -v valgrind >/dev/null || { echo "valgrind not installed (scripts/install-peers.sh)" >&2; exit 1; }
make -s -C benchmarks bin/callgrind_pair >&2 || exit 1
BIN=benchmarks/bin/callgrind_pair
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

ir() {  # ir PRELOAD ARGS... -> total instructions, or FAIL
    local pre="$1"; shift
    env ${pre:+LD_PRELOAD=$pre} HAKMEM_ACE_ENABLED=0 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
        "$BIN" "$@" > /dev/null 2> "$TMP/cg.err" || { echo FAIL; return; }
    local n; n=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/cg.err" | tail -1)
    echo "${n:-FAIL}"
}
per_pair() {  # per_pair IR1 IR2 -> (IR2 - IR1) / (P2 - P1), or FAIL
    case "$1$2" in *FAIL*) echo FAIL; return ;; esac
    awk -v a="$1" -v b="$2" -v d=$((P2 - P1)) 'BEGIN { printf "%.1f", (b - a) / d }'
}

SPECS=("hakmem:$ROOT/build/libhakmem.so" "glibc:" "mimalloc-2.0.9:$LIB/libmimalloc.so.2"
       "mimalloc3:$MI3" "jemalloc:$LIB/libjemalloc.so.2" "tcmalloc:$LIB/libtcmalloc_minimal.so.4")
COLS=()
for s in $SIZES; do for b in $BATCHES; do COLS+=("${s}B/B=$b"); done; done

# the empty loop per pair, for each B (no allocator involved: run without preload)
declare -A EMPTY
for b in $BATCHES; do
    echo "callgrind_pair: empty loop, B=$b" >&2
    EMPTY[$b]=$(per_pair "$(ir "" batch-empty "$P1" 32 "$b")" "$(ir "" batch-empty "$P2" 32 "$b")")
done

declare -A RES
NAMES=() NOTES=()
for spec in "${SPECS[@]}"; do
    name="${spec%%:*}"; so="${spec#*:}"
    if [ -n "$so" ] && [ ! -e "$so" ]; then NOTES+=("$name: skipped ($so not found)"); continue; fi
    NAMES+=("$name")
    for s in $SIZES; do for b in $BATCHES; do
        echo "callgrind_pair: $name, ${s} B, B=$b" >&2
        RES[$name,$s,$b]=$(per_pair "$(ir "$so" batch "$P1" "$s" "$b")" "$(ir "$so" batch "$P2" "$s" "$b")")
    done; done
done
NOTES+=("snmalloc ($SNM): skipped -- does not start under valgrind (\"Failed to initialise snmalloc\")")

table() {  # table calls_only(0|1)
    printf "%-16s" allocator
    for c in "${COLS[@]}"; do printf " %11s" "$c"; done
    [ "$1" = 0 ] && printf "   (ratio to hakmem, %s)" "${COLS[*]}"
    printf "\n"
    for name in "${NAMES[@]}"; do
        printf "%-16s" "$name"
        local ratios=""
        for s in $SIZES; do for b in $BATCHES; do
            v="${RES[$name,$s,$b]}"; h="${RES[hakmem,$s,$b]-FAIL}"
            if [ "$1" = 1 ] && [ "$v" != FAIL ] && [ "${EMPTY[$b]}" != FAIL ]; then
                v=$(awk -v v="$v" -v e="${EMPTY[$b]}" 'BEGIN { printf "%.1f", v - e }')
            fi
            printf " %11s" "$v"
            if [ "$v" != FAIL ] && [ "$h" != FAIL ]; then
                ratios+=" $(awk -v v="${RES[$name,$s,$b]}" -v h="$h" 'BEGIN { printf "%.2fx", v / h }')"
            else ratios+=" -"; fi
        done; done
        [ "$1" = 0 ] && printf "  %s" "$ratios"
        printf "\n"
    done
}

OUTF="docs/results/$(date +%Y-%m-%d)-callgrind.txt"
mkdir -p docs/results
{
echo "callgrind: instructions per malloc+free pair, in batches of B (allocate B blocks of the size, then free"
echo "them in reverse order); per pair = (Ir(P2) - Ir(P1)) / (P2 - P1), P1=$P1, P2=$P2, loop included."
echo "$(valgrind --version); $(uname -m); $(date +%Y-%m-%d); hakmem commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
echo "(lower is better; ratio = allocator / hakmem)"
echo
table 0
echo
echo "Calls only (estimate): the same minus the empty loop's instructions per pair (B=1 and B=64 loops without"
echo "the calls: $(for b in $BATCHES; do printf "B=%s %s  " "$b" "${EMPTY[$b]}"; done))"
echo
table 1
echo
for n in "${NOTES[@]}"; do echo "note: $n"; done
} | tee "$OUTF"
echo "written: $OUTF" >&2
