# Shared by tests/launcher.sh and tests/install.sh (sourced): ROOT, a
# temporary directory TMP removed at exit, fail, header_version.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# MAJOR.MINOR.PATCH from a hakmem.h
header_version() {
    awk '$2 ~ /^HAKMEM_VERSION_(MAJOR|MINOR|PATCH)$/ { v = v (v == "" ? "" : ".") $3 } END { print v }' "$1"
}
