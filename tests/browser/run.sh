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
# Node.js 18.8 or later: Debian 12's nodejs (18.20) and newer. The pinned
# playwright-core's "engines" (package-lock.json) asks for >= 18, and
# node:test's hook options (the tests' timeouts) came with 18.8.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
              process.exit(a > 18 || (a === 18 && b >= 8) ? 0 : 1)'; then
    echo "browser: the browser test needs Node.js 18.8 or later, found $(node --version)" >&2
    exit 1
fi
# npm ci when node_modules is missing, older than the lock file or holds
# another playwright-core than the lock's (`npm install --package-lock-only`
# rewrites node_modules/.package-lock.json without touching the packages).
json() { # json FILE JS-EXPRESSION-OF-j: prints the value, or nothing
    node -e 'try { const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
                   console.log(eval(process.argv[2]) ?? "") } catch {}' "$1" "$2"
}
want=$(json "$here/package-lock.json" 'j.packages["node_modules/playwright-core"].version')
have=$(json "$here/node_modules/playwright-core/package.json" j.version)
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ] ||
    [ -z "$want" ] || [ "$have" != "$want" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

out=${PAYSTAT_BROWSER_OUT:-$build/tests/browser}
rm -rf "$out"
mkdir -p "$out"
cd "$here"
PAYSTAT_BIN_DIR="$build" PAYSTAT_BROWSER_OUT="$out" node --test dashboard.test.js
