"""From a run directory to a verdict: history -> checkers -> metrics -> gates -> report.

Reads only what the run wrote (history files, profile.json, run.json), so it works the same
on a run that just finished, one that crashed, and one copied from another machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.checkers import CHECKERS, CheckContext, check_history
from harness.gates import compute_metrics, evaluate, parse_thresholds
from harness.history import read_history
from harness.report import RunData, load_run
from scenarios.registry import SCENARIOS

# Trends need steady load and time: leak (resource slopes) and drift (first window against
# the last) judge soak runs of at least this long. A short run's Redis memory still grows
# while the per-session event logs fill, which is not a leak but would read as one.
LEAK_MIN_DURATION = 40.0
LONGEVITY_SHAPES = ("soak",)
LONGEVITY = ("leak", "drift")  # checkers added by shape and duration, not by scenario


def analyze_run(run_dir: Path, label: str | None = None) -> RunData:
    """The run's checkers (those its scenario can decide), metrics and threshold results."""
    history = read_history(run_dir)
    ctx = CheckContext.from_run_dir(run_dir)
    scenario = SCENARIOS.get(ctx.scenario)
    names = list(scenario.checkers) if scenario else [n for n in CHECKERS if n not in LONGEVITY]
    soak = _profile(run_dir).get("shape") in LONGEVITY_SHAPES
    if soak and ctx.duration >= LEAK_MIN_DURATION:
        names += LONGEVITY
    results = check_history(history, ctx, names=names)
    metrics = compute_metrics(history, results)
    gates = [
        {
            "threshold": result.threshold.text,
            "metric": result.threshold.key,
            "value": result.actual,
            "passed": result.passed,
            "reason": result.reason,
        }
        for result in evaluate(parse_thresholds(_thresholds(run_dir)), metrics)
    ]
    return load_run(
        run_dir, label=label, results=results, gates=gates, metrics=metrics, history=history
    )


def _thresholds(run_dir: Path) -> list[str]:
    return [str(text) for text in _profile(run_dir).get("thresholds", [])]


def _profile(run_dir: Path) -> dict[str, Any]:
    try:
        profile = json.loads((run_dir / "profile.json").read_text())
    except (OSError, ValueError):
        return {}
    return profile if isinstance(profile, dict) else {}
