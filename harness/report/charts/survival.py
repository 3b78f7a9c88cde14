"""Session survival: a Kaplan-Meier curve per run or per node, with fault markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.report.charts.kit import (
    MAX_CURVES,
    PALETTE,
    WIDTH,
    ChartRun,
    NoData,
    mark_all_faults,
)
from harness.report.summary import survival_sessions


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
    mark_all_faults(ax, runs)
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
