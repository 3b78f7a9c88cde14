"""Whole harness runs for the e2e tests: a run sized by requests, and reading its verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import mcp_scale


@dataclass(frozen=True)
class Config:
    """A run bounded by the work done (``requests`` after the last fault), not by how fast a
    loaded machine starts its users; ``duration`` is only the generous upper bound."""

    scenario: str
    users: int
    requests: int
    chaos: str = ""
    duration: str = "90s"
    protocol: str = ""  # the client's default revision when empty

    def args(self) -> list[str]:
        args = ["--scenario", self.scenario, "--nodes", "3", "--store", "redis"]
        args += ["--protocol", self.protocol] if self.protocol else []
        args += ["--users", str(self.users), "--spawn-rate", str(self.users)]
        args += ["--duration", self.duration, "--until-requests", str(self.requests)]
        return args + (["--chaos", self.chaos] if self.chaos else [])


def run(config: Config, out: Path, defects: tuple[str, ...] = ()) -> dict[str, Any]:
    args = ["run", *config.args(), "--out", str(out)]
    for defect in defects:
        args += ["--defect", defect]
    result = mcp_scale(*args, state_dir=out.parent / "state", timeout=180)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    (only,) = summary["runs"]
    assert result.returncode == (1 if only["verdict"] == "fail" else 0)
    return dict(only)


def checker(summary: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [c for c in summary["checkers"] if c["name"] == name]
    return dict(found)
