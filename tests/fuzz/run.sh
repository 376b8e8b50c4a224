#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and
# runs each for a bounded time from its committed corpus, printing its
# executions and final stats. Exits 1 when a target crashes, leaks, hangs or
# breaks a property, naming the input that did it.
#   tests/fuzz/run.sh [SECONDS]   per target; default $PAYSTAT_FUZZ_SECONDS or 20
# The build goes to $PAYSTAT_FUZZ_BUILD (default <repo>/build-fuzz); clang and
# libclang-rt-14-dev come from tools/setup.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-${PAYSTAT_FUZZ_SECONDS:-20}}
build=${PAYSTAT_FUZZ_BUILD:-$root/build-fuzz}

cmake -S "$root" -B "$build" -DPAYSTAT_FUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target paystat_fuzz -- --no-print-directory >/dev/null

# New inputs go to a scratch directory: the committed corpus only changes by hand.
work=$(mktemp -d "${TMPDIR:-/tmp}/paystat-fuzz.XXXXXX")
failed=()
printf '%-20s %12s %9s %8s %8s %8s\n' target executions execs/s corpus new peak_MB
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    mkdir -p "$work/$name"
    log="$work/$name.log"
    rc=0
    # close_fd_mask=3: the parsers' own messages (--help, errors) would drown
    # libFuzzer's, which it keeps on a duplicate of stderr.
    "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -close_fd_mask=3 -artifact_prefix="$work/$name-" \
        "$work/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
    final() { sed -n "s/^stat::$1: *//p" "$log"; }
    corpus=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
    printf '%-20s %12s %9s %8s %8s %8s\n' "$name" "$(final number_of_executed_units)" \
        "$(final average_exec_per_sec)" "${corpus:-?}" "$(final new_units_added)" \
        "$(final peak_rss_mb)"
    if [ "$rc" -ne 0 ]; then
        failed+=("$name")
        echo "---- $name failed (exit $rc); its log ends with:" >&2
        tail -n 40 "$log" >&2
        for artifact in "$work/$name"-*; do
            [ -e "$artifact" ] || continue
            echo "---- input: $artifact" >&2
            echo "     replay: $build/tests/fuzz/$name $artifact" >&2
            echo "     once fixed, commit it as tests/fuzz/corpus/$name/crash-<what it broke>" >&2
        done
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (work files in $work)" >&2
    exit 1
fi
echo "fuzz: ${seconds} s per target, no crash"
rm -rf "$work"
