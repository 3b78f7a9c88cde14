#!/bin/sh
# Locust in docker-compose.yml.
#   locust.sh master   headless; waits for $MCP_SCALE_WORKERS workers, runs for
#                      $MCP_SCALE_DURATION, writes the CSV stats into the run directory
#   locust.sh worker   runs the users; worker N writes <run dir>/history-wN.jsonl
# The run directory is $MCP_SCALE_RUN_DIR (a bind mount of ./reports on the host).
set -eu

: "${MCP_SCALE_RUN_DIR:=/reports/compose}"
: "${MCP_SCALE_SCENARIO:=notifications}"
: "${MCP_SCALE_HOST:=http://lb:8000/mcp}"
export MCP_SCALE_RUN_DIR

scenario="/app/scenarios/${MCP_SCALE_SCENARIO}.py"
if [ ! -f "$scenario" ]; then
    echo "locust.sh: no scenario '${MCP_SCALE_SCENARIO}' (files in /app/scenarios)" >&2
    exit 2
fi
mkdir -p "$MCP_SCALE_RUN_DIR"

case "${1:-}" in
master)
    exec locust -f "$scenario" --master --headless \
        --expect-workers "${MCP_SCALE_WORKERS:-1}" --expect-workers-max-wait 120 \
        --users "${MCP_SCALE_USERS:-50}" --spawn-rate "${MCP_SCALE_SPAWN_RATE:-10}" \
        --run-time "${MCP_SCALE_DURATION:-60s}" --stop-timeout 5 \
        --host "$MCP_SCALE_HOST" \
        --csv "$MCP_SCALE_RUN_DIR/locust" --only-summary --loglevel WARNING
    ;;
worker)
    exec locust -f "$scenario" --worker --master-host "${LOCUST_MASTER_HOST:-locust-master}" \
        --host "$MCP_SCALE_HOST" --loglevel WARNING
    ;;
*)
    echo "usage: locust.sh master|worker" >&2
    exit 2
    ;;
esac
