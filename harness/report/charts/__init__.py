"""The report's charts: PNG files drawn with matplotlib (Agg), one module per family
(survival, series, recovery, resources) on a shared kit (``kit``).

Each chart function takes every run of the report and returns a Figure, or raises NoData
saying what it lacks. ``draw_charts`` turns any failure into a note: a chart never stops a
report. Time series are bucketed with pandas, so 100k records draw in about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from harness.report.charts.kit import ChartRun, NoData, bucket_width, save_png
from harness.report.charts.recovery import recovery_chart, recovery_series
from harness.report.charts.resources import RESOURCE_CHARTS
from harness.report.charts.series import latency_chart, messages_chart, throughput_chart
from harness.report.charts.survival import survival_chart


@dataclass
class Chart:
    name: str
    title: str
    path: Path
    caption: str


def draw_charts(charts_dir: Path, runs: list[ChartRun]) -> tuple[list[Chart], list[str]]:
    """Every chart that can be drawn, as charts_dir/<name>.png; notes for the others."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    charts: list[Chart] = []
    notes: list[str] = []
    for name, title, caption, draw in CHARTS:
        path = charts_dir / f"{name}.png"
        path.unlink(missing_ok=True)  # never leave an older report's chart behind
        try:
            save_png(draw(runs), path)
        except NoData as exc:
            notes.append(f"{title}: not drawn: {exc}.")
            continue
        except Exception as exc:  # a chart must never crash the report
            notes.append(f"{title}: not drawn: {type(exc).__name__}: {exc}.")
            continue
        charts.append(Chart(name, title, path, caption))
    return charts, notes


CHARTS: list[tuple[str, str, str, Callable[[list[ChartRun]], Figure]]] = [
    (
        "survival",
        "Session survival",
        "Kaplan-Meier estimate of sessions still alive, on the run's clock, with its 95% band; "
        "vertical lines mark faults; at-risk and lost counts under the axis.",
        survival_chart,
    ),
    (
        "latency",
        "Latency over time",
        "p50 (solid) and p99 (dashed) of successful operations; shaded: a fault until healed.",
        latency_chart,
    ),
    (
        "messages",
        "Messages",
        "Notify messages sent, delivered (first copies) and lost, and other messages received.",
        messages_chart,
    ),
    (
        "throughput",
        "Requests and errors",
        "Operations completed per second: ok, fail (surely not done), info (outcome unknown).",
        throughput_chart,
    ),
    (
        "recovery",
        "Recovery time",
        "How long affected sessions took to work again after a fault (from the checkers).",
        recovery_chart,
    ),
    *RESOURCE_CHARTS,
]

__all__ = [
    "CHARTS",
    "Chart",
    "ChartRun",
    "NoData",
    "bucket_width",
    "draw_charts",
    "latency_chart",
    "messages_chart",
    "recovery_chart",
    "recovery_series",
    "survival_chart",
    "throughput_chart",
]
