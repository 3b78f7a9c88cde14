"""Load from many machines, here as separate processes on 127.0.0.1: a master run
(--master-bind, --expect-workers 2) and two `mcp-scale worker`s; one worker is SIGKILLed
mid-run. The master writes the one history: both workers' records, the loss recorded, and
the checkers pass on it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.history import read_history
from tests.support.cli import RUN_TIMEOUT

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )


def lines(path: Path) -> int:
    try:
        return len(path.read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_two_workers_one_killed_mid_run_give_one_history_that_passes(tmp_path: Path) -> None:
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(tmp_path / "state")}
    out, port = tmp_path / "run", free_port()
    master = start(
        "run", "--scenario", "notifications", "--nodes", "2", "--users", "10",
        "--spawn-rate", "10", "--duration", "90s", "--until-requests", "400",
        "--chaos", "kill-node:n1@4s; restart-node:n1@7s",
        "--master-bind", f"127.0.0.1:{port}", "--expect-workers", "2", "--out", str(out),
        env=env, log=tmp_path / "master.log",
    )  # fmt: skip
    workers = [
        start("worker", "--master", f"127.0.0.1:{port}", env=env, log=tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    try:
        files = [out / "history-w0.jsonl", out / "history-w1.jsonl"]
        wait_for(lambda: all(lines(f) > 50 for f in files), 90, "both workers ship records")
        os.killpg(workers[1].pid, signal.SIGKILL)
        assert master.wait(timeout=RUN_TIMEOUT) == 0, (tmp_path / "master.log").read_text()
        assert workers[0].wait(timeout=30) == 0
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    history = read_history(out)
    writers = {r["process"].split("-")[0] for r in history if r["process"].startswith("w")}
    assert writers == {"w0", "w1"}, "both workers' records are in the one history"
    (lost,) = [r for r in history if r["f"] == "worker-lost"]
    assert lost["value"]["records"] > 50
    dead = lost["value"]["worker"]
    assert not [
        r for r in history if r["process"].startswith(f"{dead}-") and r["time"] > lost["time"]
    ]
    summary = json.loads((out / "summary.json").read_text())
    (run,) = summary["runs"]
    assert run["verdict"] == "pass", [c for c in run["checkers"] if c["status"] != "pass"]
