"""End to end: the real CLI drives a real local cluster with Locust while nodes are SIGKILLed,
and what the history shows is what happened. Also: no process outlives a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.history import read_history
from tests.support.cli import RUN_TIMEOUT, fault_time, invocations_with_completions, mcp_scale, ops


def run(
    tmp_path: Path, state_dir: Path, scenario: str, store: str, users: int, chaos: str
) -> list[dict[str, Any]]:
    """A run on 3 nodes until its users made 15 requests each (operations and messages) after
    the last fault, 90 s at most, however slowly a loaded machine starts them; its history."""
    out = tmp_path / "run"
    args = ["--scenario", scenario, "--nodes", "3", "--store", store, "--users", str(users)]
    args += ["--spawn-rate", str(users), "--chaos", chaos]
    args += ["--duration", "90s", "--until-requests", str(15 * users)]
    result = mcp_scale("run", *args, "--out", str(out), state_dir=state_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return [dict(r) for r in read_history(out)]


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_redis_sessions_of_a_killed_node_carry_on_through_the_others(
    tmp_path: Path, state_dir: Path
) -> None:
    history = run(
        tmp_path, state_dir, "notifications", "redis", 30, "kill-node:n1@6s; restart-node:n1@11s"
    )
    killed, restarted = fault_time(history, "kill-node"), fault_time(history, "restart-node")
    assert killed < restarted
    born_on_n1 = {r["session"] for r in ops(history, "initialize", "ok") if r["node"] == "n1"}
    assert born_on_n1, "round-robin spreads sessions, so some start on n1"
    # Between the kill and the restart, n1's sessions keep working through n2 and n3.
    carried_on = {
        r["session"]
        for r in history
        if r["type"] == "ok"
        and r["f"].startswith(("call:", "set_level"))
        and r["session"] in born_on_n1
        and killed < r["time"] < restarted
        and r["node"] != "n1"
    }
    assert carried_on == born_on_n1 - {None}
    assert not ops(history, "reinit"), "no session is lost in Redis mode"
    assert len(ops(history, "call:notify", "ok")) > 100
    # Every invocation by a user has its completion.
    assert len(ops(history, "call:notify", "invoke")) >= len(ops(history, "call:notify", "ok"))


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_memory_sessions_of_a_killed_node_get_404_and_reinitialize(
    tmp_path: Path, state_dir: Path
) -> None:
    history = run(
        tmp_path, state_dir, "notifications", "memory", 30, "kill-node:n1@6s; restart-node:n1@11s"
    )
    killed = fault_time(history, "kill-node")
    born_on_n1 = {r["session"] for r in ops(history, "initialize", "ok") if r["node"] == "n1"}
    assert born_on_n1
    not_found = {r["session"] for r in history if r.get("status") == 404 and r["time"] > killed}
    assert not_found & born_on_n1
    reinits = ops(history, "reinit", "ok")
    assert {r["value"]["old_session"] for r in reinits} & born_on_n1
    assert all(r["session"] != r["value"]["old_session"] for r in reinits)


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_sampling_requests_are_all_answered_through_a_node_kill(
    tmp_path: Path, state_dir: Path
) -> None:
    history = run(
        tmp_path, state_dir, "sampling", "redis", 20, "kill-node:n2@6s; restart-node:n2@11s"
    )
    asked = {
        (r["session"], r["value"]["id"])
        for r in ops(history, "message")
        if isinstance(r["value"], dict) and r["value"].get("method") == "sampling/createMessage"
    }
    answered = {(r["session"], r["value"]["id"]) for r in ops(history, "answer", "ok")}
    assert len(asked) > 50
    assert asked == answered, f"unanswered: {sorted(asked - answered)[:5]}"
    pairs = invocations_with_completions(history, "call:sample")
    assert sum(1 for _, done in pairs if done["type"] == "ok") > 50
    for invoke, done in pairs:
        if done["type"] == "ok":
            # Each answer came back to the call that asked: its nonce is the call's own.
            assert done["value"] == {
                "text": f"answer:{invoke['value']['nonce']}",
                "nonce": invoke["value"]["nonce"],
            }
