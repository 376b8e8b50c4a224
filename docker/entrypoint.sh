#!/bin/sh
# Picks the service from the container's command; exec, so that the service
# is PID 1 and gets docker stop's SIGTERM directly.
set -e
case "${1:-help}" in
ingest | compute | publish | gateway)
    svc=$1
    shift
    exec "paystat-$svc" "$@"
    ;;
help | --help | -h)
    echo "usage: docker run IMAGE ingest|compute|publish|gateway [OPTIONS]" >&2
    echo "       docker run IMAGE paystat send|sub|... [OPTIONS]" >&2
    echo "       docker run IMAGE COMMAND [ARGS]     (any other command, as is)" >&2
    exit 0
    ;;
esac
exec "$@"
