#!/bin/sh
# Picks the service from the container's command; exec, so that the service
# is PID 1 and gets docker stop's SIGTERM directly.
# `keys` manages the CURVE keys in $PAYSTAT_KEYS_DIR (docker/README.md,
# "Security"): compose runs it once before the services.
set -e
keys_dir=${PAYSTAT_KEYS_DIR:-/var/lib/paystat/keys}
# The allowed-key directory ("ring") of each domain: who may connect to whom.
rings="producers ingests computes subscribers"
# The pairs `keys` makes, each with the ring its public key goes to (- for
# none: no one connects to publish as "publish").
pairs="ingest:ingests compute:computes publish:- gateway:subscribers producer:producers subscriber:subscribers"
# Compute lets an ingest's key speak only for the ingest id it is named
# after, so ingest's public key is admitted under its id.
ingest_id=${PAYSTAT_INGEST_ID:-ingest-1}

keys_usage() {
    echo "usage: keys [init]                         make the missing keys, rings and access file" >&2
    echo "       keys allow RING NAME <NAME.key       admit a public key (RING: $rings)" >&2
    echo "       keys revoke RING NAME                remove it" >&2
    echo "       keys grant NAME SOURCE|'*'...        set NAME's line in the access file (no SOURCE: remove it)" >&2
    echo "       keys show                            list the rings and the access file" >&2
    echo "Then send SIGHUP to the services that read them (docker compose kill -s HUP ingest)." >&2
}

keys_fail() {
    echo "keys: $*" >&2
    exit 2
}

keys_check_ring() {
    case " $rings " in
    *" $1 "*) ;;
    *) keys_fail "unknown ring '$1': one of $rings" ;;
    esac
}

# The public key in key file $1.
keys_public() {
    sed -n 's/^[[:space:]]*public-key[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$1"
}

# The same rule as paystat keygen's (ps_curve_name_valid), so that a name
# accepted here names a key file the services accept; and no leading dot,
# since key directories skip dot files.
keys_check_name() {
    case "$1" in
    "" | .* | *[!A-Za-z0-9_.-]*) keys_fail "key name '$1' must be 1 to 64 of A-Z a-z 0-9 _ . -, not starting with ." ;;
    esac
    [ "${#1}" -le 64 ] || keys_fail "key name '$1' is longer than 64 characters"
}

# Makes what is missing and nothing else, so that it runs before every
# `up` and after upgrades without touching the keys in use, and without
# re-admitting a key an operator revoked: a built-in key goes into its ring
# only when its pair is made.
keys_init() {
    if [ ! -d "$keys_dir" ] || [ ! -w "$keys_dir" ]; then
        keys_fail "$keys_dir must be a directory writable by $(id -un) (the keys volume)"
    fi
    case "$ingest_id" in
    "" | .* | *[!A-Za-z0-9_.-]*) keys_fail "PAYSTAT_INGEST_ID '$ingest_id' cannot name ingest's key" ;;
    esac
    umask 022 # public keys and rings readable; keygen makes secrets 0600 itself
    for ring in $rings; do mkdir -p "$keys_dir/$ring"; done
    for pair in $pairs; do
        name=${pair%%:*}
        ring=${pair#*:}
        [ -f "$keys_dir/$name.key_secret" ] && continue
        entry=$name
        [ "$name" != ingest ] || entry=$ingest_id
        # The secret file appears last, so a run cut short is redone whole.
        tmp="$keys_dir/.new-$name"
        rm -rf "$tmp"
        mkdir "$tmp"
        paystat keygen "$name" --dir "$tmp" >/dev/null
        if [ "$ring" != - ]; then
            cp "$tmp/$name.key" "$keys_dir/$ring/.$entry.key.new"
            mv -f "$keys_dir/$ring/.$entry.key.new" "$keys_dir/$ring/$entry.key"
        fi
        mv -f "$tmp/$name.key" "$keys_dir/$name.key"
        mv "$tmp/$name.key_secret" "$keys_dir/$name.key_secret"
        rmdir "$tmp"
        if [ "$ring" = - ]; then
            echo "keys: made the key pair $name"
        else
            echo "keys: made the key pair $name, admitted in $ring/$entry.key"
        fi
    done
    # PAYSTAT_INGEST_ID changed since: ingest's key follows it under its new
    # name (a key listed twice would be an error).
    if [ ! -e "$keys_dir/ingests/$ingest_id.key" ]; then
        own=$(keys_public "$keys_dir/ingest.key")
        for f in "$keys_dir/ingests"/*.key; do
            if [ -e "$f" ] && [ "$(keys_public "$f")" = "$own" ]; then
                mv "$f" "$keys_dir/ingests/$ingest_id.key"
                echo "keys: ingest's key renamed to $ingest_id in ingests/"
            fi
        done
    fi
    if [ ! -e "$keys_dir/access" ]; then
        printf '%s\n' \
            "# Sources each producer key may write (paystat-ingest --access):" \
            "# NAME SOURCE [SOURCE ...], or NAME * for every source." \
            "producer *" >"$keys_dir/.access.new"
        mv "$keys_dir/.access.new" "$keys_dir/access"
        echo "keys: made the access file (producer: every source)"
    fi
}

keys_allow() {
    [ $# -eq 2 ] || {
        keys_usage
        exit 2
    }
    keys_check_ring "$1"
    keys_check_name "$2"
    dest="$keys_dir/$1/$2.key"
    [ ! -e "$dest" ] || keys_fail "$1/$2.key exists; revoke it first to replace it"
    tmp="$keys_dir/$1/.$2.key.new"
    cat >"$tmp"
    # A secret key file sent by mistake must not land where keys are public.
    if grep -q 'secret-key' "$tmp"; then
        rm -f "$tmp"
        keys_fail "the file on stdin holds a secret key: send the public NAME.key, not NAME.key_secret"
    fi
    if ! grep -Eq '^[[:space:]]*public-key[[:space:]]*=[[:space:]]*"[^"]{40}"' "$tmp"; then
        rm -f "$tmp"
        keys_fail "no public-key = \"...\" (40 characters) on stdin: give the NAME.key file paystat keygen wrote"
    fi
    chmod 0644 "$tmp"
    mv "$tmp" "$dest"
    echo "keys: admitted $2 in $1/ (reload the service that reads $1/ with SIGHUP)"
}

keys_revoke() {
    [ $# -eq 2 ] || {
        keys_usage
        exit 2
    }
    keys_check_ring "$1"
    keys_check_name "$2"
    [ -e "$keys_dir/$1/$2.key" ] || keys_fail "no key $2 in $1/"
    rm -f "$keys_dir/$1/$2.key"
    echo "keys: revoked $2 from $1/ (reload the service that reads $1/ with SIGHUP)"
}

keys_grant() {
    [ $# -ge 1 ] || {
        keys_usage
        exit 2
    }
    name=$1
    shift
    keys_check_name "$name"
    access="$keys_dir/access"
    tmp="$keys_dir/.access.new"
    # Every line but NAME's, then NAME's new one: a name listed twice is an
    # error for ingest.
    if [ -e "$access" ]; then
        awk -v n="$name" '$1 != n' "$access" >"$tmp"
    else
        : >"$tmp"
    fi
    [ $# -eq 0 ] || echo "$name $*" >>"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$access"
    if [ $# -eq 0 ]; then
        echo "keys: $name may write no source (reload ingest with SIGHUP)"
    else
        echo "keys: $name may write $* (reload ingest with SIGHUP)"
    fi
}

keys_show() {
    for ring in $rings; do
        printf '%s/:' "$ring"
        for f in "$keys_dir/$ring"/*.key; do
            [ -e "$f" ] || continue
            f=${f##*/}
            printf ' %s' "${f%.key}"
        done
        echo
    done
    if [ -e "$keys_dir/access" ]; then
        echo "access:"
        sed 's/^/  /' "$keys_dir/access"
    else
        echo "access: missing (keys init makes it)"
    fi
}

keys() {
    cmd=${1:-init}
    [ $# -eq 0 ] || shift
    case "$cmd" in
    init) keys_init ;;
    allow) keys_allow "$@" ;;
    revoke) keys_revoke "$@" ;;
    grant) keys_grant "$@" ;;
    show) keys_show ;;
    help | --help | -h) keys_usage ;;
    *)
        keys_usage
        exit 2
        ;;
    esac
}

case "${1:-help}" in
ingest | compute | publish | gateway)
    svc=$1
    shift
    exec "paystat-$svc" "$@"
    ;;
keys)
    shift
    keys "$@"
    exit 0
    ;;
help | --help | -h)
    echo "usage: docker run IMAGE ingest|compute|publish|gateway [OPTIONS]" >&2
    echo "       docker run IMAGE keys [init|allow|revoke|grant|show ...]" >&2
    echo "       docker run IMAGE paystat send|sub|... [OPTIONS]" >&2
    echo "       docker run IMAGE COMMAND [ARGS]     (any other command, as is)" >&2
    exit 0
    ;;
esac
exec "$@"
