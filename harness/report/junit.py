"""junit.xml: one testcase per checker and per threshold of each run, for CI test views."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any


def render_junit(summary: dict[str, Any]) -> str:
    """A failed checker or threshold is a <failure>, a checker that could not decide <skipped>;
    an expected failure (memory mode's losses) passes, with its summary in <system-out>."""
    suites = ET.Element("testsuites", name="mcp-scale")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for run in summary["runs"]:
        suite = ET.SubElement(suites, "testsuite", name=run["label"])
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for checker in run["checkers"]:
            _checker_case(suite, run, checker, counts)
        for gate in run["thresholds"]:
            _threshold_case(suite, run, gate, counts)
        _set_counts(suite, counts, time=run["duration_s"])
        for key in totals:
            totals[key] += counts[key]
    _set_counts(suites, totals)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _checker_case(
    suite: ET.Element, run: dict[str, Any], checker: dict[str, Any], counts: dict[str, int]
) -> None:
    case = _case(suite, f"{run['label']}.checkers", checker["name"], counts)
    text = json.dumps({"counts": checker["counts"], "examples": checker["examples"]}, indent=1)
    if checker["status"] == "fail":
        counts["failures"] += 1
        failure = ET.SubElement(case, "failure", message=checker["summary"], type="CheckFailed")
        failure.text = text
    elif checker["status"] == "unknown":
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=f"unknown: {checker['summary']}")
    else:
        out = ET.SubElement(case, "system-out")
        prefix = "expected failure: " if checker["status"] == "expected" else ""
        out.text = f"{prefix}{checker['summary']}\n{text}"


def _threshold_case(
    suite: ET.Element, run: dict[str, Any], gate: dict[str, Any], counts: dict[str, int]
) -> None:
    case = _case(suite, f"{run['label']}.thresholds", gate["threshold"], counts)
    measured = f"{gate['metric']} = {gate['value']}"
    if gate["passed"] is False:
        counts["failures"] += 1
        message = f"{gate['threshold']}: measured {measured}"
        ET.SubElement(case, "failure", message=message, type="ThresholdFailed")
    else:
        ET.SubElement(case, "system-out").text = measured


def _case(suite: ET.Element, classname: str, name: str, counts: dict[str, int]) -> ET.Element:
    counts["tests"] += 1
    return ET.SubElement(suite, "testcase", classname=f"mcp-scale.{classname}", name=name)


def _set_counts(element: ET.Element, counts: dict[str, int], time: float | None = None) -> None:
    for key, value in counts.items():
        element.set(key, str(value))
    element.set("errors", "0")
    if time is not None:
        element.set("time", f"{time:.3f}")
