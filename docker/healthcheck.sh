#!/bin/bash
# Docker HEALTHCHECK for every paystat service: finds which one runs as PID 1
# and asks its readiness endpoint. Plain bash (/dev/tcp), so the runtime
# image carries no HTTP client. Exit 0 when it answers 200, 1 otherwise.
set -u
cmd=$(tr '\0' '\n' </proc/1/cmdline | head -n 1)
case "${cmd##*/}" in
paystat-ingest) addr=${PAYSTAT_INGEST_HTTP:-off} ;;
paystat-compute) addr=${PAYSTAT_COMPUTE_HTTP:-off} ;;
paystat-publish) addr=${PAYSTAT_PUBLISH_HTTP:-off} ;;
paystat-gateway) addr=${PAYSTAT_GATEWAY_LISTEN:-127.0.0.1:8080} ;;
*)
    echo "healthcheck: PID 1 is not a paystat service: ${cmd:-?}" >&2
    exit 1
    ;;
esac
if [ "$addr" = off ]; then
    echo "healthcheck: the HTTP endpoint of ${cmd##*/} is off" >&2
    exit 1
fi
host=${addr%:*}
port=${addr##*:}
# A service bound to every interface answers on loopback.
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$host" "$port" >&3
IFS= read -r -t 3 status <&3 || status=""
case "$status" in
"HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "healthcheck: GET http://$host:$port/readyz: ${status:-no answer}" >&2
exit 1
