"""Carries out one run: cluster up, Locust and the nemesis on one clock, everything down.

Whatever happens (a fault, Ctrl-C, SIGTERM, a crash of this code), every process the run
started is stopped before ``execute`` returns, and what was recorded stays in the run
directory so that the run can still be checked and reported.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TextIO

from harness.chaos.controller import ChaosController
from harness.cluster.docker_backend import (
    ClusterNotFound,
    DockerCluster,
    DockerUnavailable,
    default_project,
)
from harness.cluster.external import ExternalTarget, TargetUnreachable
from harness.cluster.local import LocalCluster
from harness.cluster.node_process import NodeProcess, NodeStartError
from harness.cluster.redis_process import RedisNotAvailable
from harness.cluster.registry import ProcessRegistry, cleanup_orphans
from harness.history import HistoryWriter, history_path, make_record
from harness.monitor import ResourceSampler, SampleTarget
from harness.run.profile import RunProfile
from harness.run.progress import Progress, ProgressPrinter, progress_line
from harness.target_profile import load_target_profile
from scenarios.registry import SCENARIOS

RUN_CONFIG = "run.json"
Backend = LocalCluster | ExternalTarget | DockerCluster
# How long Locust may overrun the planned duration (stop timeout, shutdown) before we end it.
LOCUST_GRACE = 60.0


class RunFailed(RuntimeError):
    """The run could not be carried out (exit code 3); the message says why."""


def execute(profile: RunProfile, run_dir: Path, out: TextIO = sys.stdout) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "profile.json").write_text(json.dumps(profile.to_dict(), indent=2))
    stopped = cleanup_orphans()
    if stopped:
        out.write(f"stopped {len(stopped)} processes left by an earlier crashed run\n")
    registry = ProcessRegistry(f"{run_dir.name}-{secrets.token_hex(4)}")
    history = HistoryWriter(history_path(run_dir, "harness"))
    backend = _backend(profile, run_dir)
    try:
        with _signals_as_interrupts():
            _start(backend, registry, out)
            _drive(profile, run_dir, backend, registry, history, out)
    finally:
        backend.close()
        history.close()
        registry.remove()


def _backend(profile: RunProfile, run_dir: Path) -> Backend:
    if profile.backend == "external":
        return ExternalTarget(list(profile.target))
    if profile.backend == "docker":
        # The cluster is started by docker compose; the harness only acts on its containers.
        return DockerCluster(default_project(Path.cwd()))
    return LocalCluster(
        nodes=profile.nodes,
        store=profile.store,
        defects=tuple(profile.defects),
        log_dir=run_dir / "logs",
    )


def _start(backend: Backend, registry: ProcessRegistry, out: TextIO) -> None:
    out.write("starting the cluster...\n")
    out.flush()
    try:
        if isinstance(backend, LocalCluster):
            # Record before starting too: a crash mid-start still leaves a trail to clean up.
            registry.record({})
        backend.start()
    except (
        NodeStartError,
        RedisNotAvailable,
        TargetUnreachable,
        DockerUnavailable,
        ClusterNotFound,
    ) as exc:
        raise RunFailed(str(exc)) from exc
    registry.record(backend.processes())
    for node_id, url in zip(backend.node_ids(), backend.urls, strict=True):
        out.write(f"  {node_id}: {url}\n")


def _drive(
    profile: RunProfile,
    run_dir: Path,
    backend: Backend,
    registry: ProcessRegistry,
    history: HistoryWriter,
    out: TextIO,
) -> None:
    urls = backend.urls
    actions = load_target_profile(profile.target_profile, profile.backend)
    names = dict(zip(urls, backend.node_ids(), strict=True))
    config = {
        "run_dir": str(run_dir),
        "scenario": profile.scenario,
        "targets": urls,
        "node_names": names,
        "routing": profile.routing,
        "store": profile.store,
        "seed": profile.seed,
        "users": profile.users,
        "spawn_rate": profile.spawn_rate,
        "duration": profile.duration,
        "shape": profile.shape,
        "request_timeout": profile.request_timeout,
        "actions": actions.to_dict(),
    }
    (run_dir / RUN_CONFIG).write_text(json.dumps(config, indent=2))
    untested = actions.untested()
    if untested:
        out.write(f"not tested (the target profile has no tool for): {', '.join(untested)}\n")
    chaos = ChaosController(profile.fault_schedule(), backend, history.write)
    zero = time.time()
    history.write(make_record("ok", "harness", "run-start", profile.to_dict()))
    locust = _start_locust(profile, run_dir, urls[0])
    registry.record(backend.processes(), groups=(locust.pid,))
    chaos.start(zero)
    sampler = ResourceSampler(
        sample_targets(backend, locust.pid), history.write, profile.sample_every
    )
    sampler.start()
    printer = ProgressPrinter(out)
    exit_code: int | None = None
    try:
        deadline = zero + profile.duration + LOCUST_GRACE
        while time.time() < deadline:  # bounded by the run's duration plus a grace period
            exit_code = locust.poll()
            if exit_code is not None:
                break
            elapsed = time.time() - zero
            line = progress_line(
                elapsed, profile.duration, Progress.read(run_dir), len(chaos.applied)
            )
            printer.show(elapsed, line)
            registry.record(backend.processes(), groups=(locust.pid,))
            time.sleep(1.0)
        printer.done()
    finally:
        chaos.stop()
        sampler.stop()
        if locust.poll() is None:
            _stop_group(locust)
    history.write(
        make_record(
            "ok",
            "harness",
            "run-end",
            {
                "locust_exit": exit_code,
                "faults": len(chaos.applied),
                "monitor": sampler.stats(),
            },
        )
    )
    history.flush()
    if exit_code is None:
        raise RunFailed(f"Locust did not finish within {LOCUST_GRACE:g}s of the planned end")
    if exit_code not in (0, 1):
        tail = _tail(run_dir / "locust.log")
        raise RunFailed(f"Locust exited with {exit_code}; see {run_dir / 'locust.log'}:\n{tail}")


def sample_targets(backend: Backend, loadgen_pid: int) -> list[SampleTarget]:
    """What the monitor samples: processes this run started (by PID), and Redis's INFO."""
    targets = [SampleTarget("loadgen", "loadgen", lambda: loadgen_pid)]
    if isinstance(backend, LocalCluster):
        for node in backend.members.values():
            targets.append(
                SampleTarget(
                    node.node_id,
                    "node",
                    partial(_pid_if_alive, node),
                    metrics_url=f"{node.base_url}/metrics",
                )
            )
        redis = backend.redis
        if redis is not None:
            targets.append(SampleTarget("redis", "redis", lambda: redis.pid, redis_url=redis.url))
    return targets


def _pid_if_alive(node: NodeProcess) -> int | None:
    return node.pid if node.alive() else None


def _start_locust(profile: RunProfile, run_dir: Path, host: str) -> subprocess.Popen[bytes]:
    scenario = SCENARIOS[profile.scenario]
    files = str(scenario.locustfile)
    if profile.shape:
        files += "," + str(scenario.locustfile.parent / "shapes.py")
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        files,
        "--headless",
        "--users",
        str(profile.users),
        "--spawn-rate",
        str(profile.spawn_rate),
        "--run-time",
        f"{max(1, round(profile.duration))}s",
        "--stop-timeout",
        "5",
        "--host",
        host,
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        str(run_dir / "locust"),
    ]
    if profile.processes > 1:
        args += ["--processes", str(profile.processes)]
    env = {
        **os.environ,
        "MCP_SCALE_RUN": str(run_dir / RUN_CONFIG),
        "MCP_SCALE_RUN_DIR": str(run_dir),
        "PYTHONUNBUFFERED": "1",
    }
    with open(run_dir / "locust.log", "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=log, env=env, start_new_session=True)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM Locust's process group (master and its forked workers), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM is handled like Ctrl-C: unwinding runs every cleanup in ``finally`` blocks."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
