"""Recovery times after faults, from the survival checker's recovery rows."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from harness.checkers.result import CheckResult
from harness.checkers.tables import SurvivalTable
from harness.report.charts.kit import (
    MAX_CURVES,
    PALETTE,
    WIDTH,
    ChartRun,
    NoData,
    legend,
)


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
    legend(ax)
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
