"""The CLI as a subprocess and what end-to-end tests ask of its history and processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.cluster.registry import group_members

RUN_TIMEOUT = 150


def mcp_scale(
    *args: str, state_dir: Path, timeout: float = RUN_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waits for its parent to reap it: it runs nothing any more.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def ops(history: list[dict[str, Any]], f: str, type_: str | None = None) -> list[dict[str, Any]]:
    return [r for r in history if r["f"] == f and (type_ is None or r["type"] == type_)]


def fault_time(history: list[dict[str, Any]], name: str) -> float:
    (record,) = [
        r for r in history if r["process"] == "nemesis" and r["f"] == name and r["type"] == "ok"
    ]
    return float(record["time"])


def invocations_with_completions(
    history: list[dict[str, Any]], f: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each invocation of ``f`` with its completion (a client process does one op at a time)."""
    open_ops: dict[str, dict[str, Any]] = {}
    pairs = []
    for record in history:
        if record["f"] != f:
            continue
        if record["type"] == "invoke":
            open_ops[record["process"]] = record
        elif record["process"] in open_ops:
            pairs.append((open_ops.pop(record["process"]), record))
    return pairs


def wait_gone(pids: list[int], groups: list[int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids) and not any(group_members(g) for g in groups):
            return
        time.sleep(0.2)
    left = [p for p in pids if alive(p)] + [m for g in groups for m in group_members(g)]
    raise AssertionError(f"processes outlived the run: {left}")
