#!/bin/bash
# Installs everything the build, `make test` and the benchmarks need on
# Debian 12.  Idempotent and quiet: does nothing when all packages are present.
# Runs as root (CI) or through sudo.
set -euo pipefail
PKGS="make gcc g++ clang libclang-rt-14-dev binutils procps
      python3 libpython3.11-testsuite sqlite3 git lua5.4 perl redis-server redis-tools
      valgrind gnuplot-nox libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
      cmake pkgconf man-db"
missing=()
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
# the Debian package starts a redis-server on port 6379; the tests start their own
if command -v systemctl > /dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl stop redis-server || true
fi
