#!/bin/bash
# Instructions per malloc(SIZE)/free pair, counted by callgrind, for hakmem and
# the peers.  For each allocator the loop runs N and 2N times, with the calls
# ("pair") and without them ("empty", the same loop); per pair =
#   ((Ir(pair,2N) - Ir(pair,N)) - (Ir(empty,2N) - Ir(empty,N))) / N
# which cancels start-up, lazy initialisation and the loop's own instructions.
#
# usage: scripts/callgrind_pair.sh [SIZE (default 32)] [N (default 200000)]
# Output: a table on stdout, also written to docs/results/<date>-callgrind.txt.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
SIZE="${1:-32}"
N="${2:-200000}"
LIB=/usr/lib/x86_64-linux-gnu
command -v valgrind >/dev/null || { echo "valgrind not installed (scripts/install-peers.sh)" >&2; exit 1; }
make -s -C benchmarks bin/callgrind_pair >&2 || exit 1
BIN=benchmarks/bin/callgrind_pair
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

ir() {  # ir PRELOAD MODE COUNT -> total instructions
    local pre="$1"
    env ${pre:+LD_PRELOAD=$pre} HAKMEM_ACE_ENABLED=0 valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
        "$BIN" "$2" "$3" "$SIZE" > /dev/null 2> "$TMP/cg.err" || { echo "FAIL"; return; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/cg.err" | tail -1
}

OUTF="docs/results/$(date +%Y-%m-%d)-callgrind.txt"
mkdir -p docs/results
{
echo "callgrind: instructions per malloc($SIZE)/free pair (N=$N vs 2N, empty loop subtracted); $(valgrind --version)"
printf "%-12s %10s %10s %10s\n" allocator per_pair pair_2N-N empty_2N-N
for spec in "hakmem:$ROOT/build/libhakmem.so" "glibc:" "mimalloc:$LIB/libmimalloc.so.2" \
            "jemalloc:$LIB/libjemalloc.so.2" "tcmalloc:$LIB/libtcmalloc_minimal.so.4"; do
    name="${spec%%:*}"; so="${spec#*:}"
    if [ -n "$so" ] && [ ! -e "$so" ]; then printf "%-12s %10s\n" "$name" "skipped ($so missing)"; continue; fi
    p1=$(ir "$so" pair "$N"); p2=$(ir "$so" pair $((2 * N)))
    e1=$(ir "$so" empty "$N"); e2=$(ir "$so" empty $((2 * N)))
    if [ "$p1" = FAIL ] || [ "$p2" = FAIL ] || [ -z "$p1$p2" ]; then printf "%-12s %10s\n" "$name" "FAILED"; continue; fi
    awk -v n="$name" -v p1="$p1" -v p2="$p2" -v e1="$e1" -v e2="$e2" -v N="$N" \
        'BEGIN { printf "%-12s %10.1f %10d %10d\n", n, ((p2 - p1) - (e2 - e1)) / N, p2 - p1, e2 - e1 }'
done
} | tee "$OUTF"
echo "written: $OUTF" >&2
