#!/bin/bash
# Build the newest peers that Debian 12 does not ship -- mimalloc 3.x and
# snmalloc 0.7 -- and the hardened ones -- mimalloc secure, GrapheneOS
# hardened_malloc -- from source trees you already have, each with its own
# build system (CMake, Release; hardened_malloc's Makefile), outside this
# repository.  Optional: neither CI, `make`, `make test` nor a plain
# `make bench` needs it (see docs/PEERS-BUILD.md).
#
# usage: scripts/build-peers-from-source.sh [--mimalloc DIR] [--snmalloc DIR]
#            [--hardened DIR] [--mimalloc2 DIR] [--no-mimalloc-secure]
#            [--out DIR] [--jobs N]
#   --mimalloc DIR  mimalloc 3.x source tree (default: newest /work/peers/src/mimalloc-v3*)
#   --snmalloc DIR  snmalloc source tree     (default: newest /work/peers/src/snmalloc-*)
#   --hardened DIR  hardened_malloc source tree (default: newest /work/peers/src/hardened_malloc-*)
#   --mimalloc2 DIR mimalloc 2.x source tree, built secure only (default: none)
#   --no-mimalloc-secure  build mimalloc 3.x plain only (default: plain and MI_SECURE=ON)
#   --out DIR       output root (default /work/peers): DIR/build/<name>, DIR/lib/
#   --jobs N        make -jN (default: number of CPUs)
# Any source may be "none" to skip it.
#
# Results (copies of what was built):
#   DIR/lib/libmimalloc3.so           <- libmimalloc.so (MI_OVERRIDE=ON, the default)
#   DIR/lib/libsnmallocshim.so        <- snmalloc's LD_PRELOAD shim
#   DIR/lib/libsnmallocshim-checks.so <- the same with SNMALLOC_CHECK_CLIENT (hardened)
#   DIR/lib/libmimalloc3-secure.so    <- libmimalloc-secure.so (MI_SECURE=ON)
#   DIR/lib/libhardened_malloc.so     <- hardened_malloc, VARIANT=default
#   DIR/lib/libhardened_malloc-light.so <- hardened_malloc, VARIANT=light
#   DIR/lib/libmimalloc2-secure.so    <- with --mimalloc2: 2.x, MI_SECURE=ON
# and a last line EXTRA_PEERS="..." to pass to `make bench EXTRA_PEERS=...`.
set -eu

MI_SRC="" SN_SRC="" HM_SRC="" MI2_SRC=none MI_SECURE=1 OUT=/work/peers JOBS="$(nproc 2>/dev/null || echo 2)"
while [ $# -gt 0 ]; do
    case "$1" in
        --mimalloc) MI_SRC="$2"; shift 2 ;;
        --snmalloc) SN_SRC="$2"; shift 2 ;;
        --hardened) HM_SRC="$2"; shift 2 ;;
        --mimalloc2) MI2_SRC="$2"; shift 2 ;;
        --no-mimalloc-secure) MI_SECURE=0; shift ;;
        --out) OUT="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "build-peers: unknown argument $1" >&2; exit 2 ;;
    esac
done
newest() { ls -d "$@" 2>/dev/null | sort -V | tail -1; }
[ -n "$MI_SRC" ] || MI_SRC="$(newest /work/peers/src/mimalloc-v3*)"
[ -n "$SN_SRC" ] || SN_SRC="$(newest /work/peers/src/snmalloc-*)"
[ -n "$HM_SRC" ] || HM_SRC="$(newest /work/peers/src/hardened_malloc-*)"
command -v cmake >/dev/null || { echo "build-peers: cmake not installed" >&2; exit 1; }
mkdir -p "$OUT/build" "$OUT/lib"
OUT="$(cd "$OUT" && pwd)"
peers="" hardened=""  # hardened: the new columns, printed after the first three

describe() {  # where the source tree came from, for the log: its own git commit, or a
              # SOURCE file (e.g. "repository github:microsoft/mimalloc", "tag v3.4.3", "commit <sha>")
    if [ -e "$1/.git" ]; then git -C "$1" log -1 --format='%H %d' 2>/dev/null
    elif [ -f "$1/SOURCE" ]; then paste -sd' ' "$1/SOURCE"
    else echo "origin unknown: no .git, no SOURCE file"; fi
}

build_mimalloc() {  # SRC BUILD_DIR MI_SECURE LIBNAME DEST: mimalloc's CMake, Release, shared only
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DMI_BUILD_TESTS=OFF \
        -DMI_BUILD_STATIC=OFF -DMI_BUILD_OBJECT=OFF -DMI_BUILD_SHARED=ON -DMI_SECURE="$3" >&2
    cmake --build "$2" --target mimalloc -j "$JOBS" >&2
    local so
    so="$(ls "$2/$4".* 2>/dev/null | sort -V | tail -1)"
    [ -n "$so" ] || so="$2/$4"
    cp -L "$so" "$5"
}

if [ -n "$MI_SRC" ] && [ "$MI_SRC" != none ]; then
    [ -f "$MI_SRC/CMakeLists.txt" ] || { echo "build-peers: $MI_SRC is not a mimalloc tree" >&2; exit 1; }
    B="$OUT/build/$(basename "$MI_SRC")"
    echo "build-peers: mimalloc from $MI_SRC ($(describe "$MI_SRC")) -> $B" >&2
    build_mimalloc "$MI_SRC" "$B" OFF libmimalloc.so "$OUT/lib/libmimalloc3.so"
    peers="$peers mimalloc3=$OUT/lib/libmimalloc3.so"
    if [ "$MI_SECURE" = 1 ]; then
        echo "build-peers: mimalloc secure (MI_SECURE=ON) -> $B-secure" >&2
        build_mimalloc "$MI_SRC" "$B-secure" ON libmimalloc-secure.so "$OUT/lib/libmimalloc3-secure.so"
        hardened="$hardened mimalloc3-secure=$OUT/lib/libmimalloc3-secure.so"
    fi
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

if [ -n "$HM_SRC" ] && [ "$HM_SRC" != none ]; then
    [ -f "$HM_SRC/h_malloc.c" ] || { echo "build-peers: $HM_SRC is not a hardened_malloc tree" >&2; exit 1; }
    command -v make >/dev/null || { echo "build-peers: make not installed" >&2; exit 1; }
    B="$OUT/build/$(basename "$HM_SRC")"
    echo "build-peers: hardened_malloc from $HM_SRC ($(describe "$HM_SRC")) -> $B/out, $B/out-light" >&2
    # Its own Makefile and configs (config/default.mk, config/light.mk); OUT= keeps the
    # objects out of the source tree.  Tags from 2026052400 on need -std=c23 (gcc >= 14, clang >= 18).
    make -C "$HM_SRC" -j "$JOBS" OUT="$B/out" >&2
    make -C "$HM_SRC" -j "$JOBS" VARIANT=light OUT="$B/out-light" >&2
    cp -L "$B/out/libhardened_malloc.so" "$OUT/lib/libhardened_malloc.so"
    cp -L "$B/out-light/libhardened_malloc-light.so" "$OUT/lib/libhardened_malloc-light.so"
    hardened="$hardened hardened=$OUT/lib/libhardened_malloc.so hardened-light=$OUT/lib/libhardened_malloc-light.so"
else
    echo "build-peers: no hardened_malloc source (export a GrapheneOS/hardened_malloc tag into /work/peers/src/hardened_malloc-TAG or pass --hardened)" >&2
fi

if [ -n "$MI2_SRC" ] && [ "$MI2_SRC" != none ]; then
    [ -f "$MI2_SRC/CMakeLists.txt" ] || { echo "build-peers: $MI2_SRC is not a mimalloc tree" >&2; exit 1; }
    B="$OUT/build/$(basename "$MI2_SRC")-secure"
    echo "build-peers: mimalloc 2.x secure from $MI2_SRC ($(describe "$MI2_SRC")) -> $B" >&2
    build_mimalloc "$MI2_SRC" "$B" ON libmimalloc-secure.so "$OUT/lib/libmimalloc2-secure.so"
    hardened="$hardened mimalloc2-secure=$OUT/lib/libmimalloc2-secure.so"
fi
peers="$peers$hardened"

# Smoke check: each library must start a program under LD_PRELOAD.
for spec in $peers; do
    so="${spec#*=}"
    if [ "$(LD_PRELOAD="$so" /bin/echo ok 2>&1)" != ok ]; then
        echo "build-peers: $so does not start /bin/echo under LD_PRELOAD" >&2; exit 1
    fi
done
echo "EXTRA_PEERS=\"${peers# }\""
