#!/bin/bash
# Fragmentation stress: hakmem ACE off vs ACE on vs the peers (the seed's usage:
#   bash benchmarks/scripts/stress/run_fragmentation_stress.sh   from the repository root).
#
# 1. The seed's A/B: ./bench_fragment_stress_hakx (libhakmem.a linked in) with
#    HAKMEM_ACE_ENABLED=0 and =1; outputs kept and diffed (only the lines under
#    "# measured" and the env_ line differ when the work was the same).
# 2. The same workload from the allocator-neutral binary under hakmem ACE off,
#    ACE on, glibc, mimalloc, jemalloc, tcmalloc (LD_PRELOAD), interleaved,
#    medians over REPS runs, written to docs/results/<date>-fragmentation.{md,csv}.
#
# Environment: MODE=quick|default|long (default: default), REPS (default 5),
# HAKMEM_ACE_FAST_INTERVAL_MS / HAKMEM_ACE_SLOW_INTERVAL_S are used for the ACE-on
# runs when set (otherwise 50 ms / 1 s so that both loops act in a run of a few
# seconds).  Any other HAKMEM_* you export applies to the hakmem runs of step 1.
set -u
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT" || exit 1
MODE="${MODE:-default}"
REPS="${REPS:-5}"
FAST="${HAKMEM_ACE_FAST_INTERVAL_MS:-50}"
SLOW="${HAKMEM_ACE_SLOW_INTERVAL_S:-1}"
DATE="$(date +%Y-%m-%d)"
OUT="docs/results/$DATE-fragmentation"
mkdir -p "$OUT"

if [ ! -x benchmarks/bin/fragment_stress ] || [ ! -x ./bench_fragment_stress_hakx ]; then
    echo "== building (make -C benchmarks all)" >&2
    make -s -C benchmarks all >&2 || make -s -C benchmarks workloads >&2 || exit 1
fi
echo "== fragmentation stress, mode $MODE; ACE-on runs use HAKMEM_ACE_FAST_INTERVAL_MS=$FAST HAKMEM_ACE_SLOW_INTERVAL_S=$SLOW"
if [ "$SLOW" -gt 2 ] 2>/dev/null; then
    echo "   note: a slow interval of ${SLOW}s is longer than this run; the slow loop (partial release, scavenge) will not act"
fi

if [ -x ./bench_fragment_stress_hakx ]; then
    echo "== 1. seed A/B: ./bench_fragment_stress_hakx (libhakmem.a)"
    HAKMEM_ACE_ENABLED=0 ./bench_fragment_stress_hakx "$MODE" > "$OUT/baseline.txt"; rc0=$?
    HAKMEM_ACE_ENABLED=1 HAKMEM_ACE_FAST_INTERVAL_MS="$FAST" HAKMEM_ACE_SLOW_INTERVAL_S="$SLOW" \
        ./bench_fragment_stress_hakx "$MODE" > "$OUT/ace_on.txt"; rc1=$?
    [ $rc0 -ne 0 ] && echo "   ACE off run FAILED (exit $rc0): HAKMEM_ACE_ENABLED=0 ./bench_fragment_stress_hakx $MODE"
    [ $rc1 -ne 0 ] && echo "   ACE on run FAILED (exit $rc1): HAKMEM_ACE_ENABLED=1 ./bench_fragment_stress_hakx $MODE"
    echo "   diff $OUT/baseline.txt $OUT/ace_on.txt"
    diff "$OUT/baseline.txt" "$OUT/ace_on.txt" | sed 's/^/   /'
else
    echo "== 1. skipped: ./bench_fragment_stress_hakx not built (build/libhakmem.a missing; run make)"
fi

echo "== 2. side by side (interleaved, $REPS repetitions)"
python3 benchmarks/scripts/run_bench.py --workloads fragment_stress --mode "$MODE" --reps "$REPS" \
    --ace-fast-ms "$FAST" --ace-slow-s "$SLOW" --stem "$DATE-fragmentation" "$@"
