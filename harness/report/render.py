"""render_report: one or several runs into summary.json, report.md, report.html, junit.xml
and charts/*.png, side by side."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.report.charts import ChartRun, draw_charts
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.report.model import RunData
from harness.report.summary import build_summary, jsonable

SUMMARY, MARKDOWN, HTML, JUNIT = "summary.json", "report.md", "report.html", "junit.xml"
CHARTS_DIR = "charts"


def render_report(out_dir: Path, runs: list[RunData]) -> dict[str, Path]:
    """Write every report file into ``out_dir``; returns them by name relative to it
    (``summary.json``, ``report.md``, ``report.html``, ``junit.xml``, ``charts/<name>.png``).

    Works on partial histories (a crashed run); a chart that cannot be drawn is left out
    and named in the report's notes.
    """
    if not runs:
        raise ValueError("render_report needs at least one run")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = _unique_labels(runs)
    framed = [(run, run.frames_or_build()) for run in runs]
    summary = build_summary(framed)
    chart_runs = [ChartRun(run.label, frames, run.results) for run, frames in framed]
    charts, notes = draw_charts(out_dir / CHARTS_DIR, chart_runs)
    summary["charts"] = [
        {
            "name": c.name,
            "title": c.title,
            "file": f"{CHARTS_DIR}/{c.path.name}",
            "caption": c.caption,
        }
        for c in charts
    ]
    summary["notes"] = notes
    summary = jsonable(summary)
    written = {
        SUMMARY: _write(out_dir / SUMMARY, json.dumps(summary, indent=2, allow_nan=False) + "\n"),
        MARKDOWN: _write(out_dir / MARKDOWN, render_markdown(summary)),
        HTML: _write(out_dir / HTML, render_html(summary, out_dir)),
        JUNIT: _write(out_dir / JUNIT, render_junit(summary)),
    }
    written.update({f"{CHARTS_DIR}/{c.path.name}": c.path for c in charts})
    return written


def load_summary(path: Path) -> dict[str, Any]:
    """A summary.json, given as the file or as the directory that holds it."""
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a report summary")
    return data


def _unique_labels(runs: list[RunData]) -> list[RunData]:
    seen: dict[str, int] = {}
    unique = []
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
        count = seen[run.label]
        unique.append(run if count == 1 else replace(run, label=f"{run.label} #{count}"))
    return unique


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
