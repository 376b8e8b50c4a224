#!/usr/bin/env bash
# The Docker test: builds docker/Dockerfile on a real Docker engine and runs
# the four services from the image.
#   tests/docker/run.sh [BUILD_DIR]    default: <repo>/build, already built
#                                      (its tools/paystat is the host client)
# No registry can be reached, so the script starts its own dockerd (Debian's
# docker.io) and makes debian:bookworm-slim locally with debootstrap. The
# engine runs without a bridge (--bridge=none, no iptables), so the containers
# use the host's network on loopback ports from $PAYSTAT_DOCKER_PORT (default
# 27401) instead of compose.yaml's private network; their settings are the
# same environment variables compose.yaml sets.
# Checks: compose.yaml is valid; health checks turn healthy; the bundled dataset sent from the host
# gives the article's figure on a host subscriber, half of it sent while
# compute is stopped; docker stop drains every service (exit 0 before the
# 10 s kill); new containers on the same volumes come back with the state;
# the runtime image is much smaller than the build stage.
# The engine's data root (base image, layer cache) stays in
# $PAYSTAT_DOCKER_CACHE (default /var/tmp/paystat-docker) to save time on the
# next run; delete it for a cold run.
# Exit status: 0 pass, 1 failure, 77 skipped: dockerd cannot run here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ "$(id -u)" -eq 0 ] || exec sudo "$0" "$build"

started=$(date +%s)
paystat=$build/tools/paystat
python=/usr/bin/python3
port=${PAYSTAT_DOCKER_PORT:-27401}
cache=${PAYSTAT_DOCKER_CACHE:-/var/tmp/paystat-docker}
image=paystat:test
prefix="paystat-test"
failures=0

say() { echo "docker: $*"; }
pass() { say "PASS $*"; }
fail() {
    say "FAIL $*"
    failures=$((failures + 1))
}
die() {
    fail "$*"
    exit 1
}

missing=()
for p in docker.io debootstrap docker-compose; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[ -x "$paystat" ] || die "no $paystat: build first (tools/setup.sh)"

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9 # one run at a time per data root
tmp=$(mktemp -d /tmp/paystat-docker.XXXXXX)
sock=$tmp/docker.sock
docker() { /usr/bin/docker -H "unix://$sock" "$@"; }

dockerd_pid=""
cleanup() {
    if [ -n "$dockerd_pid" ]; then
        docker rm -f "$prefix-ingest" "$prefix-compute" "$prefix-publish" \
            "$prefix-gateway" >/dev/null 2>&1 || true
        docker volume rm "$prefix-ingest" "$prefix-compute" >/dev/null 2>&1 || true
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
    # dockerd leaves its default network namespace mounted under exec-root.
    awk -v p="$tmp/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m"; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# 1. The engine.
/usr/sbin/dockerd --data-root "$cache/data-root" --exec-root "$tmp/exec" \
    --pidfile "$tmp/dockerd.pid" -H "unix://$sock" \
    --iptables=false --ip6tables=false --bridge=none >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 60); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
done
if ! docker version >/dev/null 2>&1; then
    say "################################################################"
    say "SKIP: dockerd could not start on this machine; its log:"
    tail -n 20 "$tmp/dockerd.log" | sed 's/^/docker:   /'
    say "################################################################"
    exit 77
fi
say "engine $(docker version -f '{{.Server.Version}}') up (pid $dockerd_pid)"

# The shipped compose file is not run here (it needs a bridge network), but
# it must be valid.
if (cd "$root" && docker-compose -f docker/compose.yaml config -q) 2>"$tmp/compose.log"; then
    pass "docker/compose.yaml is valid (docker-compose config)"
else
    fail "docker/compose.yaml: $(cat "$tmp/compose.log")"
fi

# 2. debian:bookworm-slim from the mirror apt uses here.
mirror=$( {
    sed -n 's/\[[^]]*\]//; s/^deb[[:space:]]\+\([^[:space:]]\+\)[[:space:]]\+bookworm[[:space:]].*/\1/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && awk 'BEGIN { RS = "" } {
            u = ""; s = 0
            n = split($0, l, "\n")
            for (i = 1; i <= n; i++) {
                if (l[i] ~ /^URIs:/) { split(l[i], w, /[ \t]+/); u = w[2] }
                if (l[i] ~ /^Suites:/ && l[i] ~ /[ \t]bookworm([ \t]|$)/) s = 1
            }
            if (u != "" && s) print u }' "$f"
    done
} | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    base=$cache/bookworm-minbase.tar
    if [ ! -s "$base" ]; then
        say "debootstrap bookworm from $mirror (cached in $base)"
        rm -rf "$cache/rootfs"
        debootstrap --variant=minbase bookworm "$cache/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
            { tail -n 20 "$tmp/debootstrap.log"; die "debootstrap"; }
        tar -C "$cache/rootfs" -c . >"$base.part"
        mv "$base.part" "$base"
        rm -rf "$cache/rootfs"
    fi
    docker import "$base" debian:bookworm-slim >/dev/null || die "docker import"
fi
pass "base image debian:bookworm-slim"

# 3. The project's Dockerfile, unchanged.
if ! docker build --network host -f "$root/docker/Dockerfile" -t "$image" "$root" \
    >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log"
    die "docker build"
fi
docker build --network host -f "$root/docker/Dockerfile" --target build -t "$image-build" \
    "$root" >/dev/null 2>&1 || die "docker build --target build"
run_size=$(docker image inspect -f '{{.Size}}' "$image")
build_size=$(docker image inspect -f '{{.Size}}' "$image-build")
base_size=$(docker image inspect -f '{{.Size}}' debian:bookworm-slim)
mib() { echo "$(($1 / 1048576)) MiB"; }
sizes="runtime image $(mib "$run_size") ($(mib $((run_size - base_size))) over the base)"
sizes+=", build stage $(mib "$build_size")"
if [ $((run_size * 3)) -lt "$build_size" ]; then
    pass "image size: $sizes"
else
    fail "image size: $sizes (runtime should be under a third)"
fi

# 4. The services, on loopback ports; settings as in compose.yaml.
p_ingest=$port p_compute=$((port + 1)) p_publish=$((port + 2))
p_feed=$((port + 3)) p_snapshot=$((port + 4)) p_gateway=$((port + 5))
feed=tcp://127.0.0.1:$p_feed
snapshot=tcp://127.0.0.1:$p_snapshot

start_service() {
    local svc=$1
    local args=(-d --name "$prefix-$svc" --network host)
    case $svc in
    ingest)
        args+=(-v "$prefix-ingest:/var/lib/paystat/ingest"
            -e "PAYSTAT_INGEST_BIND=tcp://127.0.0.1:$p_ingest"
            -e "PAYSTAT_COMPUTE_CONNECT=tcp://127.0.0.1:$p_compute"
            -e "PAYSTAT_INGEST_HTTP=127.0.0.1:$((port + 11))") ;;
    compute)
        args+=(-v "$prefix-compute:/var/lib/paystat/compute"
            -e "PAYSTAT_COMPUTE_BIND=tcp://127.0.0.1:$p_compute"
            -e "PAYSTAT_PUBLISH_CONNECT=tcp://127.0.0.1:$p_publish"
            -e "PAYSTAT_COMPUTE_HTTP=127.0.0.1:$((port + 12))") ;;
    publish)
        args+=(-e "PAYSTAT_PUBLISH_BIND=tcp://127.0.0.1:$p_publish"
            -e "PAYSTAT_FEED_BIND=$feed" -e "PAYSTAT_SNAPSHOT_BIND=$snapshot"
            -e "PAYSTAT_PUBLISH_HTTP=127.0.0.1:$((port + 13))") ;;
    gateway)
        args+=(-e "PAYSTAT_FEED=$feed" -e "PAYSTAT_SNAPSHOT=$snapshot"
            -e "PAYSTAT_GATEWAY_LISTEN=127.0.0.1:$p_gateway") ;;
    esac
    docker run "${args[@]}" "$image" "$svc" >/dev/null
}

# Polls until every container named is healthy (at most 60 s).
wait_healthy() {
    local svc status
    for svc in "$@"; do
        for _ in $(seq 120); do
            status=$(docker inspect -f '{{.State.Status}}/{{.State.Health.Status}}' "$prefix-$svc")
            [ "$status" = running/healthy ] && break
            [ "${status%/*}" = running ] || break
            sleep 0.5
        done
        if [ "$status" = running/healthy ]; then
            pass "$svc: health check healthy"
        else
            fail "$svc: health check says $status; its last checks and every log:"
            docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$prefix-$svc" |
                tail -n 3 | sed 's/^/docker:   /'
            for other in ingest compute publish gateway; do
                docker logs --tail 15 "$prefix-$other" 2>&1 | sed "s/^/docker:   $other: /"
            done
            exit 1
        fi
    done
}

# docker stop sends SIGTERM and kills after 10 s: exit status 0 means the
# service drained and stopped by itself in time.
stop_service() {
    local svc=$1 code
    docker stop -t 10 "$prefix-$svc" >/dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$prefix-$svc")
    if [ "$code" = 0 ]; then
        pass "$svc: docker stop drained, exit 0"
    else
        fail "$svc: docker stop: exit status $code"
        docker logs --tail 20 "$prefix-$svc" 2>&1 | sed 's/^/docker:   /'
    fi
}

send() {
    if PAYSTAT_INGEST=tcp://127.0.0.1:$p_ingest "$paystat" send --no-progress \
        --producer "$2" "$1" >"$tmp/send.log" 2>&1; then
        pass "paystat send $3 from the host"
    else
        cat "$tmp/send.log"
        die "paystat send $3"
    fi
}

# The article's figure on a host subscriber: 2012 e-commerce amount growth of
# CMI cards, 48.3 %. Polls (30 s at most): the feed may not have it yet.
check_article() {
    local topic='CMI/2012/activity=ecommerce,card=*' got=""
    for _ in $(seq 10); do
        got=$(PAYSTAT_FEED=$feed PAYSTAT_SNAPSHOT=$snapshot timeout 20 "$paystat" sub \
            --timeout-ms 1000 'CMI/2012/activity=ecommerce' 2>/dev/null |
            "$python" -c '
import json, sys
last = None
for line in sys.stdin:
    m = json.loads(line)
    if m.get("topic") == sys.argv[1]:
        last = m.get("yoy_amount_pct")
print("none" if last is None else "%.1f" % last)' "$topic") || got="error"
        [ "$got" = 48.3 ] && break
        sleep 1
    done
    if [ "$got" = 48.3 ]; then
        pass "$1: host subscriber sees $topic yoy_amount_pct 48.3 (article: 48.3)"
    else
        fail "$1: host subscriber sees $topic yoy_amount_pct $got, article says 48.3"
    fi
}

docker rm -f "$prefix-ingest" "$prefix-compute" "$prefix-publish" "$prefix-gateway" \
    >/dev/null 2>&1 || true
docker volume rm "$prefix-ingest" "$prefix-compute" >/dev/null 2>&1 || true
for svc in publish compute ingest gateway; do start_service "$svc"; done
wait_healthy publish compute ingest gateway

# The dataset in two halves: 2011 first, then 2012 while compute is stopped
# (ingest journals and acknowledges it); the 2012 growth needs both.
data=$root/data/morocco-2011-2012.csv
{ head -n 1 "$data"; grep ',2011,' "$data"; } >"$tmp/part1.csv"
{ head -n 1 "$data"; grep -v ',2011,' "$data" | tail -n +2; } >"$tmp/part2.csv"
send "$tmp/part1.csv" docker-test-1 "2011 rows"
stop_service compute
send "$tmp/part2.csv" docker-test-2 "2012 rows, compute stopped"
docker start "$prefix-compute" >/dev/null
wait_healthy compute
check_article "after compute stop/start"

# Upgrade path: every service stops, new containers on the same volumes.
for svc in ingest compute publish gateway; do stop_service "$svc"; done
docker rm "$prefix-ingest" "$prefix-compute" "$prefix-publish" "$prefix-gateway" >/dev/null
for svc in publish compute ingest gateway; do start_service "$svc"; done
wait_healthy publish compute ingest gateway
check_article "new containers on the same volumes"
for svc in ingest compute publish gateway; do stop_service "$svc"; done

elapsed=$(($(date +%s) - started))
if [ "$failures" -eq 0 ]; then
    say "PASS all checks (${elapsed}s)"
else
    say "FAIL $failures check(s) (${elapsed}s)"
    exit 1
fi
