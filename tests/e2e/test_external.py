"""The external backend against the official Python SDK's example server: actions the target
lacks are skipped and reported as not tested; process faults are refused before the run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.cluster.redis_process import free_port
from harness.history import read_history
from tests.support.cli import mcp_scale

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sdk_server() -> str:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sdk_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_sdk_server_as_external_target(sdk_server: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = mcp_scale(
        "run",
        "--target",
        sdk_server,
        "--target-profile",
        str(ROOT / "harness" / "targets" / "python-sdk.yaml"),
        "--scenario",
        "notifications",
        "--users",
        "5",
        # Enough calls for echoes to show however slowly the users start; 60 s at most.
        "--duration",
        "60s",
        "--until-requests",
        "60",
        "--out",
        str(out),
        state_dir=tmp_path / "state",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not tested (the target profile has no tool for): slow, notify" in result.stdout
    history = list(read_history(out))
    echoes = [r for r in history if r["f"] == "call:echo" and r["type"] == "ok"]
    assert echoes and all(r["node"] == "t1" for r in echoes)
    assert not [r for r in history if r["f"] == "call:notify"]


def test_process_faults_on_an_external_target_are_refused(tmp_path: Path) -> None:
    result = mcp_scale(
        "run",
        "--target",
        "http://127.0.0.1:9/mcp",
        "--target-profile",
        str(ROOT / "harness" / "targets" / "python-sdk.yaml"),
        "--chaos",
        "kill-node:t1@2s",
        "--duration",
        "5s",
        state_dir=tmp_path / "state",
    )
    assert result.returncode == 2
    assert "not ours to kill" in result.stderr
