"""Fault episodes: the one pairing of faults and heals that checkers and the report share."""

from __future__ import annotations

import math
from typing import Any

from harness.chaos.episodes import episodes_of


def op(time: float, type_: str, f: str, target: str | None, **extra: Any) -> dict[str, Any]:
    return {"time": time, "type": type_, "process": "nemesis", "f": f, "value": target, **extra}


def applied(time: float, f: str, target: str | None) -> list[dict[str, Any]]:
    return [op(time, "invoke", f, target), op(time + 0.5, "ok", f, target, detail="done")]


def test_a_fault_holds_until_its_heal_completes() -> None:
    ops = episodes_of(applied(10, "kill-node", "n1") + applied(20, "restart-node", "n1"))
    kill, restart = ops
    assert (kill.start, kill.completed, kill.end, kill.healed_by) == (
        10,
        10.5,
        20.5,
        "restart-node",
    )
    assert restart.is_heal and restart.heals == "kill-node:n1"
    assert kill.holds("n1", 20.4) and not kill.holds("n1", 20.5) and not kill.holds("n2", 15)


def test_heals_undo_their_own_faults_and_a_restart_undoes_any() -> None:
    history = applied(1, "pause-node", "n2") + applied(2, "kill-node", "n1")
    history += applied(3, "resume-node", "n1")  # resumes nothing: n1 was killed, not paused
    history += applied(4, "kill-node", "n2")  # a paused node killed
    history += applied(5, "restart-node", "n2")  # a fresh process: no pause, no kill
    pause, kill_n1, resume, kill_n2, _ = episodes_of(history)
    assert resume.heals is None and kill_n1.end is None and kill_n1.until == math.inf
    assert pause.end == kill_n2.end == 5.5


def test_a_failed_fault_is_not_applied_and_a_failed_heal_heals_nothing() -> None:
    history = [op(1, "invoke", "kill-node", "n1"), op(1.1, "fail", "kill-node", "n1", error="x")]
    history += applied(2, "kill-redis", None)
    history += [op(3, "invoke", "restart-redis", None), op(4, "fail", "restart-redis", None)]
    failed, redis, heal = episodes_of(history)
    assert not failed.applied and failed.detail == "x"
    assert redis.applied and redis.end is None and heal.outcome == "fail"


def test_a_cut_history_and_unknown_faults_still_pair() -> None:
    history = [op(1, "ok", "kill-node", "n1")]  # its invoke was cut off
    history += applied(2, "partition-node", "n3") + applied(4, "heal-partition-node", "n3")
    history += [op(6, "invoke", "kill-redis", None)]  # the run ended before its completion
    cut, partition, _, pending = episodes_of(history)
    assert cut.outcome == "ok" and cut.start == 1
    assert partition.end == 4.5
    assert pending.outcome == "pending" and pending.applied


def test_times_shift_to_the_run_start() -> None:
    (kill, _) = episodes_of(applied(100, "kill-node", "n1") + applied(110, "restart-node", "n1"))
    shifted = kill.shifted(100)
    assert (shifted.start, shifted.completed, shifted.end) == (0, 0.5, 10.5)
