#!/bin/sh
# Install the allocators hakmem is compared with, plus the tools the benchmark
# suite uses (gnuplot for the charts, valgrind for scripts/callgrind_pair.sh).
# Idempotent: packages already present are left alone.  Debian/Ubuntu (apt-get).
set -e
PKGS="libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 gnuplot-nox valgrind python3"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-peers: all present ($PKGS)"
    exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install-peers: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
