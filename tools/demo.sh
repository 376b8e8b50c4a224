#!/usr/bin/env bash
# Quick start, command 1: build paystat, start ingest, compute and publish on
# local defaults, load the bundled dataset and show the indicators.
# Extra arguments go to `paystat demo` (see `paystat demo --help`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" "$root/build"
exec "$root/build/tools/paystat" demo "$@"
