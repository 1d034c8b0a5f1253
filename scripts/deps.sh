#!/bin/sh
# deps.sh - install what engage needs to build, run and test, when missing.
# Debian packages through apt-get; Node and npm from Debian only when the
# machine has none of its own; the pinned npm test tools from the lockfile.
# Does nothing when everything is present. Run as root (or with sudo).
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev
libsodium-dev libcmocka-dev curl python3 python3-pytest python3-yaml sqlite3
postgresql-15 libpq-dev nginx openssl clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $p"
    fi
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
fi
if [ -n "$missing" ]; then
    echo "deps: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >&2
fi

# The npm test tools (Prism), pinned in package-lock.json. Only for tests.
if [ "${1:-}" = "--test" ]; then
    if [ ! -x node_modules/.bin/prism ] || [ ! -x node_modules/.bin/redocly ] ||
        [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "deps: npm ci" >&2
        npm ci --no-audit --no-fund --loglevel=error >&2
    fi
fi
