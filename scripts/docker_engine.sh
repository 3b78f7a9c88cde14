#!/usr/bin/env bash
# A Docker engine for the container tests, on a machine that may have none.
#
#   scripts/docker_engine.sh start    # an engine answers afterwards, or exit 1 and one line why
#   scripts/docker_engine.sh stop     # stops dockerd only if `start` started it
#   scripts/docker_engine.sh status   # exit 0 when an engine answers
#
# `start`, as root: installs Debian's docker.io (dockerd, containerd, runc) and docker-compose
# when missing, and starts dockerd when no engine answers, waiting at most
# $MCP_SCALE_DOCKERD_WAIT seconds (default 60), its output in $STATE/dockerd.log. It records
# the PID in $STATE/dockerd.pid so that `stop` ends that daemon and no other. Not root, or no
# apt-get: it only says whether an engine answers. $STATE is $MCP_SCALE_STATE_DIR, else
# ~/.mcp-scale. The last line of `start` and `status` says what was found (for CI logs).
set -uo pipefail

STATE="${MCP_SCALE_STATE_DIR:-$HOME/.mcp-scale}"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
WAIT="${MCP_SCALE_DOCKERD_WAIT:-60}"

say() { printf 'docker-engine: %s\n' "$*" >&2; }

answers() { timeout 10 docker info >/dev/null 2>&1; }

ours_running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
        && grep -q dockerd "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null
}

install_missing() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "no ${missing[*]} and not root with apt-get: cannot install them"
        return 1
    fi
    say "installing from Debian: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
}

start() {
    if answers; then
        say "an engine answers ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
        return 0
    fi
    command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 \
        && command -v docker-compose >/dev/null 2>&1 || install_missing || return 1
    if [ "$(id -u)" != 0 ]; then
        say "no engine answers and not root: cannot start dockerd"
        return 1
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        say "no dockerd after installing docker.io"
        return 1
    fi
    mkdir -p "$STATE"
    say "starting dockerd (log: $LOG)"
    # Its own session: Ctrl-C in this shell does not reach it; `stop` ends it by PID.
    # No userland proxy: a published port of a stopped container refuses connections, as a
    # dead local node does, instead of accepting and closing them (docker-proxy).
    # shellcheck disable=SC2086
    setsid dockerd ${MCP_SCALE_DOCKERD_ARGS---userland-proxy=false} >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local waited=0
    while [ "$waited" -lt "$WAIT" ]; do
        if answers; then
            say "dockerd $(cat "$PIDFILE") answers after ${waited}s"
            return 0
        fi
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            say "dockerd exited at once; last lines of $LOG:"
            tail -5 "$LOG" >&2
            rm -f "$PIDFILE"
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "dockerd does not answer after ${WAIT}s (see $LOG)"
    stop
    return 1
}

stop() {
    if ! ours_running; then
        rm -f "$PIDFILE"
        return 0
    fi
    local pid
    pid="$(cat "$PIDFILE")"
    say "stopping dockerd $pid (started by this script)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$PIDFILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
    if answers; then say "an engine answers"; else say "no engine answers"; exit 1; fi
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
