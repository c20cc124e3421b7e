#!/bin/bash
# make install / uninstall into temporary prefixes only, one check per argument:
#   exports    libhakmem.so exports every public name (the C++ operators
#              among them), and what the objects make visible and nothing
#              else; libhakmem.a has the operators, libhakmem_api.a none
#   layout     exactly the expected files, soname and links, one version
#              everywhere; uninstall leaves the prefix as it was
#   pkgconfig  C and C++ programs built with hakmem.pc (libhakmem.so mapped,
#              malloc counted by hakmem) and hakmem-api.pc (the hak_ API only)
#   cmake      C and C++ programs built with find_package(hakmem):
#              hakmem::hakmem and hakmem::hakmem-static
#   destdir    a staged DESTDIR install: nothing outside the stage, pkg-config
#              through the stage, the CMake package moved elsewhere, uninstall
#   launcher   the installed bin/hakmem (tests/launcher.sh against it)
#   man        hakmem(1) and hakmem(3) found by man and free of warnings;
#              hakmem(3) lists every option
set -u
. "$(dirname "${BASH_SOURCE[0]}")/pkg_common.sh"
MAKE=${MAKE:-make}
CC=${CC:-gcc}
CXX=${CXX:-g++}
SRC=$HERE/install
V=$(header_version "$ROOT/include/hakmem.h")
MAJOR=${V%%.*}
unset MAKEFLAGS MFLAGS   # a make of our own, not a job of the caller's

inst() { $MAKE -s --no-print-directory -C "$ROOT" install "$@" > "$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; fail "make install $*"; }; }
uninst() { $MAKE -s --no-print-directory -C "$ROOT" uninstall "$@" > "$TMP/make.log" 2>&1 || { cat "$TMP/make.log"; fail "make uninstall $*"; }; }
# every path under a directory, relative to it (directories marked with a /)
tree() { (cd "$1" && find . -mindepth 1 \( -type d -printf '%P/\n' \) -o -printf '%P\n' | LC_ALL=C sort); }
run() { "$@" > "$TMP/run.log" 2>&1 || { cat "$TMP/run.log"; fail "$* (exit $?)"; }; cat "$TMP/run.log"; }

# What make install must put under PREFIX, and nothing more.
EXPECTED=$(LC_ALL=C sort <<LIST
bin/hakmem
include/hakmem.h
lib/cmake/hakmem/hakmem-config-version.cmake
lib/cmake/hakmem/hakmem-config.cmake
lib/libhakmem.a
lib/libhakmem.so
lib/libhakmem.so.$MAJOR
lib/libhakmem.so.$V
lib/libhakmem-secure.so
lib/libhakmem-secure.so.$MAJOR
lib/libhakmem-secure.so.$V
lib/libhakmem_api.a
lib/pkgconfig/hakmem-api.pc
lib/pkgconfig/hakmem-secure.pc
lib/pkgconfig/hakmem.pc
share/man/man1/hakmem.1
share/man/man3/hakmem.3
LIST
)

check_exports() {
    local so=$ROOT/build/libhakmem.so have want objs
    have=$(nm -D --defined-only "$so" | awk '{ print $3 }' | LC_ALL=C sort)
    # what the objects make visible is what is exported: the version script
    # hides nothing (a new EXPORT needs its name in core/libhakmem.map) and
    # nothing else leaks in
    objs=$(for o in "$ROOT"/build/obj/*.o; do [ "$o" = "$ROOT/build/obj/hakmem_core.o" ] ||
               readelf -sW "$o" | awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" { print $8 }'; done |
           LC_ALL=C sort -u)
    diff <(echo "$objs") <(echo "$have") || fail "exports differ from the objects' visible names (< objects, > $so)"
    # among them every function the header declares, the malloc family, glibc's names
    # and the 20 C++ operators
    want=$( { sed -n 's/^HAK_API[^(]*[ *]\(hak_[a-z_0-9]*\)(.*/\1/p' "$ROOT/include/hakmem.h"
              printf '%s\n' malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign \
                  valloc pvalloc malloc_usable_size free_sized free_aligned_sized cfree __libc_malloc \
                  __libc_free __libc_calloc __libc_realloc __libc_memalign __libc_valloc __libc_pvalloc \
                  __posix_memalign _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t \
                  _ZnamSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t \
                  _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvSt11align_val_t \
                  _ZdaPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t \
                  _ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t; } | LC_ALL=C sort)
    echo "$want" | grep -qx hak_version || fail "no hak_ names read from hakmem.h"
    diff <(echo "$want") <(echo "$have") | grep '^<' && fail "public names missing from $so"
    readelf -d "$so" | grep -qF "Library soname: [libhakmem.so.$MAJOR]" || fail "soname of $so is not libhakmem.so.$MAJOR"
    # the operators: in libhakmem.a (one member), not in libhakmem_api.a (the hak_ API only)
    [ "$(nm --defined-only "$ROOT/build/libhakmem.a" | grep -cE ' T _Z(nw|na|dl|da)')" = 20 ] ||
        fail "libhakmem.a does not define the 20 C++ operators"
    ! nm --defined-only "$ROOT/build/libhakmem_api.a" | grep -E ' [TW] _Z(nw|na|dl|da)' || fail "libhakmem_api.a defines C++ operators"
    echo "$(echo "$have" | wc -l) exports, soname libhakmem.so.$MAJOR"
}

check_layout() {
    local P=$TMP/prefix before
    mkdir -p "$P/lib/pkgconfig" "$P/bin" "$P/share/man/man1"
    touch "$P/lib/libother.so.1" "$P/lib/pkgconfig/other.pc" "$P/bin/other" "$P/share/man/man1/other.1"
    before=$(tree "$P")
    inst PREFIX="$P"
    diff <({ echo "$EXPECTED"; echo "$before" | grep -v '/$'; } | LC_ALL=C sort) <(tree "$P" | grep -v '/$') ||
        fail "installed files differ from the expected ones (<: expected, >: installed)"
    [ -f "$P/lib/libhakmem.so.$V" ] && [ ! -L "$P/lib/libhakmem.so.$V" ] || fail "libhakmem.so.$V is not a file"
    [ "$(readlink "$P/lib/libhakmem.so.$MAJOR")" = "libhakmem.so.$V" ] || fail "libhakmem.so.$MAJOR does not link to libhakmem.so.$V"
    [ "$(readlink "$P/lib/libhakmem.so")" = "libhakmem.so.$MAJOR" ] || fail "libhakmem.so does not link to libhakmem.so.$MAJOR"
    readelf -d "$P/lib/libhakmem.so.$V" | grep -qF "Library soname: [libhakmem.so.$MAJOR]" || fail "soname"
    [ "$(readlink "$P/lib/libhakmem-secure.so")" = "libhakmem-secure.so.$MAJOR" ] &&
        [ "$(readlink "$P/lib/libhakmem-secure.so.$MAJOR")" = "libhakmem-secure.so.$V" ] || fail "secure library links"
    readelf -d "$P/lib/libhakmem-secure.so.$V" | grep -qF "Library soname: [libhakmem-secure.so.$MAJOR]" ||
        fail "secure soname"
    # one version everywhere: header, file name, pkg-config, CMake, launcher, man pages
    [ "$(header_version "$P/include/hakmem.h")" = "$V" ] || fail "installed header version"
    [ "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --modversion hakmem)" = "$V" ] || fail "hakmem.pc version"
    [ "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --modversion hakmem-api)" = "$V" ] || fail "hakmem-api.pc version"
    [ "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --modversion hakmem-secure)" = "$V" ] || fail "hakmem-secure.pc version"
    grep -qx "set(PACKAGE_VERSION \"$V\")" "$P/lib/cmake/hakmem/hakmem-config-version.cmake" || fail "CMake version"
    [ "$("$P/bin/hakmem" --version)" = "hakmem $V" ] || fail "hakmem --version"
    grep -q "^\.TH HAKMEM 1 .*\"hakmem $V\"" "$P/share/man/man1/hakmem.1" || fail "hakmem(1) version"
    grep -q "^\.TH HAKMEM 3 .*\"hakmem $V\"" "$P/share/man/man3/hakmem.3" || fail "hakmem(3) version"
    uninst PREFIX="$P"
    # what was there stays; install's new directories may stay, empty, but not hakmem's own
    diff <(echo "$before" | grep -v '/$') <(tree "$P" | grep -v '/$') || fail "uninstall left or removed files"
    tree "$P" | grep hakmem && fail "uninstall left hakmem's directories"
    echo "installed $(echo "$EXPECTED" | wc -l) files of version $V; uninstall restored the prefix"
}

# consumer programs built with pkg-config against the install at $1 (searched
# through PKG_CONFIG_PATH/SYSROOT as set by the caller); $2: where the
# library is at run time
build_pkgconfig() {
    local lib=$2 real
    real=$(readlink -f "$lib/libhakmem.so.$MAJOR")
    $CC -O2 -Wall -o "$TMP/c_shared" "$SRC/consumer.c" $(pkg-config --cflags --libs hakmem) -Wl,-rpath,"$lib" || fail "cc with hakmem.pc"
    $CXX -O2 -Wall -o "$TMP/cxx_shared" "$SRC/consumer.cpp" $(pkg-config --cflags --libs hakmem) -Wl,-rpath,"$lib" || fail "c++ with hakmem.pc"
    $CC -O2 -Wall -o "$TMP/c_api" "$SRC/consumer.c" $(pkg-config --cflags --libs hakmem-api) || fail "cc with hakmem-api.pc"
    $CC -O2 -Wall -o "$TMP/c_secure" "$SRC/consumer.c" $(pkg-config --cflags --libs hakmem-secure) -Wl,-rpath,"$lib" ||
        fail "cc with hakmem-secure.pc"
    readelf -d "$TMP/c_secure" | grep -qF "Shared library: [libhakmem-secure.so.$MAJOR]" ||
        fail "the program does not need libhakmem-secure.so.$MAJOR"
    run "$TMP/c_secure" shared "$(readlink -f "$lib/libhakmem-secure.so.$MAJOR")"
    readelf -d "$TMP/c_shared" | grep -qF "Shared library: [libhakmem.so.$MAJOR]" || fail "the program does not need libhakmem.so.$MAJOR"
    run "$TMP/c_shared" shared "$real"
    run "$TMP/cxx_shared" shared "$real"
    run "$TMP/c_api" api
}

check_pkgconfig() {
    local P=$TMP/prefix
    inst PREFIX="$P"
    PKG_CONFIG_PATH=$P/lib/pkgconfig build_pkgconfig "$P" "$P/lib"
    uninst PREFIX="$P"
}

# CMake consumers against the package under prefix $1
build_cmake() {
    local P=$1 B=$TMP/cmake-build real
    real=$(readlink -f "$P/lib/libhakmem.so.$MAJOR")
    rm -rf "$B"
    cmake -S "$SRC" -B "$B" -DCMAKE_PREFIX_PATH="$P" -DHAKMEM_WANT="${V%.*}" > "$TMP/cmake.log" 2>&1 ||
        { cat "$TMP/cmake.log"; fail "cmake configure"; }
    cmake --build "$B" > "$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log"; fail "cmake build"; }
    run "$B/consumer_shared" shared "$real"
    run "$B/consumer_cxx_shared" shared "$real"
    run "$B/consumer_static" static
    run "$B/consumer_cxx_static" static
    run "$B/consumer_secure" shared "$(readlink -f "$P/lib/libhakmem-secure.so.$MAJOR")"
    # a newer major version than installed is refused
    ! cmake -S "$SRC" -B "$B.new" -DCMAKE_PREFIX_PATH="$P" -DHAKMEM_WANT="$((MAJOR + 1)).0" > "$TMP/cmake.log" 2>&1 ||
        fail "find_package(hakmem $((MAJOR + 1)).0) accepted version $V"
}

check_cmake() {
    local P=$TMP/prefix
    inst PREFIX="$P"
    build_cmake "$P"
    uninst PREFIX="$P"
}

check_destdir() {
    local S=$TMP/stage P=$TMP/final   # the final prefix: never created
    [ ! -e "$P" ] || fail "$P exists"
    inst DESTDIR="$S" PREFIX="$P"
    [ ! -e "$P" ] || fail "a DESTDIR install wrote to $P"
    diff <(echo "$EXPECTED") <(tree "$S$P" | grep -v '/$') || fail "staged files differ from the expected ones"
    [ "$(tree "$S" | grep -v '/$' | grep -vc "^${P#/}/")" = 0 ] || fail "files outside $S$P"
    grep -qx "prefix=$P" "$S$P/lib/pkgconfig/hakmem.pc" || fail "hakmem.pc does not name the final prefix $P"
    grep -q "^lib='$P/lib/libhakmem.so.$MAJOR'$" "$S$P/bin/hakmem" || fail "bin/hakmem does not preload $P/lib/libhakmem.so.$MAJOR"
    # the staged launcher works and says its library is not in place yet
    LAUNCHER=$S$P/bin/hakmem LAUNCHER_LIB=$P/lib/libhakmem.so.$MAJOR LAUNCHER_SECLIB=$P/lib/libhakmem-secure.so.$MAJOR bash "$HERE/launcher.sh" version missing_lib ||
        fail "staged launcher"
    PKG_CONFIG_PATH=$S$P/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$S build_pkgconfig "$S$P" "$S$P/lib"
    # relocatable: the CMake package works from anywhere
    cp -a "$S$P" "$TMP/moved"
    build_cmake "$TMP/moved"
    uninst DESTDIR="$S" PREFIX="$P"
    [ -z "$(tree "$S" | grep -v '/$')" ] || { tree "$S"; fail "files left in the stage after uninstall"; }
}

check_launcher() {
    local P=$TMP/prefix
    inst PREFIX="$P"
    LAUNCHER=$P/bin/hakmem LAUNCHER_LIB=$P/lib/libhakmem.so.$MAJOR LAUNCHER_SECLIB=$P/lib/libhakmem-secure.so.$MAJOR bash "$HERE/launcher.sh" env status preload errors version ||
        fail "installed launcher"
    uninst PREFIX="$P"
}

check_man() {
    local P=$TMP/prefix m name out
    command -v man > /dev/null || fail "man missing (scripts/install-test-deps.sh)"
    inst PREFIX="$P"
    for m in 1 3; do
        [ "$(MANPATH=$P/share/man man -w "$m" hakmem)" = "$P/share/man/man$m/hakmem.$m" ] || fail "man -w $m hakmem"
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$P/share/man/man$m/hakmem.$m" 2>&1 > "$TMP/man$m.txt")
        [ -z "$out" ] || { echo "$out"; fail "warnings from hakmem($m)"; }
        grep -q '^SEE ALSO' "$TMP/man$m.txt" || fail "hakmem($m) does not render"
    done
    for name in $(env -i "$ROOT/build/gen_options" names); do
        grep -q "^ *$name\$" "$TMP/man3.txt" || fail "hakmem(3) does not describe $name"
    done
    grep -q 'hakmem: free(): double free of' "$TMP/man3.txt" || fail "hakmem(3) lacks the bad-input messages"
    uninst PREFIX="$P"
}

[ $# -gt 0 ] || set -- exports layout pkgconfig cmake destdir launcher man
for c in "$@"; do
    "check_$c"
    echo "ok $c"
done
