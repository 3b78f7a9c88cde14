"""What every scenario shares: the run's settings, target actions, progress and exit code.

The harness writes ``run.json`` into the run directory and points ``MCP_SCALE_RUN`` at it; a
locustfile run by hand without it falls back to ``--host`` and the reference server's actions.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.client.locust_user import RUN_DIR_ENV, McpUser
from harness.history import Record
from harness.target_profile import TargetProfile, load_target_profile, render_arguments

RUN_ENV = "MCP_SCALE_RUN"
PROGRESS_FILE = "progress.json"


@dataclass
class RunSettings:
    run_dir: str | None = None
    targets: list[str] = field(default_factory=list)
    node_names: dict[str, str] = field(default_factory=dict)
    routing: str = "round_robin"
    store: str = "redis"
    seed: int = 1
    users: int = 10
    spawn_rate: float = 10.0
    duration: float = 60.0
    shape: str | None = None
    request_timeout: float = 10.0
    actions: TargetProfile = field(default_factory=lambda: load_target_profile(None))

    @classmethod
    def load(cls) -> RunSettings:
        path = os.environ.get(RUN_ENV)
        if not path:
            return cls()
        data: dict[str, Any] = json.loads(Path(path).read_text())
        known = {name for name in cls.__dataclass_fields__ if name != "actions"}
        settings = cls(**{k: v for k, v in data.items() if k in known})
        settings.actions = TargetProfile.from_dict(data["actions"])
        if settings.run_dir:
            os.environ.setdefault(RUN_DIR_ENV, settings.run_dir)
        return settings


RUN = RunSettings.load()


class ScenarioUser(McpUser):
    """An McpUser configured from the run, that speaks in target-independent actions."""

    abstract = True
    urls: ClassVar[list[str] | None] = RUN.targets or None
    routing: ClassVar[str] = RUN.routing
    timeout: ClassVar[float] = RUN.request_timeout
    client_options: ClassVar[dict[str, Any]] = {"node_names": RUN.node_names, "seed": RUN.seed}

    def action(self, name: str, **values: Any) -> Record | None:
        """Call the target's tool for action ``name``; None (nothing sent) if it has none."""
        mapped = RUN.actions.actions.get(name)
        if mapped is None:
            return None
        if not self.ensure_session():
            return None
        return self.client.call_tool(mapped.tool, render_arguments(mapped.arguments, values))

    def has_action(self, name: str) -> bool:
        return name in RUN.actions.actions


def _report_progress(environment: Environment, **_: Any) -> None:
    """The master (or the only process) writes progress.json for the harness's live line."""
    if isinstance(environment.runner, WorkerRunner) or not RUN.run_dir:
        return
    target = Path(RUN.run_dir) / PROGRESS_FILE

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
_on_quit(_verdict_comes_from_checkers)
