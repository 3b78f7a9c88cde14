"""What every scenario shares: the run's settings, target actions, progress and exit code.

The harness writes the run's manifest (``run.json``, harness.run.directory) into the run
directory and points ``MCP_SCALE_RUN_DIR`` at it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.client.headers import from_env as headers_from_env
from harness.client.locust_user import McpUser
from harness.history import Record
from harness.run import distributed
from harness.run.directory import RUN_DIR_ENV, RunFiles, RunManifest
from harness.target_profile import TargetProfile, load_target_profile, render_arguments


def load_manifest() -> RunManifest:
    """The run's manifest (run.json in $MCP_SCALE_RUN_DIR); a locustfile run by hand, or a
    compose worker whose run has no manifest yet, gets defaults: ``--host`` and the
    reference server's actions."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    manifest = RunManifest.read(run_dir) if run_dir else None
    return manifest or RunManifest(scenario="", backend="local", store="redis")


RUN = load_manifest()
ACTIONS = TargetProfile.from_dict(RUN.actions) if RUN.actions else load_target_profile(None)


class ScenarioUser(McpUser):
    """An McpUser configured from the run, that speaks in target-independent actions."""

    abstract = True
    urls: ClassVar[list[str] | None] = RUN.urls or None
    routing: ClassVar[str] = RUN.routing
    timeout: ClassVar[float] = RUN.request_timeout
    protocol_version: ClassVar[str] = RUN.protocol
    client_options: ClassVar[dict[str, Any]] = {
        "node_names": RUN.node_names,
        "seed": RUN.seed,
        "headers": headers_from_env(),  # the run's static headers (harness.client.headers)
    }

    def __init__(self, environment: Environment) -> None:
        if _remote_worker(environment):
            # The master's manifest says where and how (it comes before the first spawn).
            distributed.received.get(timeout=60)
        super().__init__(environment)

    def action(self, name: str, *, scheduled: float | None = None, **values: Any) -> Record | None:
        """Call the target's tool for action ``name``; None (nothing sent) if it has none.
        ``scheduled``: the call's intended start in an open model (McpClient.request)."""
        mapped = ACTIONS.actions.get(name)
        if mapped is None:
            return None
        if not self.ensure_session():
            return None
        arguments = render_arguments(mapped.arguments, values)
        return self.client.call_tool(mapped.tool, arguments, scheduled=scheduled)

    def has_action(self, name: str) -> bool:
        return name in ACTIONS.actions


def _remote_worker(environment: Environment) -> bool:
    """A Locust worker on another machine (``mcp-scale worker``): no run directory here."""
    return isinstance(environment.runner, WorkerRunner) and not os.environ.get(RUN_DIR_ENV)


def _configure(manifest: RunManifest) -> None:
    """A remote worker takes the run's settings from the master's manifest."""
    global RUN, ACTIONS
    RUN = manifest
    ACTIONS = TargetProfile.from_dict(manifest.actions) if manifest.actions else ACTIONS
    ScenarioUser.urls = manifest.urls or None
    ScenarioUser.routing = manifest.routing
    ScenarioUser.timeout = manifest.request_timeout
    ScenarioUser.protocol_version = manifest.protocol
    ScenarioUser.client_options = {
        "node_names": manifest.node_names,
        "seed": manifest.seed,
        "headers": headers_from_env(),  # `mcp-scale worker --header`: its own copy
    }


def _distribute(environment: Environment, **_: Any) -> None:
    """Remote workers ship their records to the master, which writes the one history."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if _remote_worker(environment):
        distributed.setup_worker(environment, _configure)
    elif isinstance(environment.runner, MasterRunner) and run_dir:
        distributed.setup_master(environment, Path(run_dir))


def _report_progress(environment: Environment, **_: Any) -> None:
    """The master (or the only process) writes progress.json for the harness's live line."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if isinstance(environment.runner, WorkerRunner) or not run_dir:
        return
    target = RunFiles(Path(run_dir)).progress

    def loop() -> None:
        # Bounded: the run's duration plus a generous margin, at one write a second.
        for _ in range(int(RUN.duration) + 600):
            stats = environment.stats.total
            runner = environment.runner
            data = {
                "time": time.time(),
                "users": runner.user_count if runner else 0,
                "rps": stats.current_rps,
                "requests": stats.num_requests,
                "failures": stats.num_failures,
            }
            tmp = target.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(target)
            gevent.sleep(1.0)

    gevent.spawn(loop)


def _verdict_comes_from_checkers(environment: Environment, **_: Any) -> None:
    # Failed requests are expected under chaos: the harness's checkers decide pass or fail.
    environment.process_exit_code = 0


_on_init: Callable[..., Any] = events.init.add_listener
_on_quit: Callable[..., Any] = events.quitting.add_listener
_on_init(_report_progress)
_on_init(_distribute)
_on_quit(_verdict_comes_from_checkers)
