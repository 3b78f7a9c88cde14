"""What checkers may know about a run besides its history: the run's profile, as data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The reference server's tool for each scenario action (harness/targets/reference-server.yaml).
REFERENCE_TOOLS = {"touch": "touch_resource"}


@dataclass(frozen=True)
class CheckContext:
    store: str = "redis"  # "memory": losses of a killed node's sessions are expected (G7)
    backend: str = "local"
    scenario: str = ""
    defects: tuple[str, ...] = ()
    untested_actions: tuple[str, ...] = ()  # actions the target profile lacks
    duration: float = 0.0
    tools: tuple[tuple[str, str], ...] = ()  # (action, the target's tool), from run.json

    def tool_f(self, action: str) -> str:
        """The history's ``f`` for an action's call: ``call:<the target's tool>``."""
        for name, tool in self.tools:
            if name == action:
                return f"call:{tool}"
        return f"call:{REFERENCE_TOOLS.get(action, action)}"

    @classmethod
    def from_run_dir(cls, run_dir: Path | str) -> CheckContext:
        """From the profile.json and run.json a run wrote (defaults where they are missing)."""
        run_dir = Path(run_dir)
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
            tools=tuple(
                (name, str(spec["tool"]))
                for name, spec in actions.items()
                if isinstance(spec, dict) and "tool" in spec
            ),
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
