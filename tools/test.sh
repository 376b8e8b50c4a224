#!/usr/bin/env bash
# Quick start, command 2: build paystat and run the whole test suite twice,
# once as shipped and once under AddressSanitizer + UndefinedBehaviorSanitizer,
# plus Release builds with gcc and clang (built, not run), the dashboard in
# headless Chromium, one integration flow under valgrind memcheck and every
# fuzz target for a bounded time ($PAYSTAT_FUZZ_SECONDS each, default 20).
#   tools/test.sh           all of it
#   tools/test.sh --quick   the normal build's test suite only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

"$root/tools/setup.sh" "$root/build"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"
# The dashboard in a real headless Chromium (installs chromium and playwright-core if missing).
"$root/tests/browser/run.sh" "$root/build"

if [ "${1:-}" != "--quick" ]; then
    "$root/tools/setup.sh" "$root/build-asan" -DPAYSTAT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"
    # Release with gcc and with clang: built (warnings are errors), not run again.
    "$root/tools/setup.sh" "$root/build-release" -DCMAKE_BUILD_TYPE=Release
    CC=clang "$root/tools/setup.sh" "$root/build-clang" -DCMAKE_BUILD_TYPE=Release
    "$root/tests/valgrind/run.sh" "$root/build"
    "$root/tests/fuzz/run.sh"
    # The image and the services in it on a real Docker engine. 77: dockerd
    # cannot run here, the test is skipped, and says so; any other failure fails.
    docker_out=$(mktemp)
    docker_status=0
    "$root/tests/docker/run.sh" "$root/build" | tee "$docker_out" ||
        docker_status=${PIPESTATUS[0]}
    if [ "$docker_status" -eq 77 ]; then
        echo "################################################################"
        echo "tools/test.sh: the Docker test (tests/docker/run.sh) was SKIPPED:"
        grep 'SKIP' -A 22 "$docker_out" | grep -v '^docker: #*$' | sed 's/^/  /' || true
        echo "################################################################"
    fi
    rm -f "$docker_out"
    [ "$docker_status" -eq 0 ] || [ "$docker_status" -eq 77 ] || exit "$docker_status"
fi
