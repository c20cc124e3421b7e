#!/bin/bash
# Interleaved runs of mimalloc-bench programs (daanx/mimalloc-bench @ ce5784f, built by
# build.sh beside this script) under several allocators via LD_PRELOAD.
#
# usage: run-mbench.sh N OUT.csv
#   N rounds; in round r, for each program p, every allocator runs once, in an order
#   rotated by (r + p) so that no column always runs first.
#
# Per run (CSV row): round, program, allocator, wall_s, user_s, sys_s, maxrss_kb, minflt,
#   rc (from /usr/bin/time -f "%e,%U,%S,%M,%R,%x"), then
#   time_s   : the time figure used for comparison (lower is better), as mimalloc-bench's
#              bench.sh takes it: the time the program reports when it reports one
#              (larson "relative time", xmalloc-test "rtime", alloc-test "in N ms"),
#              bench.sh's derived relative time for rate-only programs
#              (rptest: 2e6 / ops-per-CPU-second, glibc-thread: 1e9 / iterations), else wall;
#   time_src : prog | derived | wall;
#   rate, rate_unit : the rate the program prints, if it prints one (else empty).
# Program stdout/stderr per run go to OUT.logs/; run metadata (library sha256s, args,
# host) to OUT.meta.
#
# Environment knobs (all optional):
#   PROGS="larsonN cfrac"   subset / order of programs (default: all below except malloc-large)
#   ALLOCS="hakmem glibc"   subset / order of allocators (default: all below)
#   MB_THREADS=2            the N in larsonN, xmalloc-testN, rptestN, ... (default 2 = nproc here)
#   TMO=120                 per-run timeout in seconds (killed runs get rc 124/137)
#   SNAPSHOT=1              copy hakmem libraries to a private dir at start so that a rebuild
#                           of build/ during the run does not mix versions (0: off)
#   PEERS=/work/peers       where the programs (bin/), sources (src/) and peers built from
#                           source (lib/) are; HAKMEM_OLD=path adds the hakmem-old column
set -u
N=${1:-5}; OUT=${2:-/tmp/mbench.csv}
NT=${MB_THREADS:-2}
TMO=${TMO:-120}
PEERS=${PEERS:-/work/peers}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$PEERS/bin
S=$PEERS/src/mimalloc-bench/bench
L=/usr/lib/x86_64-linux-gnu

# ---- allocators (columns) ----
declare -A SO=(
  [hakmem]=$ROOT/build/libhakmem.so
  [hakmem-old]=${HAKMEM_OLD:-}
  [glibc]=
  [mimalloc]=$L/libmimalloc.so.2
  [jemalloc]=$L/libjemalloc.so.2
  [tcmalloc]=$L/libtcmalloc_minimal.so.4
  [mimalloc3]=$PEERS/lib/libmimalloc3.so
  [snmalloc]=$PEERS/lib/libsnmallocshim.so
)
ALL_ALLOCS="hakmem hakmem-old glibc mimalloc jemalloc tcmalloc mimalloc3 snmalloc"

# ---- programs: name -> command line (exactly as bench.sh @ ce5784f, with procs=$NT) ----
declare -A CMD=(
  [cfrac]="$B/cfrac 17545186520507317056371138836327483792789528"
  [espresso]="$B/espresso $S/espresso/largest.espresso"
  [barnes]="$B/barnes"
  [larsonN]="$B/larson 5 8 1000 5000 100 4141 $NT"
  [larsonN-sized]="$B/larson-sized 5 8 1000 5000 100 4141 $NT"
  [rptestN]="$B/rptest $NT 0 1 2 500 1000 100 8 16000"
  [alloc-test1]="$B/alloc-test 1"
  [alloc-testN]="$B/alloc-test $NT"
  [xmalloc-testN]="$B/xmalloc-test -w $NT -t 5 -s 64"
  [glibc-simple]="$B/glibc-simple"
  [glibc-thread]="$B/glibc-thread $NT"
  [mstressN]="$B/mstress $NT 50 25"
  [cache-thrash1]="$B/cache-thrash 1 1000 1 2000000 $NT"
  [cache-thrashN]="$B/cache-thrash $NT 1000 1 2000000 $NT"
  [cache-scratch1]="$B/cache-scratch 1 1000 1 2000000 $NT"
  [cache-scratchN]="$B/cache-scratch $NT 1000 1 2000000 $NT"
  [mleak10]="$B/mleak 5"
  [mleak100]="$B/mleak 50"
  [malloc-large]="$B/malloc-large"
)
declare -A STDIN=( [barnes]=$S/barnes/input )
ALL_PROGS="cfrac espresso barnes larsonN larsonN-sized rptestN alloc-test1 alloc-testN xmalloc-testN glibc-simple glibc-thread mstressN cache-thrash1 cache-thrashN cache-scratch1 cache-scratchN mleak10 mleak100"

read -r -a PLIST <<< "${PROGS:-$ALL_PROGS}"
ALIST=()
for a in ${ALLOCS:-$ALL_ALLOCS}; do
  if [ -z "${SO[$a]+x}" ]; then echo "note: unknown allocator '$a', skipped" >&2; continue; fi
  if [ "$a" = hakmem-old ] && [ -z "${SO[$a]}" ]; then echo "note: hakmem-old: HAKMEM_OLD not set, column skipped" >&2; continue; fi
  if [ -n "${SO[$a]}" ] && [ ! -f "${SO[$a]}" ]; then echo "note: $a: ${SO[$a]} missing, column skipped" >&2; continue; fi
  ALIST+=("$a")
done
for p in "${PLIST[@]}"; do
  if [ -z "${CMD[$p]+x}" ]; then echo "error: unknown program '$p' (known: ${!CMD[*]})" >&2; exit 2; fi
  b=${CMD[$p]%% *}; [ -x "$b" ] || { echo "error: $b not built (run benchmarks/mimalloc-bench/build.sh)" >&2; exit 2; }
done
[ ${#ALIST[@]} -gt 0 ] || { echo "error: no allocators" >&2; exit 2; }

WORK=$(mktemp -d /tmp/mbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
declare -A ORIG; for a in "${ALIST[@]}"; do ORIG[$a]=${SO[$a]}; done
if [ "${SNAPSHOT:-1}" = 1 ]; then
  for a in "${ALIST[@]}"; do
    case $a in hakmem*) cp "${SO[$a]}" "$WORK/lib-$a.so" && SO[$a]=$WORK/lib-$a.so ;; esac
  done
fi

LOGS=${OUT%.csv}.logs; mkdir -p "$LOGS"
{
  echo "date: $(date -Is)"; echo "host: $(uname -a)"; echo "nproc: $(nproc)  threads(N): $NT  rounds: $N  timeout: $TMO"
  echo "loadavg at start: $(cat /proc/loadavg)"
  echo "HAKMEM_ACE_ENABLED=0 for hakmem* columns; snapshot=${SNAPSHOT:-1}"
  for a in "${ALIST[@]}"; do
    if [ -n "${SO[$a]}" ]; then echo "alloc $a: ${ORIG[$a]}  sha256 $(sha256sum < "${SO[$a]}" | cut -c1-16)"; else echo "alloc $a: (no preload)"; fi
  done
  for p in "${PLIST[@]}"; do echo "prog $p: ${CMD[$p]}${STDIN[$p]:+ < ${STDIN[$p]}}"; done
} > "${OUT%.csv}.meta"

# figures: prints "time_s,time_src,rate,rate_unit" from the program's stdout ($2) and wall ($3)
figures() {
  local p=$1 f=$2 wall=$3 v t
  case $p in
    larson*)
      v=$(sed -n 's/.*Throughput = *\([0-9.]*\) operations per second.*/\1/p' "$f" | tail -1)
      t=$(sed -n 's/.*relative time: *\([0-9.]*\)s.*/\1/p' "$f" | tail -1)
      [ -n "$t" ] && echo "$t,prog,$v,ops/s" && return ;;
    xmalloc*)
      t=$(sed -n 's/^rtime: *\([0-9.]*\),.*/\1/p' "$f" | tail -1)
      v=$(sed -n 's/^rtime:.*free\/sec: *\([0-9.]*\) M.*/\1/p' "$f" | tail -1)
      [ -n "$t" ] && echo "$t,prog,$v,Mfree/s" && return ;;
    rptest*)
      v=$(sed -n 's/.*\.\.\.\([0-9]*\) memory ops.*/\1/p' "$f" | tail -1)
      [ -n "$v" ] && [ "$v" != 0 ] && echo "$(awk -v o="$v" 'BEGIN{printf "%.4f", 2000000/o}'),derived,$v,memops/cpu-s" && return ;;
    glibc-thread)
      v=$(sed -n 's/^\([0-9]*\) iterations.*/\1/p' "$f" | tail -1)
      [ -n "$v" ] && [ "$v" != 0 ] && echo "$(awk -v o="$v" 'BEGIN{printf "%.4f", 1e9/o}'),derived,$v,iter/2s" && return ;;
    alloc-test*)
      t=$(sed -n 's/.* operations in \([0-9]*\) ms .*/\1/p' "$f" | tail -1)
      [ -n "$t" ] && echo "$(awk -v m="$t" 'BEGIN{printf "%.3f", m/1000}'),prog,," && return ;;
    *) echo "$wall,wall,," && return ;;
  esac
  echo ",none,,"   # expected figure not found (crash / changed output)
}

echo "round,program,allocator,wall_s,user_s,sys_s,maxrss_kb,minflt,rc,time_s,time_src,rate,rate_unit" > "$OUT"
n=${#ALIST[@]}
start=$(date +%s)
for ((r = 0; r < N; r++)); do
  for ((pi = 0; pi < ${#PLIST[@]}; pi++)); do
    p=${PLIST[$pi]}
    for ((i = 0; i < n; i++)); do
      a=${ALIST[$(((i + r + pi) % n))]}
      tf=$WORK/time; lo=$LOGS/r$r-$p-$a.out
      rm -f "$tf"; rm -rf "$WORK/cwd"; mkdir "$WORK/cwd"    # rptest writes a result file into cwd
      envs=(); [ -n "${SO[$a]}" ] && envs+=("LD_PRELOAD=${SO[$a]}")
      case $a in hakmem*) envs+=(HAKMEM_ACE_ENABLED=0) ;; esac
      ( cd "$WORK/cwd" && exec timeout -k 5 "$TMO" /usr/bin/time -o "$tf" -f "%e,%U,%S,%M,%R,%x" \
          env "${envs[@]}" ${CMD[$p]} < "${STDIN[$p]:-/dev/null}" > "$lo" 2>&1 )
      trc=$?
      tl=$(tail -1 "$tf" 2>/dev/null)
      if ! [[ $tl =~ ^[0-9.]+,[0-9.]+,[0-9.]+,[0-9]+,[0-9]+,-?[0-9]+$ ]]; then
        tl=",,,,,$trc"     # killed by timeout, or time could not report
      fi
      # a signal shows as %x=0 in time's line but as 128+sig in time's own status: trust the latter
      if [ "$trc" != 0 ]; then tl="${tl%,*},$trc"; fi
      rc=${tl##*,}; wall=${tl%%,*}
      if [ "$rc" = 0 ]; then fig=$(figures "$p" "$lo" "$wall"); else fig=",none,,"; fi
      echo "$r,$p,$a,$tl,$fig" >> "$OUT"
      [ "$rc" = 0 ] || echo "warn: round $r $p $a rc=$rc (log $lo)" >&2
    done
  done
  echo "round $r done ($(( $(date +%s) - start )) s elapsed)" >&2
done
echo "loadavg at end: $(cat /proc/loadavg)  total: $(( $(date +%s) - start )) s" >> "${OUT%.csv}.meta"
