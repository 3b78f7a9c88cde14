"""Charts of the monitor's resource samples: memory, open fds, sessions and streams, CPU, per
node (and Redis, and the load generator) over the run, with the faults (restarts) marked.

A restarted process is a new line segment (its samples carry the new PID); the leak check's
fitted trend is drawn over each series it found leaking or levelling off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.checkers.tables import LeakTable
from harness.report.charts.kit import (
    PALETTE,
    ChartRun,
    NoData,
    bucket_width,
    empty,
    legend,
    mark_faults,
    rows,
)
from harness.report.longevity import cpu_percent

MIB = 1024.0 * 1024.0
MAX_POINTS = 3000  # per line; longer series are thinned for drawing only
REDIS_COLOR = "#8c564b"
LOADGEN_COLOR = "#7f7f7f"
NO_SAMPLES = "no resource samples (the monitor records them in runs of the local backend)"


def _require_samples(runs: list[ChartRun]) -> None:
    if all(run.frames.samples.empty for run in runs):
        raise NoData(NO_SAMPLES)


def target_colors(runs: list[ChartRun]) -> dict[str, str]:
    """The same colour for a node in every chart and run; Redis brown, load generator grey."""
    nodes = sorted(
        {
            str(t)
            for run in runs
            for t in run.frames.samples.loc[run.frames.samples["kind"] == "node", "target"]
        }
    )
    colors = {node: PALETTE[i % len(PALETTE)] for i, node in enumerate(nodes)}
    for run in runs:
        samples = run.frames.samples
        for target in samples.loc[samples["kind"] == "redis", "target"].unique():
            colors[str(target)] = REDIS_COLOR
        for target in samples.loc[samples["kind"] == "loadgen", "target"].unique():
            colors[str(target)] = LOADGEN_COLOR
    return colors


def _segments(samples: pd.DataFrame, kinds: tuple[str, ...], column: str) -> list[Any]:
    """(target, kind, part) per process (target and PID) with values in ``column``."""
    chosen = samples[samples["kind"].isin(kinds) & samples[column].notna()]
    out = []
    for (target, _pid), part in chosen.groupby(["target", "pid"], sort=True, dropna=False):
        part = part.sort_values("t")
        if len(part) > MAX_POINTS:
            part = part.iloc[:: int(np.ceil(len(part) / MAX_POINTS))]
        out.append((str(target), str(part["kind"].iloc[0]), part))
    return out


def _plot_lines(
    ax: Axes,
    samples: pd.DataFrame,
    column: str,
    kinds: tuple[str, ...],
    colors: dict[str, str],
    scale: float = 1.0,
    suffix: str = "",
    style: dict[str, Any] | None = None,
) -> bool:
    labelled: set[str] = set()
    drawn = False
    for target, kind, part in _segments(samples, kinds, column):
        label = None
        if target not in labelled:
            label = _name(target, kind) + suffix
            labelled.add(target)
        line_style: dict[str, Any] = {
            "ls": "--" if kind == "redis" else ":" if kind == "loadgen" else "-"
        }
        line_style |= style or {}
        ax.plot(
            part["t"].to_numpy(),
            part[column].to_numpy(dtype=float) / scale,
            color=colors.get(target, "#333333"),
            lw=1.4,
            label=label,
            **line_style,
        )
        drawn = True
    return drawn


def _name(target: str, kind: str) -> str:
    return target if kind in ("node", target) else f"{target} ({kind})"


def _draw_fits(ax: Axes, run: ChartRun, metrics: tuple[str, ...], scale: float) -> None:
    """The leak check's Theil-Sen line over each series it found leaking or levelling off."""
    for result in run.results:
        if not isinstance(result.table, LeakTable):
            continue
        for trend in result.table.trends:
            if trend.metric not in metrics or trend.status not in ("leak", "levels off"):
                continue
            fitted = trend.fit
            start = fitted.start_s - run.frames.zero
            hours = np.array([0.0, fitted.span_s / 3600.0])
            values = fitted.intercept + fitted.slope_per_h * hours
            leaking = trend.status == "leak"
            ax.plot(
                [start, start + fitted.span_s],
                values / scale,
                color="#d62728" if leaking else "#6b7280",
                lw=2.2,
                ls=(0, (6, 3)),
                alpha=0.85,
                label=f"{trend.target} fit: {fitted.slope_per_h / scale:.3g}/h"
                + (" LEAK" if leaking else " (levels off)"),
            )


def memory_chart(runs: list[ChartRun]) -> Figure:
    """RSS of each node in MiB, with the leak check's fitted trends."""
    _require_samples(runs)
    colors = target_colors(runs)
    figure, axes = rows(runs, "node RSS (MiB)")
    for ax, run in zip(axes, runs, strict=True):
        if not _plot_lines(ax, run.frames.samples, "rss", ("node",), colors, MIB):
            empty(ax, "no node samples")
            continue
        _draw_fits(ax, run, ("rss",), MIB)
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure


def redis_chart(runs: list[ChartRun]) -> Figure:
    """Redis used memory in MiB (left), and its keys (right, dotted)."""
    _require_samples(runs)
    if all(run.frames.samples["used_memory"].isna().all() for run in runs):
        raise NoData("no Redis samples (memory store, or Redis not ours)")
    colors = target_colors(runs)
    figure, axes = rows(runs, "Redis used memory (MiB)")
    for ax, run in zip(axes, runs, strict=True):
        samples = run.frames.samples
        style = {"ls": "-"}
        if not _plot_lines(
            ax, samples, "used_memory", ("redis",), colors, MIB, " used memory", style
        ):
            empty(ax, "no Redis samples")
            continue
        _draw_fits(ax, run, ("used_memory",), MIB)
        keys = ax.twinx()
        keys.set_ylabel("keys")
        for _, _, part in _segments(samples, ("redis",), "keys"):
            keys.plot(
                part["t"].to_numpy(),
                part["keys"].to_numpy(dtype=float),
                color="#17becf",
                lw=1.0,
                ls=":",
            )
        keys.set_ylim(bottom=0)
        mark_faults(ax, run.frames.faults, run.frames.span)
        ax.plot([], [], color="#17becf", lw=1.0, ls=":", label="keys (right axis)")
        legend(ax)
    return figure


def fds_chart(runs: list[ChartRun]) -> Figure:
    """Open file descriptors of each node (and Redis)."""
    _require_samples(runs)
    colors = target_colors(runs)
    figure, axes = rows(runs, "open fds")
    for ax, run in zip(axes, runs, strict=True):
        if not _plot_lines(ax, run.frames.samples, "fds", ("node", "redis"), colors):
            empty(ax, "no samples")
            continue
        _draw_fits(ax, run, ("fds",), 1.0)
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure


def sessions_chart(runs: list[ChartRun]) -> Figure:
    """Per node: live sessions in its store (solid) and listening streams it holds (dashed)."""
    _require_samples(runs)
    if all(run.frames.samples["sessions"].isna().all() for run in runs):
        raise NoData("no node reported its sessions (/metrics)")
    colors = target_colors(runs)
    figure, axes = rows(runs, "sessions / streams")
    for ax, run in zip(axes, runs, strict=True):
        samples = run.frames.samples
        drawn = _plot_lines(ax, samples, "sessions", ("node",), colors, suffix=" sessions")
        drawn |= _plot_lines(
            ax, samples, "open_streams", ("node",), colors, suffix=" streams", style={"ls": "--"}
        )
        if not drawn:
            empty(ax, "no samples")
            continue
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure


def cpu_chart(runs: list[ChartRun]) -> Figure:
    """CPU of each process in % of one core, averaged per bucket."""
    _require_samples(runs)
    colors = target_colors(runs)
    width = bucket_width(runs)
    figure, axes = rows(runs, "CPU (% of a core)")
    for ax, run in zip(axes, runs, strict=True):
        samples = run.frames.samples
        drawn = False
        for target, part in samples.groupby("target", sort=True):
            kind = str(part["kind"].iloc[0])
            pct = cpu_percent(part)
            if pct.empty:
                continue
            slot = (pct["t"] // width).astype(np.int64)
            mean = pct.groupby([pct["pid"], slot])["cpu_pct"].mean().reset_index()
            name: str | None = _name(str(target), kind)
            for _, segment in mean.groupby("pid", sort=False):
                label, name = name, None  # one legend entry per target
                ax.plot(
                    segment["t"].to_numpy() * width + width / 2,
                    segment["cpu_pct"].to_numpy(),
                    color=colors.get(str(target), "#333333"),
                    lw=1.4,
                    ls="--" if kind == "redis" else ":" if kind == "loadgen" else "-",
                    label=label,
                )
                drawn = True
        if not drawn:
            empty(ax, "no CPU samples")
            continue
        ax.set_ylim(bottom=0)
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure


RESOURCE_CHARTS: list[tuple[str, str, str, Callable[[list[ChartRun]], Figure]]] = [
    (
        "memory",
        "Node memory over time",
        "RSS of each node in MiB; a restarted node starts a new line; thick dashes: the leak "
        "check's fitted trend where it found growth (red: a leak); vertical lines: faults and "
        "restarts.",
        memory_chart,
    ),
    (
        "redis",
        "Redis memory over time",
        "Redis used memory in MiB (solid, left axis) and its number of keys (dotted, right "
        "axis); thick dashes: the leak check's fitted trend where it found growth.",
        redis_chart,
    ),
    (
        "fds",
        "Open file descriptors",
        "Open fds of each node (solid) and Redis (dashed); vertical lines: faults and restarts.",
        fds_chart,
    ),
    (
        "sessions",
        "Sessions and streams",
        "Per node: live sessions in the store it uses (solid) and listening streams it holds "
        "(dashed), from its /metrics.",
        sessions_chart,
    ),
    (
        "cpu",
        "CPU",
        "CPU of each node (solid), Redis (dashed) and the load generator (dotted), in % of "
        "one core, averaged per bucket.",
        cpu_chart,
    ),
]
