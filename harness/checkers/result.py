"""What every checker returns, as plain data (the report and the gates only read this)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness.checkers.tables import Table

Validity = Literal[True, False, "unknown"]


@dataclass
class CheckResult:
    """One checker's verdict on one history.

    ``valid``: True, False, or "unknown" when the history cannot decide (too few operations,
    the target lacks the action). ``expected`` marks failures the target promises no better
    than (losses in memory mode): reported, but they do not fail the run. ``table``: the
    checker's typed rows beyond its counts (harness.checkers.tables). ``seconds``: how long
    the checker took; ``traceback``: where a crashed checker raised.
    """

    name: str
    valid: Validity
    summary: str
    counts: dict[str, float] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    expected: bool = False
    table: Table | None = None
    seconds: float | None = None
    traceback: str | None = None

    @property
    def fails_run(self) -> bool:
        return self.valid is False and not self.expected


def merge_validity(results: list[CheckResult]) -> Validity:
    """Jepsen's rule: false beats unknown beats true (expected failures count as true)."""
    if any(r.fails_run for r in results):
        return False
    if any(r.valid == "unknown" for r in results):
        return "unknown"
    return True
