"""What checkers may know about a run besides its history: the run's profile, as data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CheckContext:
    store: str = "redis"  # "memory": losses of a killed node's sessions are expected (G7)
    backend: str = "local"
    scenario: str = ""
    defects: tuple[str, ...] = ()
    untested_actions: tuple[str, ...] = ()  # actions the target profile lacks
    duration: float = 0.0

    @classmethod
    def from_run_dir(cls, run_dir: Path) -> CheckContext:
        """From the profile.json and run.json a run wrote (defaults where they are missing)."""
        profile = _read(run_dir / "profile.json")
        run = _read(run_dir / "run.json")
        actions = run.get("actions", {}).get("actions", {})
        known = ("echo", "slow", "whoami", "notify", "broadcast", "sample", "touch", "log")
        return cls(
            store=str(profile.get("store", "redis")),
            backend=str(profile.get("backend", "local")),
            scenario=str(profile.get("scenario", "")),
            defects=tuple(profile.get("defects", ())),
            untested_actions=tuple(a for a in known if actions and a not in actions),
            duration=float(profile.get("duration", 0.0)),
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
