"""A run's verdict: its checkers (merged by ``merge_validity``) together with its thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harness.checkers.result import CheckResult, merge_validity
from harness.gates import ThresholdResult

Verdict = Literal["pass", "fail", "unknown"]


def verdict_of(results: Sequence[CheckResult], gates: Sequence[ThresholdResult]) -> Verdict:
    """fail if a checker fails the run or a threshold is not met (a metric the run did not
    measure fails its threshold); unknown if a checker could not decide, or there was nothing
    to judge; pass otherwise."""
    checked = merge_validity(list(results))
    if checked is False or not all(gate.passed for gate in gates):
        return "fail"
    return "unknown" if checked == "unknown" or not (results or gates) else "pass"


def overall_verdict(verdicts: Sequence[Verdict]) -> Verdict:
    """Several runs in one report: fail beats unknown beats pass; nothing judged: unknown."""
    if "fail" in verdicts:
        return "fail"
    if "unknown" in verdicts or not verdicts:
        return "unknown"
    return "pass"
