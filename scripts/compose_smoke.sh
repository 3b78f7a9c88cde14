#!/usr/bin/env bash
# The compose cluster built, started, attacked, reported and removed: `make compose-smoke`.
#
#   scripts/compose_smoke.sh [run|profile|defect|partition|all]     (default: run)
#
#   run      mcp-scale run --backend docker from the host (the harness on the host, the cluster
#            in containers, reached only through ports published on 127.0.0.1): scenario mixed,
#            50 users, 40 s, a node killed and restarted, one paused, Redis killed for 3 s.
#   profile  the same cluster with Locust and the nemesis as containers
#            (`docker compose --profile chaos up`), then `mcp-scale report reports/<name>`.
#   defect   the nodes with --defect local-broadcast (deploy/defect-local-broadcast.yml): the
#            run must fail, and its broadcast checker must be the one that says so.
#   partition  network faults: n1 cut from Redis (its requests answered 503), n2 cut from the
#            load balancer and clients, each healed after 5 s.
#   all      run, profile and defect, one after the other (one image build).
#
# Each part runs in its own compose project (mcpscale-smoke-<random>) on free host ports and
# removes it (containers, network, volume) when done, failed or interrupted. Results go to
# $MCP_SCALE_SMOKE_OUT (default reports/compose-smoke-<time>), with timings.txt: how long the
# base images, the image build, the cluster start, the run and the teardown took.
# Exit: 0 all as expected, 1 an expectation failed, 3 no Docker engine (or no compose).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# This tree's harness, whatever the venv has installed.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
MODE="${1:-run}"
VENV="${VENV:-$ROOT/.venv}"
PY="${PYTHON:-$VENV/bin/python}"
STAMP="$(date +%Y%m%d-%H%M%S)"
OUT="${MCP_SCALE_SMOKE_OUT:-$ROOT/reports/compose-smoke-$STAMP}"
CHAOS="kill-node:n1@10s; restart-node:n1@16s; pause-node:n2@22s+4s; kill-redis@30s+3s"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
TIMINGS="$OUT/timings.txt"
FAILED=0
PROJECT=""

say() { printf 'compose-smoke: %s\n' "$*" >&2; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { printf '%-28s %6ss\n' "$1" "$2" | tee -a "$TIMINGS" >&2; }
expect() { # expect "what" command...: record a failed expectation, keep going
    local what="$1"
    shift
    if "$@"; then say "ok: $what"; else say "FAILED: $what"; FAILED=1; fi
}

if ! timeout 10 docker info >/dev/null 2>&1; then
    say "no Docker engine answers (scripts/docker_engine.sh start, as root, starts one)"
    exit 3
fi
if command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
else
    say "neither docker-compose nor the docker compose plugin is installed"
    exit 3
fi

# Containers cannot raise their open-file limit above the engine's.
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ]; then
    [ "$hard" -lt 65536 ] && export MCP_SCALE_NOFILE="$hard"
    [ "$hard" -lt 200000 ] && export MCP_SCALE_LB_NOFILE="$hard"
fi

ports() { "$PY" -c '
import socket
sockets = [socket.socket() for _ in range(4)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))'; }

compose() { "${COMPOSE[@]}" -p "$PROJECT" "${FILES[@]}" "$@"; }

left_over() { # what of $PROJECT is still there: containers, networks, volumes
    local label="label=com.docker.compose.project=$PROJECT"
    {
        docker ps -aq --filter "$label"
        docker network ls -q --filter "$label"
        docker volume ls -q --filter "$label"
    } | wc -l
}

down() {
    [ -n "$PROJECT" ] || return 0
    local began
    began="$(now)"
    compose --profile chaos down -v --remove-orphans -t 5 >"$OUT/$PART-down.log" 2>&1
    timing "$PART: teardown" "$(took "$began")"
    local left
    left="$(left_over)"
    if [ "$left" != 0 ]; then
        say "FAILED: $left containers/networks/volumes of $PROJECT left after teardown"
        FAILED=1
    else
        say "ok: nothing of $PROJECT left (containers, networks, volumes)"
    fi
    PROJECT=""
}

interrupted() {
    say "interrupted: removing $PROJECT"
    down
    exit 130
}
trap down EXIT
trap interrupted INT TERM

# up PART [compose files...]: a fresh project on free ports, Redis, three nodes and HAProxy up
# and healthy.
up() {
    PART="$1"
    shift
    FILES=(-f docker-compose.yml)
    for extra in "$@"; do FILES+=(-f "$extra"); done
    PROJECT="mcpscale-smoke-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    read -r lb n1 n2 n3 <<<"$(ports)"
    export COMPOSE_PROJECT_NAME="$PROJECT" MCP_SCALE_LB_PORT="$lb" MCP_SCALE_NODE1_PORT="$n1" \
        MCP_SCALE_NODE2_PORT="$n2" MCP_SCALE_NODE3_PORT="$n3"
    local began
    began="$(now)"
    if ! compose up -d lb >"$OUT/$PART-up.log" 2>&1; then
        say "FAILED: $PART: the cluster did not start (see $OUT/$PART-up.log)"
        tail -5 "$OUT/$PART-up.log" >&2
        return 1
    fi
    local waited=0
    until curl -fsS -m 2 "http://127.0.0.1:$lb/healthz" >/dev/null 2>&1; do
        waited=$((waited + 1))
        if [ "$waited" -gt 60 ]; then
            say "FAILED: $PART: the load balancer is not healthy after 60s"
            return 1
        fi
        sleep 0.5
    done
    timing "$PART: cluster start" "$(took "$began")"
}

build() {
    local began
    began="$(now)"
    local images
    images="$("$ROOT/scripts/build_base_images.sh")" || return 1
    # shellcheck disable=SC2046
    export $(echo "$images" | tr '\n' ' ')
    timing "base images" "$(took "$began")"
    began="$(now)"
    FILES=(-f docker-compose.yml)
    PROJECT="mcpscale-build" PART=build
    if ! compose build --force-rm node1 >"$OUT/build.log" 2>&1; then
        say "FAILED: the image build (see $OUT/build.log)"
        tail -20 "$OUT/build.log" >&2
        PROJECT=""
        return 1
    fi
    PROJECT=""
    timing "image build" "$(took "$began")"
}

check() { # check RUN_DIR WHAT...: the run's summary as expected (harness/../scripts/smoke_check.py)
    "$PY" "$ROOT/scripts/smoke_check.py" "$@"
}

part_run() {
    up run || { FAILED=1; down; return; }
    local began
    began="$(now)"
    "$PY" -m harness.cli run --backend docker --scenario mixed --users 50 --duration 40s \
        --chaos "$CHAOS" --out "$OUT/run" 2>&1 | tee "$OUT/run.log" | tail -11 >&2
    timing "run: mcp-scale run (40 s)" "$(took "$began")"
    down
    expect "run: sessions survive, Redis outage answered 503, survival chart" \
        check "$OUT/run" survival outage-503 chart samples
}

part_profile() {
    up profile || { FAILED=1; down; return; }
    local name="compose-smoke-$STAMP-profile"
    local began
    began="$(now)"
    # Locust and the nemesis as containers, writing to ./reports/<name> as this user.
    MCP_SCALE_RUN_NAME="$name" MCP_SCALE_SCENARIO=mixed MCP_SCALE_USERS=50 \
        MCP_SCALE_DURATION=40s MCP_SCALE_CHAOS="$CHAOS" MCP_SCALE_UID="$(id -u)" \
        MCP_SCALE_GID="$(id -g)" compose --profile chaos up -d >>"$OUT/profile-up.log" 2>&1
    local master chaos
    master="$(compose ps -q locust-master)"
    chaos="$(compose ps -q chaos)"
    timeout 300 docker wait "$master" "$chaos" >/dev/null
    compose logs --no-color locust-master chaos >"$OUT/profile-containers.log" 2>&1
    timing "profile: compose run (40 s)" "$(took "$began")"
    down
    rm -rf "$OUT/profile"
    mv "$ROOT/reports/$name" "$OUT/profile"
    began="$(now)"
    "$PY" -m harness.cli report "$OUT/profile" 2>&1 | tail -12 >&2
    timing "profile: mcp-scale report" "$(took "$began")"
    # Survival is shown, not required, here: the survival checker counts a session whose
    # DELETE ended unknown (node killed mid-request) and was then answered 404 as lost.
    check "$OUT/profile" survival >&2 || true
    expect "profile: Locust and the nemesis as containers, then mcp-scale report" \
        check "$OUT/profile" outage-503 chart samples
}

part_partition() {
    up partition || { FAILED=1; down; return; }
    local began
    began="$(now)"
    "$PY" -m harness.cli run --backend docker --scenario mixed --users 30 --duration 25s \
        --chaos "partition-redis:n1@5s+5s; isolate-node:n2@13s+5s" --out "$OUT/partition" 2>&1 \
        | tee "$OUT/partition.log" | tail -11 >&2
    timing "partition: mcp-scale run (25 s)" "$(took "$began")"
    down
    expect "partition: n1 cut from Redis, n2 cut from clients, both healed" \
        check "$OUT/partition" partitions
}

part_defect() {
    up defect deploy/defect-local-broadcast.yml || { FAILED=1; down; return; }
    local began
    began="$(now)"
    "$PY" -m harness.cli run --backend docker --scenario subscriptions --users 20 \
        --duration 15s --out "$OUT/defect" 2>&1 | tee "$OUT/defect.log" | tail -10 >&2
    timing "defect: mcp-scale run (15 s)" "$(took "$began")"
    down
    expect "defect: --defect local-broadcast caught by the broadcast checker" \
        check "$OUT/defect" broadcast-fails
}

: >"$TIMINGS"
total="$(now)"
build || exit 1
case "$MODE" in
run) part_run ;;
profile) part_profile ;;
defect) part_defect ;;
partition) part_partition ;;
all)
    part_run
    part_profile
    part_defect
    ;;
*) say "usage: $0 [run|profile|defect|partition|all]"; exit 2 ;;
esac
timing "total ($MODE)" "$(took "$total")"
say "results and logs: $OUT"
exit "$FAILED"
