"""report.md: short enough for a CI job summary; the verdict first, then the tables."""

from __future__ import annotations

import json
from typing import Any

from harness.report import _format as fmt

MAX_EXAMPLES = 3


def render_markdown(summary: dict[str, Any]) -> str:
    runs: list[dict[str, Any]] = summary["runs"]
    lines = [f"## mcp-scale: {fmt.status_text(summary['verdict'])}", ""]
    if len(runs) > 1:
        lines += [" · ".join(f"`{r['label']}` {fmt.status_text(r['verdict'])}" for r in runs), ""]
    lines += _checkers(runs) + _thresholds(runs) + _key_numbers(runs) + _metrics(runs)
    for run in runs:
        named = len(runs) > 1
        lines += _latency(run, named) + _faults(run, named)
        lines += _resources(run, named) + _slopes(run, named) + _drift(run, named)
    lines += _failures(runs) + _charts(summary)
    return "\n".join(lines).rstrip() + "\n"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    out.append("|" + "---|" * len(header))
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _checkers(runs: list[dict[str, Any]]) -> list[str]:
    names = fmt.rows_by_name(runs, "checkers", "name")
    if not names:
        return ["_No checker results._", ""]
    rows = [
        [n, *(fmt.checker_cell(fmt.find(r, "checkers", "name", n)) for r in runs)] for n in names
    ]
    return ["### Checkers", "", *table(["checker", *(r["label"] for r in runs)], rows)]


def _thresholds(runs: list[dict[str, Any]]) -> list[str]:
    names = fmt.rows_by_name(runs, "thresholds", "threshold")
    if not names:
        return []
    rows = [
        [n, *(fmt.threshold_cell(fmt.find(r, "thresholds", "threshold", n)) for r in runs)]
        for n in names
    ]
    return ["### Thresholds", "", *table(["threshold", *(r["label"] for r in runs)], rows)]


def _key_numbers(runs: list[dict[str, Any]]) -> list[str]:
    columns = [dict(fmt.key_numbers(r)) for r in runs]
    rows = [[name, *(c[name] for c in columns)] for name in columns[0]]
    return ["### Key numbers", "", *table(["", *(r["label"] for r in runs)], rows)]


def _metrics(runs: list[dict[str, Any]]) -> list[str]:
    rows = fmt.metric_rows(runs)
    if not rows:
        return []
    header = ["metric", *(r["label"] for r in runs)]
    return ["<details><summary>Metrics</summary>", "", *table(header, rows), "</details>", ""]


def _latency(run: dict[str, Any], named: bool) -> list[str]:
    rows = fmt.latency_rows(run)
    if not rows:
        return []
    title = "### Latency (ms)" + (f": {run['label']}" if named else "")
    return [title, "", *table(fmt.LATENCY_HEADER, rows)]


def _faults(run: dict[str, Any], named: bool) -> list[str]:
    rows = fmt.fault_rows(run)
    if not rows:
        return []
    title = "### Faults" + (f": {run['label']}" if named else "")
    return [title, "", *table(fmt.FAULT_HEADER, rows)]


def _resources(run: dict[str, Any], named: bool) -> list[str]:
    rows = fmt.resource_rows(run)
    if not rows:
        return []
    title = "### Resources" + (f": {run['label']}" if named else "")
    note = fmt.monitor_text(run)
    return [title, "", *table(fmt.RESOURCE_HEADER, rows), *([note, ""] if note else [])]


def _slopes(run: dict[str, Any], named: bool) -> list[str]:
    rows = fmt.slope_rows(run)
    if not rows:
        return []
    leak = run["longevity"]["leak"]
    title = "### Leak check: growth per hour" + (f": {run['label']}" if named else "")
    lines = [title, "", f"{fmt.status_text(leak['status'])}: {leak['summary']}", ""]
    lines += table(fmt.SLOPE_HEADER, [cells for _, cells in rows])
    settings = fmt.leak_settings_text(run)
    return lines + ([settings, ""] if settings else [])


def _drift(run: dict[str, Any], named: bool) -> list[str]:
    rows = fmt.drift_rows(run)
    drift = run.get("longevity", {}).get("drift")
    if not drift:
        return []
    title = "### Latency drift" + (f": {run['label']}" if named else "")
    lines = [title, "", f"{fmt.status_text(drift['status'])}: {drift['summary']}", ""]
    if rows:
        lines += table(fmt.DRIFT_HEADER, [cells for _, cells in rows])
    windows = fmt.drift_windows_text(run)
    return lines + ([windows, ""] if windows else [])


def _failures(runs: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        for checker in run["checkers"]:
            if checker["status"] not in ("fail", "expected"):
                continue
            examples = json.dumps(checker["examples"][:MAX_EXAMPLES], indent=1)
            lines += [
                f"<details><summary>{run['label']}: {checker['name']} "
                f"({fmt.WORDS[checker['status']]})</summary>",
                "",
                f"counts: `{json.dumps(checker['counts'])}`",
                "",
                "```json",
                examples,
                "```",
                "</details>",
                "",
            ]
    return ["### Failures", "", *lines] if lines else []


def _charts(summary: dict[str, Any]) -> list[str]:
    lines = [f"- [{c['title']}]({c['file']})" for c in summary.get("charts", [])]
    lines += [f"- {note}" for note in summary.get("notes", [])]
    return ["### Charts", "", *lines, ""] if lines else []
