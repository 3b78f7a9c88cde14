"""What a report is made of: one ``RunData`` per run, and the verdict rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.checkers.result import CheckResult, merge_validity
from harness.history import Record, read_history
from harness.run.directory import RunManifest

Verdict = Literal["pass", "fail", "unknown"]


@dataclass
class RunData:
    """One run as the report sees it: its history and what the checkers and gates said.

    ``gates`` are threshold results as plain dicts ``{threshold, metric, value, passed}``
    (``passed`` None when the metric could not be measured). ``manifest`` is what ran (None
    when the run wrote none). Several RunData in one report are shown side by side, named by
    ``label``.
    """

    label: str
    run_dir: Path
    history: list[Record]
    results: list[CheckResult] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    manifest: RunManifest | None = None
    verdict: Verdict = "unknown"


def verdict_of(results: list[CheckResult], gates: list[dict[str, Any]]) -> Verdict:
    """fail if a checker fails the run or a threshold is not met; unknown if a checker or a
    threshold could not decide, or there was nothing to judge; pass otherwise (the checkers'
    own merge_validity rule, with the thresholds)."""
    checked = merge_validity(results)
    if checked is False or any(g.get("passed") is False for g in gates):
        return "fail"
    undecided = checked == "unknown" or any(g.get("passed") is None for g in gates)
    return "unknown" if undecided or not (results or gates) else "pass"


def load_run(
    run_dir: Path,
    *,
    label: str | None = None,
    results: list[CheckResult] | None = None,
    gates: list[dict[str, Any]] | None = None,
    metrics: dict[str, float] | None = None,
    history: list[Record] | None = None,
    manifest: RunManifest | None = None,
) -> RunData:
    """A RunData from a run directory (its history and manifest), verdict computed."""
    run_dir = Path(run_dir)
    results = list(results or [])
    gates = list(gates or [])
    return RunData(
        label=label or run_dir.name,
        run_dir=run_dir,
        history=read_history(run_dir) if history is None else history,
        results=results,
        gates=gates,
        metrics=dict(metrics or {}),
        manifest=manifest if manifest is not None else RunManifest.read(run_dir),
        verdict=verdict_of(results, gates),
    )
