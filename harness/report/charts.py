"""The report's charts: PNG files drawn with matplotlib (Agg), one function per chart.

Each chart function takes every run of the report and returns a Figure, or raises NoData
saying what it lacks. ``draw_charts`` turns any failure into a note: a chart never stops a
report. Time series are bucketed with pandas, so 100k records draw in about a second.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.checkers.result import CheckResult
from harness.checkers.tables import DeliveryTable, SurvivalTable
from harness.report.frames import FaultSpan, RunFrames
from harness.report.summary import survival_sessions

DPI = 100
WIDTH = 12.0  # inches
ROW_HEIGHT = 3.0
MAX_OPS = 6  # latency lines per run (the most frequent operations)
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
FAULT_COLORS = {"kill": "#d62728", "stop": "#ff7f0e", "pause": "#9467bd", "redis": "#8c564b"}


class NoData(Exception):
    """The chart has nothing to draw; the message says what is missing."""


@dataclass
class ChartRun:
    """What the charts need of one run."""

    label: str
    frames: RunFrames
    results: list[CheckResult]


@dataclass
class Chart:
    name: str
    title: str
    path: Path
    caption: str


def draw_charts(charts_dir: Path, runs: list[ChartRun]) -> tuple[list[Chart], list[str]]:
    """Every chart that can be drawn, as charts_dir/<name>.png; notes for the others."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    from harness.report.resource_charts import RESOURCE_CHARTS  # it imports helpers from here

    charts: list[Chart] = []
    notes: list[str] = []
    for name, title, caption, draw in [*CHARTS, *RESOURCE_CHARTS]:
        path = charts_dir / f"{name}.png"
        path.unlink(missing_ok=True)  # never leave an older report's chart behind
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figure = draw(runs)
                figure.savefig(path, dpi=DPI)
        except NoData as exc:
            notes.append(f"{title}: not drawn: {exc}.")
            continue
        except Exception as exc:  # a chart must never crash the report
            notes.append(f"{title}: not drawn: {type(exc).__name__}: {exc}.")
            continue
        charts.append(Chart(name, title, path, caption))
    return charts, notes


# ---- session survival -------------------------------------------------------------------


def survival_chart(runs: list[ChartRun]) -> Figure:
    """Kaplan-Meier on the run's clock: sessions enter when created (left truncation), die
    when lost, and are censored at their last record; fault markers on the same clock."""
    from lifelines import KaplanMeierFitter
    from lifelines.exceptions import StatError
    from lifelines.plotting import add_at_risk_counts

    curves = _survival_curves(runs)
    if not curves:
        raise NoData("no session was created (or no survival checker ran)")
    figure = Figure(figsize=(WIDTH, 6.0 + 0.55 * len(curves)))
    ax = figure.add_subplot()
    fitters = []
    lowest = 1.0
    for i, (label, part) in enumerate(curves):
        entry = part["start"].to_numpy(dtype=float)
        durations = np.maximum(part["end"].to_numpy(dtype=float), entry + 1e-6)
        kmf = KaplanMeierFitter(label=label)
        lost = part["lost"].to_numpy(dtype=bool)
        try:
            kmf.fit(durations, event_observed=lost, entry=entry)
        except StatError:
            # lifelines refuses a left-truncated curve that reaches 0, which is the honest
            # answer when every session of a group died (a killed node in memory mode): fit
            # it from the run's start instead, where the same drop to 0 is allowed.
            kmf.fit(durations, event_observed=lost)
        kmf.plot_survival_function(ax=ax, ci_show=True, color=PALETTE[i % len(PALETTE)])
        lowest = min(lowest, float(np.nanmin(kmf.confidence_interval_.to_numpy())))
        fitters.append(kmf)
    _mark_all_faults(ax, runs)
    ax.set_xlim(0, max(r.frames.span for r in runs))
    ax.set_ylim(max(0.0, min(0.9, lowest - 0.05)), 1.02)
    ax.set_xlabel("seconds since the run started")
    ax.set_ylabel("sessions still alive (Kaplan-Meier)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    add_at_risk_counts(*fitters, ax=ax, fig=figure, rows_to_show=["At risk", "Events"])
    figure.tight_layout()
    return figure


def _survival_curves(runs: list[ChartRun]) -> list[tuple[str, pd.DataFrame]]:
    """One curve per run when several runs are compared (the demo's Redis against memory), else
    one per group (the node that created the session), at most MAX_CURVES."""
    frames = [(run.label, _survival_frame(run)) for run in runs]
    groups = sum(frame["group"].nunique() for _, frame in frames)
    if len(runs) > 1 or groups > MAX_CURVES:
        return [(label, frame) for label, frame in frames if len(frame)][:MAX_CURVES]
    curves: list[tuple[str, pd.DataFrame]] = []
    for label, frame in frames:
        parts = list(frame.groupby("group", sort=True))
        for group, part in parts:
            if len(parts) == 1:
                curves.append((label, part))
            else:
                curves.append((f"{label}: {group}" if len(runs) > 1 else str(group), part))
    return curves


def _survival_frame(run: ChartRun) -> pd.DataFrame:
    """start, end (seconds since the run started), lost, group: the survival checker's."""
    frame = survival_sessions(run.results)
    if frame is None:
        return pd.DataFrame(columns=["start", "end", "lost", "group"])
    frame[["start", "end"]] -= run.frames.zero
    return frame[["start", "end", "lost", "group"]]


# ---- time series --------------------------------------------------------------------------


def latency_chart(runs: list[ChartRun]) -> Figure:
    """p50 (solid) and p99 (dashed) per bucket for the most frequent operations."""
    width = bucket_width(runs)
    figure, axes = _rows(runs, "latency (ms, log)")
    successes = [_successes(run.frames.ops) for run in runs]
    counts = pd.concat([ok["f"] for ok in successes]).value_counts()
    colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(counts.index)}  # same in all
    drawn = False
    for ax, run, ok in zip(axes, runs, successes, strict=True):
        if ok.empty:
            _empty(ax, "no operation succeeded")
            continue
        top = list(ok["f"].value_counts().index[:MAX_OPS])
        ok = ok[ok["f"].isin(top)]
        bucket = (ok["t"] // width).clip(0, _slots(run.frames.span, width)).astype(np.int64)
        quantiles = ok.groupby([ok["f"], bucket])["latency"].quantile([0.5, 0.99]).unstack()
        slots = np.arange(_slots(run.frames.span, width) + 1)
        for f in top:
            part = quantiles.loc[f].reindex(slots) * 1000.0  # empty buckets break the line
            x = slots * width + width / 2
            style: dict[str, Any] = {"color": colors[f], "marker": ".", "markersize": 4}
            ax.plot(x, part[0.5].to_numpy(), lw=1.5, label=f"{f} p50", **style)
            ax.plot(x, part[0.99].to_numpy(), lw=1.0, ls="--", label=f"{f} p99", **style)
        ax.set_yscale("log")
        _mark_faults(ax, run.frames.faults, run.frames.span)
        _legend(ax)
        drawn = True
    if not drawn:
        raise NoData("no operation succeeded")
    return figure


def _successes(ops: pd.DataFrame) -> pd.DataFrame:
    return ops[(ops["type"] == "ok") & (ops["latency"] > 0) & ops["t"].notna()]


def messages_chart(runs: list[ChartRun]) -> Figure:
    """Notify messages sent and lost per bucket by the time their call returned (the delivery
    checker's rows), delivered (first copies) and duplicated by the time they arrived."""
    notified = [_notify_frame(run) for run in runs]
    if all(r.frames.received.empty for r in runs) and all(n.empty for n in notified):
        raise NoData("no message was sent or received")
    width = bucket_width(runs)
    figure, axes = _rows(runs, f"messages per {width:g} s")
    for ax, run, notify in zip(axes, runs, notified, strict=True):
        received = run.frames.received
        notifies = received[received["nonce"].notna()]
        first = ~notifies.duplicated(["nonce", "seq"])
        span = run.frames.span
        others = received.loc[received["nonce"].isna(), "t"]
        series = {
            "sent (notify)": _sum_by_bucket(notify["t"], notify["emitted"], width, span),
            "delivered": _count_by_bucket(notifies.loc[first, "t"], width, span),
            "other messages": _count_by_bucket(others, width, span),
        }
        for (name, values), color in zip(
            series.items(), ("#1f77b4", "#2ca02c", "#7f7f7f"), strict=True
        ):
            if values.sum() > 0:
                ax.step(values.index, values.to_numpy(), where="mid", color=color, label=name)
        lost = _sum_by_bucket(notify["t"], notify["lost"], width, span)
        duplicated = _count_by_bucket(notifies.loc[~first, "t"], width, span)
        ax.bar(lost.index, lost.to_numpy(), width=width * 0.8, color="#d62728", label="lost")
        if duplicated.sum() > 0:
            ax.bar(
                duplicated.index,
                duplicated.to_numpy(),
                width=width * 0.5,
                color="#9467bd",
                label="duplicated",
            )
        _mark_faults(ax, run.frames.faults, run.frames.span)
        _legend(ax)
    return figure


def _notify_frame(run: ChartRun) -> pd.DataFrame:
    """t (seconds since the run started), emitted, lost of each notify call the delivery
    checker judged."""
    rows = [
        (row.time - run.frames.zero, row.emitted, row.lost)
        for result in run.results
        if isinstance(result.table, DeliveryTable)
        for row in result.table.notifies
    ]
    return pd.DataFrame.from_records(rows, columns=["t", "emitted", "lost"])


def throughput_chart(runs: list[ChartRun]) -> Figure:
    """Operations completed per second: ok, fail (surely not done), info (unknown)."""
    if all(r.frames.ops.empty for r in runs):
        raise NoData("no operation completed")
    width = bucket_width(runs)
    figure, axes = _rows(runs, "operations per second")
    styles = {
        "ok": ("#2ca02c", "ok"),
        "fail": ("#d62728", "fail"),
        "info": ("#ff7f0e", "info (unknown)"),
    }
    for ax, run in zip(axes, runs, strict=True):
        ops = run.frames.ops
        for kind, (color, name) in styles.items():
            times = ops.loc[ops["type"] == kind, "t"]
            values = _count_by_bucket(times, width, run.frames.span) / width
            if values.sum() > 0 or kind == "ok":
                ax.plot(values.index, values.to_numpy(), color=color, lw=1.5, label=name)
        _mark_faults(ax, run.frames.faults, run.frames.span)
        _legend(ax)
    return figure


# ---- recovery -----------------------------------------------------------------------------


def recovery_chart(runs: list[ChartRun]) -> Figure:
    """Histograms of recovery times by run and fault, when a checker gave them."""
    series = []
    for run in runs:
        for fault, values, unrecovered in recovery_series(run.results):
            label = run.label if not fault else fault if len(runs) == 1 else f"{run.label}: {fault}"
            series.append((label, values, unrecovered))
    if not any(len(values) for _, values, _ in series):
        raise NoData("no user was affected by a fault (the survival checker's recovery rows)")
    every = np.concatenate([values for _, values, _ in series])
    bins = np.histogram_bin_edges(every, bins=min(60, max(10, len(every) // 5)))
    figure = Figure(figsize=(WIDTH, 4.5), layout="constrained")
    ax = figure.add_subplot()
    for i, (label, values, unrecovered) in enumerate(series[:MAX_CURVES]):
        color = PALETTE[i % len(PALETTE)]
        text = f"{label}: n={len(values)}"
        if len(values):
            p50, p99 = np.percentile(values, [50, 99])
            text += f", p50 {p50:.3g} s, p99 {p99:.3g} s"
            ax.axvline(p99, color=color, ls="--", lw=1)
        if unrecovered:
            text += f", {unrecovered} never recovered"
        ax.hist(
            values, bins=bins.tolist(), histtype="stepfilled", alpha=0.4, color=color, label=text
        )
    ax.set_xlabel("seconds from the fault's start to the user's next successful operation")
    ax.set_ylabel("affected users")
    ax.grid(alpha=0.3)
    _legend(ax)
    return figure


Series = tuple[str, np.ndarray[Any, np.dtype[np.float64]], int]


def recovery_series(results: list[CheckResult]) -> list[Series]:
    """(fault, recovery times in seconds, how many never recovered) per fault, from the
    survival checker's recovery rows."""
    times: dict[str, list[float]] = {}
    missing: dict[str, int] = {}
    for result in results:
        if not isinstance(result.table, SurvivalTable):
            continue
        for row in result.table.recovery:
            times.setdefault(row.fault, [])
            if row.recovered_after is None:
                missing[row.fault] = missing.get(row.fault, 0) + 1
            else:
                times[row.fault].append(row.recovered_after)
    return [(f, np.array(v, dtype=float), missing.get(f, 0)) for f, v in times.items()]


# ---- helpers ------------------------------------------------------------------------------


def bucket_width(runs: list[ChartRun]) -> float:
    """A round bucket width that gives at most ~150 points over the longest run."""
    span = max((r.frames.span for r in runs), default=1.0)
    for width in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / width <= 150:
            return float(width)
    return float(math.ceil(span / 150 / 3600) * 3600)


def _slots(span: float, width: float) -> int:
    return max(1, math.ceil(span / width))


def _count_by_bucket(times: pd.Series, width: float, span: float) -> pd.Series:
    return _sum_by_bucket(times, pd.Series(1.0, index=times.index), width, span)


def _sum_by_bucket(times: pd.Series, weights: pd.Series, width: float, span: float) -> pd.Series:
    """Sums of ``weights`` per bucket of ``width`` seconds over [0, span] (indexed by bucket
    middles); times outside the run are left out."""
    count = _slots(span, width) + 1
    slots = np.floor(times.to_numpy(dtype=float) / width)
    inside = np.isfinite(slots) & (slots >= 0) & (slots < count)
    sums = np.bincount(
        slots[inside].astype(np.int64),
        weights=weights.to_numpy(dtype=float)[inside],
        minlength=count,
    )
    return pd.Series(sums, index=np.arange(count) * width + width / 2)


def _rows(runs: list[ChartRun], ylabel: str) -> tuple[Figure, list[Axes]]:
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


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def _legend(ax: Axes) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)


def fault_color(name: str) -> str:
    return next((c for key, c in FAULT_COLORS.items() if key in name), "#7f7f7f")


def _mark_all_faults(ax: Axes, runs: list[ChartRun]) -> None:
    """Every run's faults on one axes; the same fault at the same time is drawn once."""
    seen: set[tuple[str, int]] = set()
    faults: list[FaultSpan] = []
    for run in runs:
        for fault in run.frames.faults:
            key = (fault.label, round(fault.start))
            if key not in seen:
                seen.add(key)
                faults.append(fault)
    _mark_faults(ax, faults, max(r.frames.span for r in runs))


def _mark_faults(ax: Axes, faults: list[FaultSpan], span: float) -> None:
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
]
