#!/usr/bin/env bash
# paystat's benchmark (bench/README.md): paystat against the raw ZeroMQ
# ceiling of its own topology, one table, written to bench/RESULTS.md.
#   bench/run.sh            the full benchmark (under 10 minutes)
#   bench/run.sh --smoke    tiny runs (seconds): checks that the harness works
# Binaries come from $PAYSTAT_BIN_DIR when set; otherwise build-bench/ is
# configured (default build type, RelWithDebInfo: -O2 -g) and built first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PAYSTAT_BIN_DIR:-}" ]; then
    export PAYSTAT_BIN_DIR="$root/build-bench"
    cmake -S "$root" -B "$PAYSTAT_BIN_DIR" >/dev/null
    cmake --build "$PAYSTAT_BIN_DIR" -j "$(nproc)" >/dev/null
fi
exec /usr/bin/python3 "$root/bench/bench.py" --build "$PAYSTAT_BIN_DIR" "$@"
