#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent and quick when already done:
# the project venv with mcp-scale and its dev tools, redis-server (Debian's, when root),
# and the official MCP conformance suite (npm) for the tests.
#
#   scripts/setup.sh            # what `make demo` and `make test` run first
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.mcp-scale-installed"

log() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv at $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when pyproject.toml changed since the last install.
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    log "installing mcp-scale and its dev dependencies"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]"
    echo "$want" > "$STAMP"
fi

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing redis-server from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq redis-server >/dev/null
    else
        log "redis-server is missing: install it (Debian: sudo apt-get install redis-server)"
        exit 2
    fi
fi

if [ "${MCP_SCALE_SKIP_CONFORMANCE:-}" != 1 ]; then
    VENV="$VENV" "$ROOT/scripts/install_conformance.sh"
fi
log "ready"
