#!/bin/bash
# Build the newest peers that Debian 12 does not ship -- mimalloc 3.x and
# snmalloc 0.7 -- from source trees you already have, each with its own CMake,
# Release, outside this repository.  Optional: neither CI, `make`, `make test`
# nor a plain `make bench` needs it (see docs/PEERS-BUILD.md).
#
# usage: scripts/build-peers-from-source.sh [--mimalloc DIR] [--snmalloc DIR]
#                                           [--out DIR] [--jobs N]
#   --mimalloc DIR  mimalloc 3.x source tree (default: newest /work/peers/src/mimalloc-v3*)
#   --snmalloc DIR  snmalloc source tree     (default: newest /work/peers/src/snmalloc-*)
#   --out DIR       output root (default /work/peers): DIR/build/<name>, DIR/lib/
#   --jobs N        make -jN (default: number of CPUs)
# Either source may be "none" to skip it.
#
# Results (copies of what CMake built):
#   DIR/lib/libmimalloc3.so           <- libmimalloc.so (MI_OVERRIDE=ON, the default)
#   DIR/lib/libsnmallocshim.so        <- snmalloc's LD_PRELOAD shim
#   DIR/lib/libsnmallocshim-checks.so <- the same with SNMALLOC_CHECK_CLIENT (hardened)
# and a last line EXTRA_PEERS="..." to pass to `make bench EXTRA_PEERS=...`.
set -eu

MI_SRC="" SN_SRC="" OUT=/work/peers JOBS="$(nproc 2>/dev/null || echo 2)"
while [ $# -gt 0 ]; do
    case "$1" in
        --mimalloc) MI_SRC="$2"; shift 2 ;;
        --snmalloc) SN_SRC="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "build-peers: unknown argument $1" >&2; exit 2 ;;
    esac
done
newest() { ls -d "$@" 2>/dev/null | sort -V | tail -1; }
[ -n "$MI_SRC" ] || MI_SRC="$(newest /work/peers/src/mimalloc-v3*)"
[ -n "$SN_SRC" ] || SN_SRC="$(newest /work/peers/src/snmalloc-*)"
command -v cmake >/dev/null || { echo "build-peers: cmake not installed" >&2; exit 1; }
mkdir -p "$OUT/build" "$OUT/lib"
OUT="$(cd "$OUT" && pwd)"
peers=""

describe() {  # where the source tree came from, for the log: its own git commit, or a
              # SOURCE file (e.g. "microsoft/mimalloc v3.4.3 <commit>") next to CMakeLists.txt
    if [ -e "$1/.git" ]; then git -C "$1" log -1 --format='%H %d' 2>/dev/null
    elif [ -f "$1/SOURCE" ]; then head -1 "$1/SOURCE"
    else echo "origin unknown: no .git, no SOURCE file"; fi
}

if [ -n "$MI_SRC" ] && [ "$MI_SRC" != none ]; then
    [ -f "$MI_SRC/CMakeLists.txt" ] || { echo "build-peers: $MI_SRC is not a mimalloc tree" >&2; exit 1; }
    B="$OUT/build/$(basename "$MI_SRC")"
    echo "build-peers: mimalloc from $MI_SRC ($(describe "$MI_SRC")) -> $B" >&2
    cmake -S "$MI_SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release \
        -DMI_BUILD_TESTS=OFF -DMI_BUILD_STATIC=OFF -DMI_BUILD_OBJECT=OFF -DMI_BUILD_SHARED=ON >&2
    cmake --build "$B" --target mimalloc -j "$JOBS" >&2
    so="$(ls "$B"/libmimalloc.so.* 2>/dev/null | sort -V | tail -1)"
    [ -n "$so" ] || so="$B/libmimalloc.so"
    cp -L "$so" "$OUT/lib/libmimalloc3.so"
    peers="$peers mimalloc3=$OUT/lib/libmimalloc3.so"
else
    echo "build-peers: no mimalloc source (fetch mimalloc 3.x into /work/peers/src/mimalloc-v3.X.Y or pass --mimalloc)" >&2
fi

if [ -n "$SN_SRC" ] && [ "$SN_SRC" != none ]; then
    [ -f "$SN_SRC/CMakeLists.txt" ] || { echo "build-peers: $SN_SRC is not a snmalloc tree" >&2; exit 1; }
    B="$OUT/build/$(basename "$SN_SRC")"
    echo "build-peers: snmalloc from $SN_SRC ($(describe "$SN_SRC")) -> $B" >&2
    cmake -S "$SN_SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DSNMALLOC_BUILD_TESTING=OFF >&2
    cmake --build "$B" --target snmallocshim snmallocshim-checks -j "$JOBS" >&2
    cp -L "$B/libsnmallocshim.so" "$OUT/lib/libsnmallocshim.so"
    cp -L "$B/libsnmallocshim-checks.so" "$OUT/lib/libsnmallocshim-checks.so"
    peers="$peers snmalloc=$OUT/lib/libsnmallocshim.so snmalloc-checks=$OUT/lib/libsnmallocshim-checks.so"
else
    echo "build-peers: no snmalloc source (fetch snmalloc 0.7.x into /work/peers/src/snmalloc-0.7.Z or pass --snmalloc)" >&2
fi

# Smoke check: each library must start a program under LD_PRELOAD.
for spec in $peers; do
    so="${spec#*=}"
    if [ "$(LD_PRELOAD="$so" /bin/echo ok 2>&1)" != ok ]; then
        echo "build-peers: $so does not start /bin/echo under LD_PRELOAD" >&2; exit 1
    fi
done
echo "EXTRA_PEERS=\"${peers# }\""
