"""No process outlives a run: not after a normal end, not after SIGTERM, and after a SIGKILL
of the harness itself the next ``mcp-scale cleanup`` stops what it left, by recorded PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import alive, mcp_scale, wait_gone


def start_run(tmp_path: Path, state_dir: Path, duration: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(state_dir)}
    args = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--scenario",
        "notifications",
        "--nodes",
        "2",
        "--users",
        "5",
        "--duration",
        duration,
        "--out",
        str(tmp_path / "run"),
    ]
    return subprocess.Popen(
        args, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def wait_for_registry(state_dir: Path, timeout: float = 60.0) -> tuple[list[int], list[int]]:
    """The PIDs and process groups the running harness has recorded, once Locust runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (state_dir / "live").glob("*.json"):
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            if data.get("groups") and len(data.get("processes", {})) == 3:
                pids = [int(p["pid"]) for p in data["processes"].values()]
                return pids, [int(g) for g in data["groups"]]
        time.sleep(0.2)
    raise AssertionError("the harness never recorded its processes")


@pytest.mark.timeout(120)
def test_normal_end_leaves_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    run = start_run(tmp_path, state_dir, "6s")
    pids, groups = wait_for_registry(state_dir)
    assert all(alive(p) for p in pids)
    output, _ = run.communicate(timeout=90)
    assert run.returncode == 0, output
    wait_gone(pids, groups)
    assert not list((state_dir / "live").glob("*.json"))


@pytest.mark.timeout(120)
def test_sigterm_mid_run_stops_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    run = start_run(tmp_path, state_dir, "60s")
    pids, groups = wait_for_registry(state_dir)
    run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 3, output
    assert "interrupted" in output
    wait_gone(pids, groups)
    # What was recorded until then is kept.
    assert (tmp_path / "run" / "history-harness.jsonl").exists()


@pytest.mark.timeout(120)
def test_cleanup_after_the_harness_is_sigkilled(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    run = start_run(tmp_path, state_dir, "60s")
    try:
        pids, groups = wait_for_registry(state_dir)
        run.kill()
        run.wait(timeout=10)
        time.sleep(0.5)
        assert all(alive(p) for p in pids), "children run in their own sessions: they survive"
        result = mcp_scale("cleanup", state_dir=state_dir, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "stopped" in result.stdout
        wait_gone(pids, groups)
    finally:
        mcp_scale("cleanup", "--all", state_dir=state_dir, timeout=60)
