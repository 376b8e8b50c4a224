#!/usr/bin/env bash
# The Docker test: builds docker/Dockerfile on a real Docker engine and runs
# docker/compose.yaml, CURVE on, as its README says to.
#   tests/docker/run.sh [BUILD_DIR]    default: <repo>/build, already built
#                                      (its tools/paystat is the host client)
# No registry can be reached, so the script starts its own dockerd (Debian's
# docker.io) and makes debian:bookworm-slim locally with debootstrap. The
# engine has no default bridge and no iptables (--bridge=none): compose's own
# network still works (containers reach each other by service name), and the
# ports it publishes on 127.0.0.1 go through docker-proxy, from
# $PAYSTAT_DOCKER_PORT (default 27401) up. Debian's docker-compose is 1.29,
# which has no `cp`: the test uses `docker cp` where the README says
# `docker compose cp`.
# Checks: compose.yaml is valid, alone and with compose.no-curve.yaml; the
# one-shot `keys` service makes the keys once (secrets 0600, the image's
# user's), and running it again changes nothing; health checks turn healthy
# with CURVE on every link; the producer and subscriber keys copied out of
# the containers send the bundled dataset from the host and read the
# article's figure on a host subscriber, half of it sent while compute is
# stopped; without a key, a host send gets no ack and a host subscriber
# nothing; a key made on the host, admitted and granted one source with
# `keys`, then SIGHUP to ingest, writes that source and only that one;
# stopping drains every service (exit 0 before the 10 s kill); `down` and
# `up` again keep the state and the keys; the runtime image is much smaller
# than the build stage.
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
project=pstest
keys_dir=/var/lib/paystat/keys
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
export DOCKER_HOST=unix://$sock # docker and docker-compose talk to this engine only
# compose.yaml's host side: this image, the test's ports.
export PAYSTAT_IMAGE=$image PAYSTAT_HOST_ADDR=127.0.0.1 PAYSTAT_INGEST_PORT=$port \
    PAYSTAT_FEED_PORT=$((port + 3)) PAYSTAT_SNAPSHOT_PORT=$((port + 4)) \
    PAYSTAT_DASHBOARD_PORT=$((port + 5))
compose() { (cd "$root" && docker-compose -p "$project" -f docker/compose.yaml "$@"); }
# The container of service $1 (compose 1.29 names them PROJECT_SERVICE_1).
cid() { compose ps -q "$1"; }

dockerd_pid=""
cleanup() {
    if [ -n "$dockerd_pid" ]; then
        compose down -v -t 1 >/dev/null 2>&1 || true
        # The image's VOLUMEs give every container (keys, publish, the
        # gateway, one-off runs) anonymous volumes; the engine is the test's.
        docker volume prune -f >/dev/null 2>&1 || true
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
    --pidfile "$tmp/dockerd.pid" -H "$DOCKER_HOST" \
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

if compose config -q 2>"$tmp/compose.log" &&
    compose -f docker/compose.no-curve.yaml config -q 2>>"$tmp/compose.log"; then
    pass "docker/compose.yaml, alone and with compose.no-curve.yaml, is valid (docker-compose config)"
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


# 4. compose.yaml: the keys, then the services.
feed=tcp://127.0.0.1:$PAYSTAT_FEED_PORT
snapshot=tcp://127.0.0.1:$PAYSTAT_SNAPSHOT_PORT
services=(publish compute ingest gateway)

# Polls until every service named is healthy (at most 60 s each).
wait_healthy() {
    local svc status
    for svc in "$@"; do
        for _ in $(seq 120); do
            status=$(docker inspect -f '{{.State.Status}}/{{.State.Health.Status}}' "$(cid "$svc")")
            [ "$status" = running/healthy ] && break
            [ "${status%/*}" = running ] || break
            sleep 0.5
        done
        if [ "$status" = running/healthy ]; then
            pass "$svc: health check healthy"
        else
            fail "$svc: health check says $status; its last checks and every log:"
            docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$(cid "$svc")" |
                tail -n 3 | sed 's/^/docker:   /'
            compose logs --no-color --tail 15 2>&1 | sed 's/^/docker:   /'
            exit 1
        fi
    done
}

# compose stop sends SIGTERM and kills after 10 s: exit status 0 means the
# service drained and stopped by itself in time.
stop_services() {
    local svc code
    compose stop -t 10 "$@" >/dev/null 2>&1
    for svc in "$@"; do
        code=$(docker inspect -f '{{.State.ExitCode}}' "$(cid "$svc")")
        if [ "$code" = 0 ]; then
            pass "$svc: stop drained, exit 0"
        else
            fail "$svc: stop: exit status $code"
            compose logs --no-color --tail 20 "$svc" 2>&1 | sed 's/^/docker:   /'
        fi
    done
}

# `up`: runs `keys`, then the services once it has exited 0.
up() {
    compose up -d --no-build >"$tmp/up.log" 2>&1 || {
        cat "$tmp/up.log"
        compose logs --no-color --tail 15 2>&1 | sed 's/^/docker:   /'
        die "docker-compose up"
    }
    wait_healthy "${services[@]}"
}

# Every key file's name, mode, owner and content, to compare runs.
keys_state() {
    docker run --rm -v "${project}_keys:$keys_dir:ro" "$image" sh -c \
        'cd "$1" && find . -type f | sort | while read -r f; do
            echo "$f $(stat -c "%a %u" "$f") $(md5sum <"$f")"; done' sh "$keys_dir"
}
# What `keys` said in its last run.
keys_said() { compose logs --no-color keys 2>/dev/null | grep 'keys: ' || true; }

compose down -v -t 1 >/dev/null 2>&1 || true
up
keys_said >"$tmp/keys.log"
made=$(grep -c 'made the key pair' "$tmp/keys.log" || true)
keys_state >"$tmp/keys.state"
secrets=$(grep '\.key_secret ' "$tmp/keys.state" | awk '{ print $2, $3 }' | sort | uniq -c |
    awk '{ print $1, $2, $3 }')
if [ "$made" = 6 ] && [ "$secrets" = "6 600 10001" ] && grep -q '^\./access ' "$tmp/keys.state"; then
    pass "keys: 6 key pairs, secrets mode 600 owned by the image's user (uid 10001), rings, access file"
else
    fail "keys: made $made pairs, secrets (count mode uid): ${secrets:-none}"
    sed 's/^/docker:   /' "$tmp/keys.log" "$tmp/keys.state"
fi
# The same volume, the same keys: `keys` says and changes nothing.
keys_unchanged() {
    if [ -z "$1" ] && keys_state | cmp -s - "$tmp/keys.state"; then
        pass "keys: run again $2, changes nothing"
    else
        fail "keys: run again $2, changed the keys: $1"
    fi
}
keys_unchanged "$(compose run --rm -T keys 2>/dev/null)" "(docker-compose run --rm keys)"

# The host's keys, out of the running containers as docker/README.md says:
# the producer's and the subscriber's secret, ingest's and publish's public
# key. docker cp keeps the mode, 0600, which the client demands.
hostkeys=$tmp/keys
mkdir -m 0700 "$hostkeys"
for f in ingest:producer.key_secret ingest:ingest.key publish:subscriber.key_secret \
    publish:publish.key; do
    docker cp "$(cid "${f%%:*}"):$keys_dir/${f#*:}" "$hostkeys/" || die "docker cp $f"
done
modes=$(stat -c '%a' "$hostkeys/producer.key_secret" "$hostkeys/subscriber.key_secret" | sort -u)
if [ "$modes" = 600 ]; then
    pass "producer and subscriber keys copied to the host (docker cp), mode 600"
else
    fail "keys copied to the host have mode $modes, not 600"
fi
curve_send=(--curve-secret "$hostkeys/producer.key_secret" --ingest-key "$hostkeys/ingest.key")
curve_sub=(--curve-secret "$hostkeys/subscriber.key_secret" --publish-key "$hostkeys/publish.key")

send() {
    if PAYSTAT_INGEST=tcp://127.0.0.1:$port "$paystat" send --no-progress "${curve_send[@]}" \
        --producer "producer:$2" "$1" >"$tmp/send.log" 2>&1; then
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
            "${curve_sub[@]}" --timeout-ms 1000 'CMI/2012/activity=ecommerce' 2>/dev/null |
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

# The dataset in two halves: 2011 first, then 2012 while compute is stopped
# (ingest journals and acknowledges it); the 2012 growth needs both.
data=$root/data/morocco-2011-2012.csv
{ head -n 1 "$data"; grep ',2011,' "$data"; } >"$tmp/part1.csv"
{ head -n 1 "$data"; grep -v ',2011,' "$data" | tail -n +2; } >"$tmp/part2.csv"
# Without a key the producer's handshake fails: no ack, send gives up.
if PAYSTAT_INGEST=tcp://127.0.0.1:$port timeout 20 "$paystat" send --no-progress \
    --timeout-ms 500 --retries 1 --producer docker-test-nokey "$tmp/part1.csv" \
    >"$tmp/nokey.log" 2>&1; then
    fail "a send without a key was acknowledged: $(tail -n 1 "$tmp/nokey.log")"
elif grep -q 'no answer from ingest' "$tmp/nokey.log"; then
    pass "paystat send without a key gets no ack (handshake refused)"
else
    fail "a send without a key failed otherwise: $(tail -n 3 "$tmp/nokey.log")"
fi
send "$tmp/part1.csv" docker-test-1 "2011 rows"
stop_services compute
send "$tmp/part2.csv" docker-test-2 "2012 rows, compute stopped"
compose start compute >/dev/null 2>&1
wait_healthy compute
check_article "after compute stop/start"

# Without a key the subscriber's handshake fails: not even the snapshot
# ($synced), only the client's own "$resync start".
lines=$(PAYSTAT_FEED=$feed PAYSTAT_SNAPSHOT=$snapshot timeout 20 "$paystat" sub \
    --timeout-ms 1500 2>/dev/null | grep -cv '^{"topic":"[$]resync"') || true
if [ "$lines" = 0 ]; then
    pass "paystat sub without a key reads nothing"
else
    fail "paystat sub without a key read $lines messages"
fi

# A new producer key, made on the host, admitted and granted MTC as
# docker/README.md says, then SIGHUP to ingest: its MTC rows are applied,
# its CMI row refused (the same values as sent before: the figures stay).
"$paystat" keygen p2 --dir "$hostkeys" >/dev/null || die "paystat keygen p2"
compose run --rm -T keys keys allow producers p2 <"$hostkeys/p2.key" >/dev/null 2>&1 ||
    die "keys allow producers p2"
compose run --rm -T keys keys grant p2 MTC >/dev/null 2>&1 || die "keys grant p2 MTC"
compose kill -s HUP ingest >/dev/null 2>&1
for _ in $(seq 20); do
    compose logs --no-color ingest 2>&1 | grep -q 'keys reloaded.*producers' && break
    sleep 0.5
done
{ head -n 1 "$data"; grep -m 2 '^MTC,' "$data"; grep -m 1 '^CMI,' "$data"; } >"$tmp/p2.csv"
PAYSTAT_INGEST=tcp://127.0.0.1:$port "$paystat" send --no-progress \
    --curve-secret "$hostkeys/p2.key_secret" --ingest-key "$hostkeys/ingest.key" \
    --producer p2 "$tmp/p2.csv" >"$tmp/p2.log" 2>&1 || true
if grep -q 'accepted 2, rejected 1' "$tmp/p2.log" && grep -q 'not_permitted' "$tmp/p2.log"; then
    pass "after SIGHUP, key p2 (granted MTC) writes MTC, gets not_permitted for CMI"
else
    fail "key p2 after SIGHUP: $(tail -n 3 "$tmp/p2.log")"
    compose logs --no-color --tail 10 ingest 2>&1 | sed 's/^/docker:   /'
fi
check_article "after p2's refused CMI row"

# Upgrade path: stop, down (the volumes stay), up: `keys` runs again and
# must keep every key and p2's admission.
stop_services "${services[@]}"
keys_state >"$tmp/keys.state"
compose down -t 10 >/dev/null 2>&1
up
keys_unchanged "$(keys_said)" "at up after down (p2 admitted)"
check_article "down, then up on the same volumes"
stop_services "${services[@]}"

elapsed=$(($(date +%s) - started))
if [ "$failures" -eq 0 ]; then
    say "PASS all checks (${elapsed}s)"
else
    say "FAIL $failures check(s) (${elapsed}s)"
    exit 1
fi
