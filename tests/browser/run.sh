#!/usr/bin/env bash
# The dashboard's browser test: headless Debian Chromium driven by
# playwright-core against the real services (tests/browser/dashboard.test.js).
# Installs what it lacks (Debian's chromium, the npm packages of
# package-lock.json), then runs the test.
#   tests/browser/run.sh [BUILD_DIR]      default: <repo>/build, already built
# The screenshot and the services' logs go to $PAYSTAT_BROWSER_OUT
# (default BUILD_DIR/tests/browser).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "browser: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
    echo "browser: playwright-core needs Node.js 20 or later, found $(node --version)" >&2
    exit 1
fi
# npm ci when node_modules is missing or older than the lock file.
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

out=${PAYSTAT_BROWSER_OUT:-$build/tests/browser}
rm -rf "$out"
mkdir -p "$out"
cd "$here"
PAYSTAT_BIN_DIR="$build" PAYSTAT_BROWSER_OUT="$out" node --test --test-timeout=180000 dashboard.test.js
