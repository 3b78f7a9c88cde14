"""Fault schedules (pure) and the controller that applies them, with a fake clock and target."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from harness.chaos import ChaosController, Fault, parse_timeline, periodic_schedule
from harness.chaos.schedule import (
    ScheduleError,
    redis_restart_schedule,
    rolling_restart_schedule,
)
from harness.monitor.sampler import ResourceSampler

NODES = ["n1", "n2", "n3"]


def test_timeline_parses_faults_targets_times_and_heals() -> None:
    faults = parse_timeline(
        "kill-node:n1@20s; restart-node:n1@30s; kill-redis@40s+3s; pause-node:n2@1m+500ms",
        NODES,
        duration=120,
    )
    assert [f.describe() for f in faults] == [
        "kill-node:n1@20s",
        "restart-node:n1@30s",
        "kill-redis@40s",
        "restart-redis@43s",
        "pause-node:n2@60s",
        "resume-node:n2@60.5s",
    ]


@pytest.mark.parametrize(
    ("timeline", "message"),
    [
        ("kill-node:n1", "has no time"),
        ("explode:n1@3s", "unknown fault 'explode'"),
        ("kill-node@3s", "needs a node"),
        ("kill-node:n9@3s", "no node 'n9'"),
        ("kill-redis:n1@3s", "takes no node"),
        ("kill-node:n1@soon", "is not a duration"),
        ("kill-node:n1@90s", "after the run ends"),
        ("restart-node:n1@3s+2s", "cannot be healed"),
    ],
)
def test_timeline_errors_say_what_is_wrong(timeline: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_timeline(timeline, NODES, duration=60)


def test_periodic_schedule_is_reproducible_for_a_seed_and_heals_each_fault() -> None:
    def schedule(seed: int) -> list[Fault]:
        return periodic_schedule(10, ["kill-node", "pause-node"], NODES, 100, 4, seed)

    assert schedule(7) == schedule(7)
    assert schedule(7) != schedule(8)
    faults = schedule(7)
    starts = [f for f in faults if f.name in ("kill-node", "pause-node")]
    assert [f.at for f in starts] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    heals = {"kill-node": "restart-node", "pause-node": "resume-node"}
    for start in starts:
        assert Fault(heals[start.name], start.target, start.at + 4) in faults


def test_rolling_restarts_cycle_through_the_nodes_in_order() -> None:
    faults = rolling_restart_schedule(600, NODES, duration=3600, down=5)
    assert [f.describe() for f in faults[:6]] == [
        "kill-node:n1@600s",
        "restart-node:n1@605s",
        "kill-node:n2@1200s",
        "restart-node:n2@1205s",
        "kill-node:n3@1800s",
        "restart-node:n3@1805s",
    ]
    kills = [f for f in faults if f.name == "kill-node"]
    assert [f.target for f in kills] == ["n1", "n2", "n3", "n1", "n2"]  # none at 3600 s: the end
    assert all(f.at < 3600 for f in faults)


def test_redis_restarts_and_their_errors() -> None:
    faults = redis_restart_schedule(1200, duration=3600, down=10, start=1500)
    assert [f.describe() for f in faults] == [
        "kill-redis@1500s",
        "restart-redis@1510s",
        "kill-redis@2700s",
        "restart-redis@2710s",
    ]
    with pytest.raises(ScheduleError, match="longer than the downtime"):
        rolling_restart_schedule(5, NODES, duration=60, down=5)
    with pytest.raises(ScheduleError, match="must be positive"):
        redis_restart_schedule(0, duration=60, down=5)


class FakeTarget:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str | None]] = []

    def node_ids(self) -> list[str]:
        return NODES

    def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
        if target == "n3":
            raise ValueError("n3 is gone")
        self.applied.append((name, target))
        return f"did {name}"


def test_controller_applies_in_order_and_records_invoke_then_ok_or_fail() -> None:
    now = [1000.0]
    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(r: dict[str, Any]) -> None:
        with lock:
            records.append(r)

    schedule = [Fault("kill-node", "n1", 0.0), Fault("kill-node", "n3", 0.0)]
    target = FakeTarget()
    controller = ChaosController(schedule, target, record, clock=lambda: now[0])
    controller.start(zero=now[0])
    controller.stop()
    assert target.applied == [("kill-node", "n1")]
    assert [(r["type"], r["value"]) for r in records] == [
        ("invoke", "n1"),
        ("ok", "n1"),
        ("invoke", "n3"),
        ("fail", "n3"),
    ]
    assert records[1]["detail"] == "did kill-node"
    assert records[3]["error"] == "n3 is gone"
    assert all(r["process"] == "nemesis" for r in records)


def test_controller_stops_before_faults_that_are_not_due() -> None:
    records: list[dict[str, Any]] = []
    controller = ChaosController([Fault("kill-node", "n1", 3600.0)], FakeTarget(), records.append)
    controller.start(zero=time.time())
    began = time.monotonic()
    controller.stop()
    # The fault is an hour away: only a stop that wakes the thread returns well within the
    # join's 60 s bound, with the thread gone.
    assert time.monotonic() - began < 10
    assert not controller.running
    assert records == []


def test_a_ctrl_c_while_the_nemesis_and_monitor_start_leaves_them_stoppable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGINT raises KeyboardInterrupt wherever the main thread is, Thread.start included;
    the run's cleanup then stops threads that never started (join raised RuntimeError, and
    the run exited 1, not 3 for interrupted)."""

    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt

    records: list[dict[str, Any]] = []
    controller = ChaosController([Fault("kill-node", "n1", 0.0)], FakeTarget(), records.append)
    sampler = ResourceSampler([], records.append)
    with monkeypatch.context() as patch:
        patch.setattr(threading.Thread, "start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            controller.start(zero=time.time())
        with pytest.raises(KeyboardInterrupt):
            sampler.start()
    controller.stop()
    sampler.stop()
    assert not controller.running and records == []
