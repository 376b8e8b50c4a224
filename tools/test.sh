#!/usr/bin/env bash
# Quick start, command 2: build paystat and run the whole test suite twice,
# once as shipped and once under AddressSanitizer + UndefinedBehaviorSanitizer.
#   tools/test.sh           both runs
#   tools/test.sh --quick   the normal build only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/tools/setup.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

if [ "${1:-}" != "--quick" ]; then
    "$root/tools/setup.sh" "$root/build-asan" -DPAYSTAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"
fi
