"""evaluate: each threshold against the run's metrics, pass or fail with the value seen."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.gates.thresholds import Threshold, is_time


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None  # None: the run did not measure it
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.threshold.to_dict(),
            "actual": self.actual,
            "passed": self.passed,
            "reason": self.reason,
        }


def evaluate(thresholds: list[Threshold], metrics: dict[str, float]) -> list[ThresholdResult]:
    """One result per threshold; a metric the run did not measure fails its threshold."""
    return [_one(threshold, metrics.get(threshold.key)) for threshold in thresholds]


def all_passed(results: list[ThresholdResult]) -> bool:
    return all(result.passed for result in results)


def _one(threshold: Threshold, actual: float | None) -> ThresholdResult:
    text = threshold.text or threshold.key
    if actual is None or math.isnan(actual):
        reason = f"{text}: not measured in this run (no data, or its checker was unknown)"
        return ThresholdResult(threshold, None, False, reason)
    passed = threshold.holds(actual)
    shown = _show(threshold, actual)
    reason = f"{text}: {'passed' if passed else 'FAILED'} with {threshold.key} = {shown}"
    return ThresholdResult(threshold, actual, passed, reason)


def _show(threshold: Threshold, value: float) -> str:
    if is_time(threshold.metric, threshold.aggregate):
        return f"{value:.1f}ms"
    if threshold.aggregate == "rate" and threshold.metric == "errors":
        return f"{value * 100:.3g}%"
    return f"{value:g}"
