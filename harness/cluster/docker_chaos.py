"""The nemesis of a compose cluster: ``python -m harness.cluster.docker_chaos``.

The ``chaos`` service of docker-compose.yml runs it with the Docker socket mounted::

    python -m harness.cluster.docker_chaos --project mcp-scale \\
        --chaos "kill-node:n1@20s+10s; kill-redis@40s+3s" --duration 60s --out /reports/run

It finds the project's containers by label (see docker_backend), parses the timeline with the
same rules as ``mcp-scale run --chaos``, and runs the ChaosController against DockerCluster,
so faults land in ``<out>/history-nemesis.jsonl`` exactly as the local backend records them,
beside the Locust workers' ``history-w<N>.jsonl``, with a resource sample of every node and
Redis container a second (the engine's stats, and each node's /metrics). Every flag has an
environment default (MCP_SCALE_*) so that the compose file only sets variables.

Exit codes as mcp-scale's: 0 done, 2 bad usage, 3 could not run (no engine, no cluster, no load).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from harness import exit_codes
from harness.chaos.faults import FAULTS, LINK_ACTIONS
from harness.chaos.schedule import ScheduleError, parse_timeline
from harness.cluster.docker_backend import (
    COMPOSE_PROJECT_LABEL,
    PROJECT_LABEL,
    PROJECT_VALUE,
    ClusterNotFound,
    DockerClientLike,
    DockerCluster,
    DockerUnavailable,
    connect,
)
from harness.durations import parse_duration
from harness.history import HistoryWriter
from harness.run.directory import NEMESIS_WRITER, RunFiles, RunManifest, versions
from harness.run.drive import drive


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m harness.cluster.docker_chaos",
        description="Apply a fault timeline to the containers of a compose project.",
    )
    parser.add_argument(
        "--project",
        default=env("MCP_SCALE_PROJECT") or None,
        help="compose project name (default: $MCP_SCALE_PROJECT, else the project of the "
        "container this runs in)",
    )
    parser.add_argument(
        "--chaos",
        default=env("MCP_SCALE_CHAOS", ""),
        help='fault timeline, e.g. "kill-node:n1@20s+10s; kill-redis@40s+3s" ($MCP_SCALE_CHAOS)',
    )
    parser.add_argument("--duration", default=env("MCP_SCALE_DURATION", "60s"), help="e.g. 60s, 5m")
    parser.add_argument(
        "--out", default=env("MCP_SCALE_RUN_DIR"), help="run directory ($MCP_SCALE_RUN_DIR)"
    )
    parser.add_argument(
        "--wait-for-load",
        default=env("MCP_SCALE_WAIT_FOR_LOAD", "0"),
        help="start the clock when the first Locust worker history appears in the run "
        "directory, waiting at most this long (e.g. 120s; 0: start at once)",
    )
    parser.add_argument("--scenario", default=env("MCP_SCALE_SCENARIO", ""))
    parser.add_argument("--users", default=env("MCP_SCALE_USERS", ""))
    parser.add_argument(
        "--health-timeout", default="30s", help="how long a restarted container may take"
    )
    return parser


def detect_project(client: DockerClientLike) -> str:
    """The compose project of the container this process runs in (its hostname is its id)."""
    try:
        me = client.containers.get(socket.gethostname())
    except Exception as exc:  # docker.errors.NotFound, or not in a container at all
        raise ClusterNotFound(
            f"not running in a container of a compose project ({exc}); pass --project NAME"
        ) from exc
    labels = me.labels or {}
    project = labels.get(COMPOSE_PROJECT_LABEL)
    if not project or labels.get(PROJECT_LABEL) != PROJECT_VALUE:
        raise ClusterNotFound(
            "this container is not an mcp-scale compose service (no "
            f"{COMPOSE_PROJECT_LABEL} / {PROJECT_LABEL}={PROJECT_VALUE} labels); pass --project"
        )
    return project


def wait_for_load(files: RunFiles, timeout: float, stop: threading.Event) -> bool:
    """True once a Locust worker has begun its history (users are running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if files.load_histories():
            return True
        stop.wait(0.2)
    return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        duration = parse_duration(args.duration)
        wait = parse_duration(args.wait_for_load)
        health_timeout = parse_duration(args.health_timeout)
    except ValueError as exc:
        return _fail(exit_codes.USAGE, str(exc))
    if not args.out:
        return _fail(exit_codes.USAGE, "--out (or MCP_SCALE_RUN_DIR) is required")
    if duration <= 0:
        return _fail(exit_codes.USAGE, "--duration must be positive")
    run_dir = Path(args.out)
    try:
        client = connect()
        project = args.project or detect_project(client)
        cluster = DockerCluster(
            project, client=client, address="network", health_timeout=health_timeout
        ).start()
    except (DockerUnavailable, ClusterNotFound) as exc:
        return _fail(exit_codes.COULD_NOT_RUN, str(exc))
    try:
        schedule = parse_timeline(args.chaos, cluster.node_ids(), duration)
    except ScheduleError as exc:
        return _fail(exit_codes.USAGE, f"chaos: {exc}")
    impaired = [f.describe() for f in schedule if FAULTS[f.name].action in LINK_ACTIONS]
    if impaired:
        return _fail(
            exit_codes.USAGE,
            f"chaos: {', '.join(impaired)}: containers' links are cut (partition-redis, "
            "isolate-node), not impaired: latency, bandwidth, blackholes and resets need the "
            "fault proxy of the local or command backend",
        )
    print(
        f"docker_chaos: project {project}, nodes {', '.join(cluster.node_ids())}, "
        f"{len(schedule)} faults over {duration:g}s -> {run_dir}",
        flush=True,
    )
    manifest = RunManifest(
        scenario=args.scenario or "notifications",
        backend="docker",
        store="redis",
        nodes=cluster.node_ids(),
        # No URLs: the load reaches the cluster through the load balancer (Locust's --host).
        users=int(args.users) if args.users else 0,
        duration=duration,
        chaos=[fault.describe() for fault in schedule],
        versions=versions(),
    )
    stop = threading.Event()
    _stop_on_signals(stop)
    files = RunFiles(run_dir)
    _hand_over(run_dir, _prepare(files, manifest))
    if wait and not wait_for_load(files, wait, stop):
        return _fail(
            exit_codes.COULD_NOT_RUN, f"no Locust worker history in {run_dir} after {wait:g}s"
        )
    path = files.history(NEMESIS_WRITER)
    with HistoryWriter(path) as history:
        _hand_over(run_dir, [path])
        outcome = drive(
            manifest,
            schedule,
            cluster,
            history,
            until=duration,
            stop=stop,
            samples=cluster.sample_targets(),
        )
    cluster.close()
    for fault, error in outcome.failed:
        print(f"docker_chaos: {fault.describe()} failed: {error}", file=sys.stderr)
    print(f"docker_chaos: {len(outcome.applied)} faults applied, {len(outcome.failed)} failed")
    return exit_codes.PASS


def _fail(code: int, message: str) -> int:
    print(f"docker_chaos: error: {message}", file=sys.stderr)
    return code


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM (docker compose stop/down) and Ctrl-C end the schedule early, cleanly. As PID 1
    in a container, a process without a handler would ignore SIGTERM."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def _prepare(files: RunFiles, manifest: RunManifest) -> list[Path]:
    """The run directory and (unless the run already has one) its manifest, which tells the
    checkers the store, backend and duration of this run."""
    made: list[Path] = []
    if not files.root.exists():
        files.root.mkdir(parents=True)
        made.append(files.root)
    if not files.manifest.exists():
        manifest.write(files)
        made.append(files.manifest)
    return made


def _hand_over(run_dir: Path, paths: list[Path]) -> None:
    """Running as root (to reach the Docker socket), give what we created to the owner of the
    reports directory, so that the files on the host are the user's, not root's."""
    if os.geteuid() != 0:
        return
    owner = run_dir.resolve().parent.stat()
    for path in paths:
        with contextlib.suppress(OSError):
            os.chown(path, owner.st_uid, owner.st_gid)


if __name__ == "__main__":
    sys.exit(main())
