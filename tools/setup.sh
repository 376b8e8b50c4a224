#!/usr/bin/env bash
# Installs what paystat needs from Debian 12 (only what is missing) and
# builds it. Used by tools/demo.sh and tools/test.sh; safe to run again.
#   tools/setup.sh [BUILD_DIR] [extra cmake arguments...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true

packages=(build-essential cmake pkg-config libzmq3-dev libmsgpack-dev liblmdb-dev libcsv-dev
          libjansson-dev libcmocka-dev libmicrohttpd-dev python3 python3-zmq python3-msgpack python3-pytest
          clang libclang-rt-14-dev valgrind)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j "$(nproc)" -- --no-print-directory >/dev/null
echo "setup: built in $build" >&2
