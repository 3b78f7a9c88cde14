"""Carries out one run: cluster up, Locust and the nemesis on one clock, everything down.

Whatever happens (a fault, Ctrl-C, SIGTERM, a crash of this code), every process the run
started is stopped before ``execute`` returns, and what was recorded stays in the run
directory so that the run can still be checked and reported.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from harness.client.headers import HEADERS_ENV, to_env
from harness.cluster.base import Cluster, ClusterStartError
from harness.cluster.command import CommandCluster
from harness.cluster.docker_backend import DockerCluster, default_project
from harness.cluster.external import ExternalTarget
from harness.cluster.local import LocalCluster
from harness.cluster.registry import ProcessRegistry, cleanup_orphans
from harness.history import HistoryWriter
from harness.monitor import SampleTarget
from harness.run.directory import HARNESS_WRITER, RUN_DIR_ENV, RunFiles, RunManifest, versions
from harness.run.drive import drive
from harness.run.profile import ProfileError, RunProfile, launch_of, master_address, run_headers
from harness.run.progress import Progress, ProgressPrinter, progress_line
from harness.target_profile import load_target_profile
from scenarios.registry import SCENARIOS

# How long a master waits for its --expect-workers before it gives up (Locust exits).
WORKERS_WAIT = 120
# How long Locust may overrun the planned duration (stop timeout, shutdown) before we end it.
LOCUST_GRACE = 60.0


class RunFailed(RuntimeError):
    """The run could not be carried out (exit code 3); the message says why."""


def execute(
    profile: RunProfile, run_dir: Path, out: TextIO = sys.stdout, cluster: Cluster | None = None
) -> None:
    """One run into ``run_dir``. With ``cluster`` (already started, e.g. by the pytest
    plugin's ``mcp_cluster``), the run drives it and leaves it running for its owner;
    otherwise the run starts its profile's cluster and stops it at the end."""
    files = RunFiles(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    owned = cluster is None
    if owned:
        # A given cluster's owner cleaned up before starting it (and is recorded as us).
        clean_up_crashed_runs(out)
    registry = ProcessRegistry(f"{run_dir.name}-{secrets.token_hex(4)}")
    history = HistoryWriter(files.history(HARNESS_WRITER))
    running = make_cluster(profile, files) if cluster is None else cluster
    try:
        with signals_as_interrupts(), registry.marked():
            if owned:
                start_cluster(running, registry, out)
            _drive(profile, files, running, registry, history, out)
    finally:
        if owned:
            running.close()
        history.close()
        registry.remove()


def clean_up_crashed_runs(out: TextIO) -> None:
    """Stop what runs whose harness was killed left behind (by recorded PID)."""
    stopped = cleanup_orphans()
    if stopped:
        out.write(f"stopped {len(stopped)} processes left by an earlier crashed run\n")


def make_cluster(profile: RunProfile, files: RunFiles) -> Cluster:
    """The profile's cluster backend, not yet started (node logs under ``files.logs``)."""
    return BACKENDS[profile.backend](profile, files)


def _local(profile: RunProfile, files: RunFiles) -> Cluster:
    return LocalCluster(
        nodes=profile.nodes, store=profile.store, defects=tuple(profile.defects), log_dir=files.logs
    )


def _command(profile: RunProfile, files: RunFiles) -> Cluster:
    return CommandCluster(launch_of(profile), profile.nodes, files.root, files.logs)


def _external(profile: RunProfile, files: RunFiles) -> Cluster:
    return ExternalTarget(list(profile.target))


def _docker(profile: RunProfile, files: RunFiles) -> Cluster:
    # The cluster is started by docker compose; the harness only acts on its containers.
    return DockerCluster(default_project(Path.cwd()))


BACKENDS: dict[str, Callable[[RunProfile, RunFiles], Cluster]] = {
    "local": _local,
    "command": _command,
    "external": _external,
    "docker": _docker,
}


def manifest_of(profile: RunProfile, cluster: Cluster) -> RunManifest:
    """What this run is, as every later stage reads it (run.json, the run-start record)."""
    actions = load_target_profile(profile.target_profile, profile.backend)
    return RunManifest(
        scenario=profile.scenario,
        backend=profile.backend,
        store=profile.store,
        nodes=cluster.node_ids(),
        urls=cluster.urls,
        routing=profile.routing or "round_robin",
        users=profile.users,
        spawn_rate=profile.spawn_rate,
        duration=profile.duration,
        shape=profile.shape,
        seed=profile.seed,
        request_timeout=profile.request_timeout,
        chaos=[fault.describe() for fault in profile.fault_schedule()],
        defects=list(profile.defects),
        target_profile=profile.target_profile,
        actions=actions.to_dict(),
        launch=launch_of(profile).to_dict() if profile.backend == "command" else None,
        thresholds=list(profile.thresholds),
        profile=profile.to_dict(),
        versions=versions(),
        protocol=profile.protocol,
        header_names=list(run_headers(profile)),
    )


def start_cluster(cluster: Cluster, registry: ProcessRegistry, out: TextIO) -> None:
    """Start ``cluster``, its processes recorded in ``registry``; RunFailed if it cannot."""
    out.write("starting the cluster...\n")
    out.flush()
    # Record before starting too: a crash mid-start still leaves a trail to clean up.
    registry.record(cluster.processes())
    try:
        cluster.start()
    except ClusterStartError as exc:
        raise RunFailed(str(exc)) from exc
    registry.record(cluster.processes())
    for node_id, url in zip(cluster.node_ids(), cluster.urls, strict=True):
        out.write(f"  {node_id}: {url}\n")


def _drive(
    profile: RunProfile,
    files: RunFiles,
    cluster: Cluster,
    registry: ProcessRegistry,
    history: HistoryWriter,
    out: TextIO,
) -> None:
    manifest = manifest_of(profile, cluster)
    manifest.write(files)
    untested = load_target_profile(profile.target_profile, profile.backend).untested()
    if untested:
        out.write(f"not tested (the target profile has no tool for): {', '.join(untested)}\n")
    printer = ProgressPrinter(out)
    locust = LocustProcess(_start_locust(profile, files, cluster.urls[0]))

    def tick(elapsed: float, faults: int) -> None:
        line = progress_line(elapsed, profile.duration, Progress.read(files.progress), faults)
        printer.show(elapsed, line)
        registry.record(cluster.processes(), groups=(locust.pid,))

    after_faults: list[int] = []  # Locust's request count when the last fault was done

    def enough() -> bool:
        """Called once every planned fault is done: N more requests since (recovery seen)."""
        done = Progress.read(files.progress).requests
        after_faults[:] = after_faults or [done]
        return done - after_faults[0] >= (profile.until_requests or 0)

    loadgen = SampleTarget("loadgen", "loadgen", lambda: locust.pid)
    try:
        registry.record(cluster.processes(), groups=(locust.pid,))
        if master_address(profile) is not None:
            _wait_for_workers(profile, files, locust, out)
        outcome = drive(
            manifest,
            profile.fault_schedule(),
            cluster,
            history,
            until=profile.duration + LOCUST_GRACE,
            load=locust,
            samples=[loadgen, *cluster.sample_targets()],
            sample_every=profile.sample_every,
            tick=tick,
            enough=enough if profile.until_requests else None,
        )
    finally:
        # However the drive ended (a signal may land before its own ``try``), Locust stops.
        if locust.poll() is None:
            locust.stop()
    printer.done()
    if outcome.load_exit is None:
        raise RunFailed(f"Locust did not finish within {LOCUST_GRACE:g}s of the planned end")
    if outcome.load_exit not in (0, 1):
        tail = _tail(files.locust_log)
        raise RunFailed(f"Locust exited with {outcome.load_exit}; see {files.locust_log}:\n{tail}")


def _wait_for_workers(
    profile: RunProfile, files: RunFiles, locust: LocustProcess, out: TextIO
) -> None:
    """The fault timeline starts with the load: once the master's workers run users."""
    out.write(f"waiting for {profile.expect_workers} workers on {profile.master_bind}...\n")
    out.flush()
    deadline = time.monotonic() + WORKERS_WAIT
    while Progress.read(files.progress).users == 0 and locust.poll() is None:
        if time.monotonic() > deadline:
            raise RunFailed(f"{profile.expect_workers} workers did not join in {WORKERS_WAIT}s")
        time.sleep(0.2)


@dataclass(frozen=True)
class LocustProcess:
    """Locust (master and its forked workers) in its own process group, as a drive Load."""

    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        _stop_group(self.process)


def _start_locust(profile: RunProfile, files: RunFiles, host: str) -> subprocess.Popen[bytes]:
    scenario = SCENARIOS[profile.scenario]
    locustfiles = str(scenario.locustfile)
    if profile.shape:
        locustfiles += "," + str(scenario.locustfile.parent / "shapes.py")
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfiles,
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
        str(files.locust_csv_prefix),
    ]
    if profile.processes > 1:
        args += ["--processes", str(profile.processes)]
    master = master_address(profile)
    if master is not None:
        host, port = master
        args += ["--master", "--master-bind-host", host, "--master-bind-port", str(port)]
        args += ["--expect-workers", str(profile.expect_workers)]
        args += ["--expect-workers-max-wait", str(WORKERS_WAIT)]
    env = {**os.environ, RUN_DIR_ENV: str(files.root), "PYTHONUNBUFFERED": "1"}
    try:
        headers = run_headers(profile)
    except ProfileError as exc:
        raise RunFailed(str(exc)) from None
    if headers:
        env[HEADERS_ENV] = to_env(headers)  # values by environment only, never in run.json
    with open(files.locust_log, "ab") as log:
        return subprocess.Popen(args, stdout=log, stderr=log, env=env, start_new_session=True)


def run_worker(host: str, port: int, headers: dict[str, str] | None = None) -> int:
    """A Locust worker of a distributed run (``mcp-scale worker``): the locustfile comes from
    the master (``-f -``), the run's settings too, except header values (its own
    ``--header``, which never travel over the network); its exit code."""
    args = [sys.executable, "-m", "locust", "-f", "-", "--worker"]
    args += ["--master-host", host, "--master-port", str(port), "--loglevel", "WARNING"]
    env = {k: v for k, v in os.environ.items() if k != RUN_DIR_ENV}
    if headers:
        env[HEADERS_ENV] = to_env(headers)
    return subprocess.run(args, env={**env, "PYTHONUNBUFFERED": "1"}, check=False).returncode


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
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM is handled like Ctrl-C: unwinding runs every cleanup in ``finally`` blocks."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
