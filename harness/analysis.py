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

# Shorter runs leave too little after the warm-up for a trend: the leak check is not run.
LEAK_MIN_DURATION = 40.0
# Latency drift (first window against the last) is judged on steady load: soak runs only.
DRIFT_SHAPES = ("soak",)
LONGEVITY = ("leak", "drift")  # checkers added by duration and shape, not by scenario


def analyze_run(run_dir: Path, label: str | None = None) -> RunData:
    """The run's checkers (those its scenario can decide), metrics and threshold results."""
    history = read_history(run_dir)
    ctx = CheckContext.from_run_dir(run_dir)
    scenario = SCENARIOS.get(ctx.scenario)
    names = list(scenario.checkers) if scenario else [n for n in CHECKERS if n not in LONGEVITY]
    if ctx.duration >= LEAK_MIN_DURATION:
        names.append("leak")
        if _profile(run_dir).get("shape") in DRIFT_SHAPES:
            names.append("drift")
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
