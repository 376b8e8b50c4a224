#!/usr/bin/env bash
# One integration flow under valgrind memcheck: paystat-publish, -compute and
# -ingest, `paystat sub` subscribed to everything and `paystat send` of the
# bundled dataset, every process under memcheck. Passes when every process
# exits 0 (memcheck turns any error, or a definite or indirect leak, into
# exit status 99) and the subscriber saw the dataset's indicators.
#   tests/valgrind/run.sh [BUILD_DIR]     (default: <repo>/build, a build
#                                          WITHOUT sanitizers)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/paystat-valgrind.XXXXXX")
vg_status=99

vg=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --error-exitcode=$vg_status
    --num-callers=30)

read -r p_ingest p_compute p_publish p_feed p_snap < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
ep() { echo "tcp://127.0.0.1:$1"; }

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts NAME (logs in $work/NAME.log, memcheck's report in $work/NAME.vg)
# and records its pid in pid_NAME.
start() {
    local name=$1
    shift
    mkdir -p "$work/$name"
    (cd "$work/$name" && exec "${vg[@]}" --log-file="$work/$name.vg" "$@") >"$work/$name.log" 2>&1 &
    pids+=($!)
    printf -v "pid_$name" '%s' $!
}

wait_port() {
    local port=$1 name=$2
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "valgrind: $name did not bind port $port within 60 s" >&2
    cat "$work/$name.log" "$work/$name.vg" >&2
    exit 1
}

failed=0
# Waits for NAME and checks that it exited 0, printing memcheck's report if not.
finish() {
    local name=$1 pid_var="pid_$1" rc=0
    wait "${!pid_var}" || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "valgrind: $name: exit 0, no memcheck errors, no definite or indirect leaks"
    else
        failed=1
        [ "$rc" -eq "$vg_status" ] && what="memcheck errors or leaks" || what="exit status $rc"
        echo "valgrind: $name: $what" >&2
        cat "$work/$name.vg" >&2
        tail -n 30 "$work/$name.log" >&2
    fi
}

start publish "$build/services/publish/paystat-publish" --bind "$(ep "$p_publish")" \
    --feed "$(ep "$p_feed")" --snapshot "$(ep "$p_snap")" --heartbeat-ms 200
for port in "$p_publish" "$p_feed" "$p_snap"; do wait_port "$port" publish; done
start compute "$build/services/compute/paystat-compute" --bind "$(ep "$p_compute")" \
    --publish "$(ep "$p_publish")" --ratios "$root/data/ratios.conf"
wait_port "$p_compute" compute
start ingest "$build/services/ingest/paystat-ingest" --bind "$(ep "$p_ingest")" \
    --compute "$(ep "$p_compute")"
wait_port "$p_ingest" ingest

# The subscriber prints its first line once it follows the feed; it exits
# after 15 s without data (valgrind makes everything slow).
start sub "$build/tools/paystat" sub --feed "$(ep "$p_feed")" --snapshot "$(ep "$p_snap")" \
    --heartbeats --timeout-ms 15000
for _ in $(seq 600); do
    [ -s "$work/sub.log" ] && break
    sleep 0.1
done
start send "$build/tools/paystat" send --ingest "$(ep "$p_ingest")" --timeout-ms 20000 \
    "$root/data/morocco-2011-2012.csv"
finish send
finish sub
for name in ingest compute publish; do
    pid_var="pid_$name"
    kill -TERM "${!pid_var}"
    finish "$name"
done

# What the subscriber printed: the dataset's cells and its ratio.
for topic in '"CMI/2012/' '"$ratio/abroad_vs_domestic/2012"'; do
    if ! grep -qF "$topic" "$work/sub.log"; then
        echo "valgrind: the subscriber never saw a message on $topic" >&2
        failed=1
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "valgrind: FAILED (logs in $work)" >&2
    exit 1
fi
echo "valgrind: passed ($(grep -c '"type":"cell"' "$work/sub.log") cell messages seen)"
rm -rf "$work"
