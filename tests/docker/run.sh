#!/usr/bin/env bash
# The Docker test: builds docker/Dockerfile on a real Docker engine and runs
# the services of docker/compose.yaml, CURVE on, in the host's network.
#   tests/docker/run.sh [BUILD_DIR]    default: <repo>/build, already built
#                                      (its tools/paystat is the host client)
# Needs root (re-runs itself under sudo). No registry can be reached, so the
# script installs Debian's docker.io, docker-compose, debootstrap and
# python3-yaml if missing, starts its own dockerd (its own data root, exec
# root, pid file and socket, --iptables=false --ip6tables=false
# --bridge=none), stops it by its pid at the end, and makes
# debian:bookworm-slim itself: debootstrap --variant=minbase bookworm from the
# mirror apt uses, trimmed as the registry's slim image is (no docs, man
# pages, locales, package lists or apt caches), then docker import. The
# project's Dockerfile builds unchanged (docker build --network host: the
# build's apt needs the mirror).
# Tests may use loopback addresses only, so every container runs with the
# host's network (network_mode: host) on free 127.0.0.1 ports of its own:
# host_compose.py writes that variant of docker/compose.yaml (same image,
# commands, volumes, health checks, environment, restart policies and `keys`
# service; the services' address variables on 127.0.0.1; no ports, no
# networks), since Debian's docker-compose 1.29 cannot drop `ports` with an
# override. It has no `cp` either: the test uses `docker cp` where
# docker/README.md says `docker compose cp`.
# Checks: compose.yaml is valid, alone and with compose.no-curve.yaml; the
# one-shot `keys` service makes the keys once (secrets 0600, the image's
# user's), and running it again changes nothing; health checks turn healthy
# with CURVE on every link; every endpoint listens on 127.0.0.1 only; the
# producer and subscriber keys copied out of the containers send the bundled
# dataset from the host and every figure of the article reaches a host
# subscriber (article.py), half of the data sent while compute is stopped
# (docker stop, then docker start: nothing lost); the dashboard serves them;
# without a key, a host send gets no ack and a host subscriber nothing; a key
# made on the host, admitted and granted one source with `keys`, then SIGHUP
# to ingest, writes that source and only that one; stopping drains every
# service (exit 0 before the 10 s kill); `down` and `up` again keep the state
# and the keys; the runtime image is much smaller than the build stage (the
# sizes are printed).
# Environment:
#   PAYSTAT_DOCKER_CACHE=DIR  keep the engine's data root (base image, layer
#       cache) and the debootstrap tarball in DIR between runs, so that a
#       rerun on a dev machine takes a minute or two; one run at a time per
#       DIR. Unset (the default, and CI's): everything lives in a fresh temp
#       dir, deleted at the end.
#   PAYSTAT_DOCKER_PORT=N     look for the 9 free loopback ports from N up
#       (default 27401, below the kernel's ephemeral range).
# Exit status: 0 pass, 1 failure (any failure once the engine is up), 77
# skipped: dockerd cannot run here (said loudly, with its log).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[ "$(id -u)" -eq 0 ] ||
    exec sudo --preserve-env=PAYSTAT_DOCKER_CACHE,PAYSTAT_DOCKER_PORT "$0" "$build"
# Debian's docker.io client, the engine's own version, before any other.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

started=$(date +%s)
paystat=$build/tools/paystat
python=/usr/bin/python3
port_base=${PAYSTAT_DOCKER_PORT:-27401}
cache=${PAYSTAT_DOCKER_CACHE:-}
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
for p in docker.io debootstrap docker-compose python3-yaml; do
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

tmp=$(mktemp -d /tmp/paystat-docker.XXXXXX)
if [ -n "$cache" ]; then
    mkdir -p "$cache"
    exec 9>"$cache/lock"
    flock 9 # one run at a time per data root
    work=$cache
    say "data root and base tarball kept in $cache (PAYSTAT_DOCKER_CACHE)"
else
    work=$tmp
fi
data_root=$work/data-root
sock=$tmp/docker.sock
export DOCKER_HOST=unix://$sock # docker and docker-compose talk to this engine only
export PAYSTAT_IMAGE=$image     # the image compose.yaml runs

# The test's compose file: compose.yaml in the host's network (set below).
hostfile=$tmp/compose.host.yaml
compose() { docker-compose -p "$project" -f "$hostfile" "$@"; }
# The container of service $1 (compose 1.29 names them PROJECT_SERVICE_1).
cid() { compose ps -q "$1"; }

dockerd_pid=""
skipping=0
cleanup() {
    local rc=$? m
    set +e
    if [ -n "$dockerd_pid" ]; then
        [ -f "$hostfile" ] && compose down -v -t 1 >/dev/null 2>&1
        # The image's VOLUMEs give every container (keys, publish, the
        # gateway, one-off runs) anonymous volumes; the engine is the test's.
        docker volume prune -f >/dev/null 2>&1
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 60); do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$dockerd_pid" 2>/dev/null && say "dockerd (pid $dockerd_pid) killed after 30 s"
        wait "$dockerd_pid" 2>/dev/null
    fi
    # What dockerd may leave mounted under its roots (its network namespace,
    # a layer after a kill).
    awk -v t="$tmp/" -v d="$data_root/" 'index($2, t) == 1 || index($2, d) == 1 { print $2 }' \
        /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$tmp"
    # Only the skip exits 77: anything else that stops the script fails it.
    if [ "$rc" -eq 77 ] && [ "$skipping" -ne 1 ]; then rc=1; fi
    exit "$rc"
}
trap cleanup EXIT

# 1. The engine.
dockerd --data-root "$data_root" --exec-root "$tmp/exec" \
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
    skipping=1
    exit 77
fi
say "engine $(docker version -f '{{.Server.Version}}') up (pid $dockerd_pid, data root $data_root)"

# 2. The compose files: compose.yaml as operators use it, and the test's
# host-network variant of it on free loopback ports.
if (cd "$root" && docker-compose -p "$project" -f docker/compose.yaml config -q &&
    docker-compose -p "$project" -f docker/compose.yaml -f docker/compose.no-curve.yaml config -q) \
    2>"$tmp/compose.log"; then
    pass "docker/compose.yaml, alone and with compose.no-curve.yaml, is valid (docker-compose config)"
else
    fail "docker/compose.yaml: $(cat "$tmp/compose.log")"
fi
# 9 distinct ports free on 127.0.0.1, from $port_base up.
read -r -a ports < <("$python" - "$port_base" <<'EOF'
import socket, sys
port, got = int(sys.argv[1]), []
while len(got) < 9 and port < 65536:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        got.append(port)
    except OSError:
        pass
    finally:
        s.close()
    port += 1
print(*got)
EOF
)
[ ${#ports[@]} -eq 9 ] || die "no 9 free loopback ports from $port_base up"
names=(ingest compute publish feed snapshot ingest_http compute_http publish_http dashboard)
args=()
for i in "${!names[@]}"; do args+=("${names[$i]}=${ports[$i]}"); done
"$python" "$here/host_compose.py" "$root/docker/compose.yaml" "$hostfile" "${args[@]}" ||
    die "host_compose.py"
compose config -q 2>"$tmp/compose.log" || die "the host-network compose file: $(cat "$tmp/compose.log")"
ingest_ep=tcp://127.0.0.1:${ports[0]}
feed=tcp://127.0.0.1:${ports[3]}
snapshot=tcp://127.0.0.1:${ports[4]}
dashboard=http://127.0.0.1:${ports[8]}
say "host network, loopback ports: ${args[*]}"

# 3. debian:bookworm-slim from the mirror apt uses here.
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

# What the registry's slim image leaves out of a minbase system (as
# debuerreotype's --slim does): documentation but the copyrights, man and
# info pages, translations; and, like its apt configuration, the package
# lists, the downloaded .debs and apt's binary caches.
slim_rootfs() {
    local r=$1
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/lintian/*' \
        'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
        'path-include /usr/share/locale/locale.alias' >"${r:?}/etc/dpkg/dpkg.cfg.d/docker"
    local clean='rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true'
    printf '%s\n' "DPkg::Post-Invoke { \"$clean\"; };" "APT::Update::Post-Invoke { \"$clean\"; };" \
        'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' >"${r:?}/etc/apt/apt.conf.d/docker-clean"
    echo 'Acquire::Languages "none";' >"${r:?}/etc/apt/apt.conf.d/docker-no-languages"
    find "${r:?}/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "${r:?}/usr/share/doc" -mindepth 1 -type d -empty -delete
    find "${r:?}/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "${r:?}"/usr/share/man/* "${r:?}"/usr/share/info/* "${r:?}"/usr/share/groff/* \
        "${r:?}"/usr/share/lintian/* "${r:?}"/var/lib/apt/lists/* "${r:?}"/var/cache/apt/*.bin \
        "${r:?}"/var/cache/apt/archives/*.deb "${r:?}"/dev/*
}
base_version=slim-1 # bump when slim_rootfs changes: a cached base is made again
if [ "$(docker image inspect -f '{{index .Config.Labels "paystat.test-base"}}' \
    debian:bookworm-slim 2>/dev/null)" != "$base_version" ]; then
    base=$work/bookworm-$base_version.tar
    if [ ! -s "$base" ]; then
        say "debootstrap --variant=minbase bookworm from $mirror"
        rm -rf "$work/rootfs"
        debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
            { tail -n 20 "$tmp/debootstrap.log"; die "debootstrap"; }
        slim_rootfs "$work/rootfs"
        tar --numeric-owner -C "$work/rootfs" -c . >"$base.part"
        mv "$base.part" "$base"
        rm -rf "$work/rootfs"
    fi
    docker import -c "LABEL paystat.test-base=$base_version" -c 'CMD ["bash"]' \
        "$base" debian:bookworm-slim >/dev/null || die "docker import"
fi
pass "base image debian:bookworm-slim (debootstrap minbase, slimmed, docker import)"

# 4. The project's Dockerfile, unchanged.
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
sizes="runtime image $(mib "$run_size") ($(mib $((run_size - base_size))) over the"
sizes+=" $(mib "$base_size") base), build stage $(mib "$build_size")"
if [ $((run_size * 3)) -lt "$build_size" ]; then
    pass "image size: $sizes"
else
    fail "image size: $sizes (the runtime image should be under a third of the build stage)"
fi

# 5. The services: the keys, then ingest, compute, publish, the gateway.
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

# Exit status 0 after a stop means the service drained and stopped by
# itself before the 10 s kill.
check_drained() {
    local svc code
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
stop_services() {
    compose stop -t 10 "$@" >/dev/null 2>&1
    check_drained "$@"
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
    docker run --rm --network none -v "${project}_keys:$keys_dir:ro" "$image" sh -c \
        'cd "$1" && find . -type f | sort | while read -r f; do
            echo "$f $(stat -c "%a %u" "$f") $(md5sum <"$f")"; done' sh "$keys_dir"
}
# What `keys` said in its last run.
keys_said() { compose logs --no-color keys 2>/dev/null | grep 'keys: ' || true; }

compose down -v -t 1 >/dev/null 2>&1 || true
up

# The host's network, loopback only: every container in network mode host,
# and each of the 9 endpoints listening on 127.0.0.1 alone.
modes=$(for svc in keys "${services[@]}"; do
    docker inspect -f '{{.HostConfig.NetworkMode}}' "$(cid "$svc")"
done | sort -u)
listening=$("$python" - "${ports[@]}" <<'EOF'
import sys
wanted = {int(p) for p in sys.argv[1:]}
seen = {}
for path in ("/proc/net/tcp", "/proc/net/tcp6"):
    with open(path) as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            addr, port = local.split(":")
            if state == "0A" and int(port, 16) in wanted:
                seen.setdefault(int(port, 16), set()).add(addr)
bad = {p: a for p, a in seen.items() if a != {"0100007F"}}
print("ok" if set(seen) == wanted and not bad else
      f"listening on {sorted(seen)} of {sorted(wanted)}, not on 127.0.0.1 alone: {bad}")
EOF
)
if [ "$modes" = host ] && [ "$listening" = ok ]; then
    pass "every container in the host's network; the 9 endpoints each on their own 127.0.0.1 port"
else
    fail "network modes: $(echo "$modes" | tr '\n' ' '); endpoints: $listening"
fi

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
    if PAYSTAT_INGEST=$ingest_ep "$paystat" send --no-progress "${curve_send[@]}" \
        --producer "producer:$2" "$1" >"$tmp/send.log" 2>&1; then
        pass "paystat send $3 from the host: $(grep -o 'accepted [0-9]*, rejected [0-9]*' "$tmp/send.log" | tail -n 1)"
    else
        cat "$tmp/send.log"
        die "paystat send $3"
    fi
}

# Every figure of the article on a host subscriber, checked by article.py
# as tests/e2e/test_indicators.py checks them. Polls (30 s at most): the
# feed may not have them all yet.
check_article() {
    local ok=0
    for _ in $(seq 15); do
        # shellcheck disable=SC2016 # the prefix '$ratio/', not a variable
        PAYSTAT_FEED=$feed PAYSTAT_SNAPSHOT=$snapshot timeout 20 "$paystat" sub "${curve_sub[@]}" \
            --timeout-ms 1500 CMI/ MTC/ OC/ '$ratio/' >"$tmp/sub.jsonl" 2>"$tmp/sub.err" || true
        if "$python" "$here/article.py" <"$tmp/sub.jsonl" >"$tmp/article.log" 2>&1; then
            ok=1
            break
        fi
        sleep 1
    done
    if [ "$ok" = 1 ]; then
        pass "$1: host subscriber: $(tail -n 1 "$tmp/article.log")"
    else
        fail "$1: host subscriber: $(tail -n 1 "$tmp/article.log"); the figures:"
        sed 's/^/docker:   /' "$tmp/article.log" "$tmp/sub.err" | tail -n 30
    fi
}

# The dataset in two halves: 2011 first, then 2012 while compute is stopped
# (ingest journals and acknowledges it); the 2012 growth needs both.
data=$root/data/morocco-2011-2012.csv
{ head -n 1 "$data"; grep ',2011,' "$data"; } >"$tmp/part1.csv"
{ head -n 1 "$data"; grep -v ',2011,' "$data" | tail -n +2; } >"$tmp/part2.csv"
# Without a key the producer's handshake fails: no ack. send sees the
# failure and stops saying ingest requires CURVE (or, had the event come
# after its last retry, ends "no answer").
if PAYSTAT_INGEST=$ingest_ep timeout 20 "$paystat" send --no-progress \
    --timeout-ms 500 --retries 1 --producer docker-test-nokey "$tmp/part1.csv" \
    >"$tmp/nokey.log" 2>&1; then
    fail "a send without a key was acknowledged: $(tail -n 1 "$tmp/nokey.log")"
elif grep -q -e 'requires CURVE' -e 'no answer from ingest' "$tmp/nokey.log"; then
    pass "paystat send without a key gets no ack (handshake refused: $(tail -n 1 "$tmp/nokey.log" | cut -c1-80))"
else
    fail "a send without a key failed otherwise: $(tail -n 3 "$tmp/nokey.log")"
fi
send "$tmp/part1.csv" docker-test-1 "2011 rows"
# docker stop (SIGTERM, kill after 10 s) and docker start, as an operator would.
docker stop -t 10 "$(cid compute)" >/dev/null
check_drained compute
send "$tmp/part2.csv" docker-test-2 "2012 rows, compute stopped"
docker start "$(cid compute)" >/dev/null
wait_healthy compute
check_article "after docker stop/docker start of compute"

# The gateway in its container serves them on its loopback port.
if "$python" - "$dashboard" <<'EOF' >"$tmp/gateway.log" 2>&1; then
import sys, urllib.request
base = sys.argv[1]
with urllib.request.urlopen(base + "/", timeout=5) as r:
    assert r.status == 200, r.status
with urllib.request.urlopen(base + "/api/v1/indicators?prefix=CMI/2012/", timeout=5) as r:
    body = r.read().decode()
    assert r.status == 200 and "CMI/2012/activity=ecommerce,card=*" in body, body[:300]
EOF
    pass "gateway: the dashboard and /api/v1/indicators (CMI/2012/ figures) on $dashboard"
else
    fail "gateway on $dashboard: $(tail -n 2 "$tmp/gateway.log")"
fi

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
PAYSTAT_INGEST=$ingest_ep "$paystat" send --no-progress \
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
say "sizes: $sizes"
if [ "$failures" -eq 0 ]; then
    say "PASS all checks (${elapsed}s)"
else
    say "FAIL $failures check(s) (${elapsed}s)"
    exit 1
fi
