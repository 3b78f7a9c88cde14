"""The charts' shared kit: figure sizes, colours, time buckets, rows of axes, fault bands and
markers, and saving a figure as PNG. Every chart family builds on it; it imports none."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.chaos.episodes import FaultOp
from harness.checkers.result import CheckResult
from harness.report.frames import RunFrames

DPI = 100
WIDTH = 12.0  # inches
ROW_HEIGHT = 3.0
MAX_CURVES = 8
MAX_FAULT_LABELS = 16
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
]
# The first key a fault's name contains gives its colour: process faults, then what a
# network fault does to its link, then Redis.
FAULT_COLORS = {
    "kill": "#d62728",
    "stop": "#ff7f0e",
    "pause": "#9467bd",
    "delay": "#17becf",
    "bandwidth": "#bcbd22",
    "blackhole": "#393b79",
    "reset": "#e377c2",
    "isolate": "#2ca02c",
    "partition": "#843c39",
    "redis": "#8c564b",
}


class NoData(Exception):
    """The chart has nothing to draw; the message says what is missing."""


@dataclass
class ChartRun:
    """What the charts need of one run."""

    label: str
    frames: RunFrames
    results: list[CheckResult]


def save_png(figure: Figure, path: Path) -> None:
    """The figure as a PNG at the report's resolution (matplotlib's warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figure.savefig(path, dpi=DPI)


def bucket_width(runs: list[ChartRun]) -> float:
    """A round bucket width that gives at most ~150 points over the longest run."""
    span = max((r.frames.span for r in runs), default=1.0)
    for width in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / width <= 150:
            return float(width)
    return float(math.ceil(span / 150 / 3600) * 3600)


def slot_count(span: float, width: float) -> int:
    return max(1, math.ceil(span / width))


def count_by_bucket(times: pd.Series, width: float, span: float) -> pd.Series:
    return sum_by_bucket(times, pd.Series(1.0, index=times.index), width, span)


def sum_by_bucket(times: pd.Series, weights: pd.Series, width: float, span: float) -> pd.Series:
    """Sums of ``weights`` per bucket of ``width`` seconds over [0, span] (indexed by bucket
    middles); times outside the run are left out."""
    count = slot_count(span, width) + 1
    slots = np.floor(times.to_numpy(dtype=float) / width)
    inside = np.isfinite(slots) & (slots >= 0) & (slots < count)
    sums = np.bincount(
        slots[inside].astype(np.int64),
        weights=weights.to_numpy(dtype=float)[inside],
        minlength=count,
    )
    return pd.Series(sums, index=np.arange(count) * width + width / 2)


def rows(runs: list[ChartRun], ylabel: str) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(WIDTH, 1.0 + ROW_HEIGHT * len(runs)), layout="constrained")
    axes = figure.subplots(len(runs), 1, sharex=True, squeeze=False)[:, 0]
    span = max(r.frames.span for r in runs)
    for ax, run in zip(axes, runs, strict=True):
        ax.set_title(run.label, loc="left", fontsize=10, fontweight="bold")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, span)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds since the run started")
    return figure, list(axes)


def empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def legend(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)


def fault_color(name: str) -> str:
    return next((c for key, c in FAULT_COLORS.items() if key in name), "#7f7f7f")


def mark_all_faults(ax: Axes, runs: list[ChartRun]) -> None:
    """Every run's faults on one axes; the same fault at the same time is drawn once."""
    seen: set[tuple[str, int]] = set()
    faults: list[FaultOp] = []
    for run in runs:
        for fault in run.frames.faults:
            key = (fault.label, round(fault.start))
            if key not in seen:
                seen.add(key)
                faults.append(fault)
    mark_faults(ax, faults, max(r.frames.span for r in runs))


def mark_faults(ax: Axes, faults: list[FaultOp], span: float) -> None:
    """A shaded band from each lasting fault to its heal (or the run's end), a line and a
    label where each fault started; a heal that undid nothing gets a dotted line."""
    shown = [f for f in faults if f.outcome != "fail" and not f.heals]
    labelled = len(shown) <= MAX_FAULT_LABELS
    in_legend: set[str] = set()
    for fault in shown:
        color = fault_color(fault.name)
        if fault.lasting:
            end = fault.end if fault.end is not None else span
            name = fault.name if fault.name not in in_legend else None
            ax.axvspan(fault.start, end, color=color, alpha=0.12, lw=0, label=name)
            in_legend.add(fault.name)
        ax.axvline(fault.start, color=color, lw=1.0, ls=":" if fault.is_heal else "-")
        if labelled:
            ax.annotate(
                fault.label,
                (fault.start, 1.0),
                xycoords=ax.get_xaxis_transform(),
                xytext=(3, -3),
                textcoords="offset points",
                rotation=90,
                va="top",
                ha="left",
                fontsize=8,
                color=color,
                fontweight="bold",
            )
