"""The live progress line: what the Locust side reports, plus the faults applied so far."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


@dataclass
class Progress:
    users: int = 0
    rps: float = 0.0
    requests: int = 0
    failures: int = 0

    @classmethod
    def read(cls, path: Path) -> Progress:
        """From the run's progress file (RunFiles.progress); zeros until Locust writes it."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls(
            int(data.get("users", 0)),
            float(data.get("rps", 0.0)),
            int(data.get("requests", 0)),
            int(data.get("failures", 0)),
        )


def progress_line(elapsed: float, total: float, progress: Progress, faults: int) -> str:
    return (
        f"[{elapsed:5.0f}s/{total:.0f}s] users {progress.users:5d} | "
        f"{progress.rps:8.1f} req/s | requests {progress.requests:8d} | "
        f"errors {progress.failures:6d} | faults {faults}"
    )


class ProgressPrinter:
    """On a terminal, one line rewritten in place; elsewhere (CI logs), a line now and then."""

    def __init__(self, out: TextIO, every: float = 10.0) -> None:
        self._out = out
        self._tty = out.isatty()
        self._every = every
        self._last = -every

    def show(self, elapsed: float, line: str) -> None:
        if self._tty:
            self._out.write("\r" + line)
            self._out.flush()
        elif elapsed - self._last >= self._every:
            self._last = elapsed
            self._out.write(line + "\n")
            self._out.flush()

    def done(self) -> None:
        if self._tty:
            self._out.write("\n")
