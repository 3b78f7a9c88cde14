"""The drive loop: the nemesis, the resource monitor and the load on one clock.

Shared by ``mcp-scale run`` (the load is a Locust process it started) and the compose
nemesis (the load runs in other containers: nothing to watch but the clock). Between the
run-start and run-end records of the history, faults are applied on the schedule, resources
are sampled, and ``tick`` is called about once a second (the progress line, the registry).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.chaos.controller import ChaosController
from harness.chaos.faults import Fault
from harness.cluster.base import Cluster
from harness.history import HARNESS, RUN_END, RUN_START, HistoryWriter, make_record
from harness.monitor import ResourceSampler, SampleTarget
from harness.run.directory import RunManifest

TICK = 1.0  # seconds between ticks (progress line, registry) and checks of the load


class Load(Protocol):
    """The load generator as the loop sees it."""

    def poll(self) -> int | None:
        """Its exit code once it has ended, else None."""
        ...

    def stop(self) -> None: ...


@dataclass
class DriveOutcome:
    load_exit: int | None  # None: no load watched, or it had not ended by the deadline
    ended_early: bool = False  # ``enough`` said so: the load was stopped, not timed out
    applied: list[Fault] = field(default_factory=list)
    failed: list[tuple[Fault, str]] = field(default_factory=list)
    monitor: dict[str, float] = field(default_factory=dict)


def drive(
    manifest: RunManifest,
    schedule: list[Fault],
    cluster: Cluster,
    history: HistoryWriter,
    *,
    until: float,
    load: Load | None = None,
    samples: list[SampleTarget] | None = None,
    sample_every: float = 1.0,
    tick: Callable[[float, int], None] | None = None,
    stop: threading.Event | None = None,
    enough: Callable[[], bool] | None = None,
) -> DriveOutcome:
    """Run the schedule from now until the load ends or ``until`` seconds have passed (or
    ``stop`` is set, or ``enough()`` once every planned fault is done: the load is then
    stopped); ``tick(elapsed, faults applied)`` about every second."""
    stop = stop or threading.Event()
    chaos = ChaosController(schedule, cluster, history.write)
    sampler = ResourceSampler(samples, history.write, sample_every) if samples else None
    outcome = DriveOutcome(load_exit=None)
    # Everything from here is inside ``try``: a Ctrl-C or SIGTERM (raised as KeyboardInterrupt
    # wherever the main thread is) still stops the nemesis, the monitor and the load.
    try:
        zero = time.time()
        history.write(make_record("ok", HARNESS, RUN_START, manifest.to_dict()))
        chaos.start(zero)
        if sampler is not None:
            sampler.start()
        # Bounded: ``until`` seconds, checked every tick.
        while not stop.is_set() and (elapsed := time.time() - zero) < until:
            if load is not None and (code := load.poll()) is not None:
                outcome.load_exit = code
                break
            if enough is not None and chaos.done and enough():
                outcome.ended_early = True
                break
            if tick is not None:
                tick(elapsed, len(chaos.applied))
            stop.wait(min(TICK, max(0.0, until - elapsed)))
    finally:
        chaos.stop()
        if sampler is not None:
            sampler.stop()
            outcome.monitor = sampler.stats()
        if load is not None and load.poll() is None:
            load.stop()
            if outcome.ended_early:
                outcome.load_exit = load.poll()
    outcome.applied, outcome.failed = list(chaos.applied), list(chaos.failed)
    end: dict[str, Any] = {"faults": len(chaos.applied), "backend": manifest.backend}
    if load is not None:
        end["locust_exit"] = outcome.load_exit
    if sampler is not None:
        end["monitor"] = outcome.monitor
    history.write(make_record("ok", HARNESS, RUN_END, end))
    history.flush()
    return outcome
