"""From a run directory to a verdict: history -> checkers -> metrics -> gates -> report.

Reads only what the run wrote (its manifest and history files), so it works the same
on a run that just finished, one that crashed, and one copied from another machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checkers import CHECKERS, CheckContext, check_history, leak
from harness.gates import compute_metrics, evaluate, parse_thresholds
from harness.history import read_history
from harness.report import RunData, load_run
from harness.run.directory import RunManifest
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
    manifest = RunManifest.read(run_dir)
    ctx = CheckContext.from_manifest(manifest)
    scenario = SCENARIOS.get(ctx.scenario)
    names = list(scenario.checkers) if scenario else [n for n in CHECKERS if n not in LONGEVITY]
    soak = manifest is not None and manifest.shape in LONGEVITY_SHAPES
    if soak and ctx.duration >= LEAK_MIN_DURATION:
        names += LONGEVITY
    results = check_history(history, ctx, names=names, options=checker_options(manifest))
    metrics = compute_metrics(history, results)
    thresholds = manifest.thresholds if manifest else []
    gates = evaluate(parse_thresholds(thresholds), metrics)
    return load_run(
        run_dir,
        label=label,
        results=results,
        gates=gates,
        metrics=metrics,
        history=history,
        manifest=manifest,
    )


def checker_options(manifest: RunManifest | None) -> dict[str, dict[str, Any]]:
    """The leak and drift checks' settings, as the run was given them (RunProfile)."""
    if manifest is None:
        return {}
    leak_thresholds = {
        metric: float(value)
        for metric, key in leak.PROFILE_KEYS.items()
        if (value := manifest.setting(key)) is not None
    }
    return {
        "leak": {
            "thresholds": leak_thresholds,
            "warmup": manifest.setting("leak_warmup"),
            "memory_limit": manifest.setting("memory_limit"),
        },
        "drift": {
            "p99_growth": manifest.setting("drift_p99"),
            "min_growth": manifest.setting("drift_min"),
        },
    }
