"""Time series per run: latency percentiles, messages, throughput and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.checkers.tables import DeliveryTable
from harness.report.charts.kit import (
    PALETTE,
    ChartRun,
    NoData,
    bucket_width,
    count_by_bucket,
    empty,
    legend,
    mark_faults,
    rows,
    slot_count,
    sum_by_bucket,
)

MAX_OPS = 6  # latency lines per run (the most frequent operations)


def latency_chart(runs: list[ChartRun]) -> Figure:
    """p50 (solid) and p99 (dashed) per bucket for the most frequent operations."""
    width = bucket_width(runs)
    figure, axes = rows(runs, "latency (ms, log)")
    successes = [_successes(run.frames.ops) for run in runs]
    counts = pd.concat([ok["f"] for ok in successes]).value_counts()
    colors = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(counts.index)}  # same in all
    drawn = False
    for ax, run, ok in zip(axes, runs, successes, strict=True):
        if ok.empty:
            empty(ax, "no operation succeeded")
            continue
        top = list(ok["f"].value_counts().index[:MAX_OPS])
        ok = ok[ok["f"].isin(top)]
        bucket = (ok["t"] // width).clip(0, slot_count(run.frames.span, width)).astype(np.int64)
        quantiles = ok.groupby([ok["f"], bucket])["latency"].quantile([0.5, 0.99]).unstack()
        slots = np.arange(slot_count(run.frames.span, width) + 1)
        for f in top:
            part = quantiles.loc[f].reindex(slots) * 1000.0  # empty buckets break the line
            x = slots * width + width / 2
            style: dict[str, Any] = {"color": colors[f], "marker": ".", "markersize": 4}
            ax.plot(x, part[0.5].to_numpy(), lw=1.5, label=f"{f} p50", **style)
            ax.plot(x, part[0.99].to_numpy(), lw=1.0, ls="--", label=f"{f} p99", **style)
        ax.set_yscale("log")
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
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
    figure, axes = rows(runs, f"messages per {width:g} s")
    for ax, run, notify in zip(axes, runs, notified, strict=True):
        received = run.frames.received
        notifies = received[received["notify"]]
        span = run.frames.span
        others = received.loc[~received["notify"], "t"]
        series = {
            "sent (notify)": sum_by_bucket(notify["t"], notify["emitted"], width, span),
            "delivered": count_by_bucket(notifies.loc[~notifies["repeat"], "t"], width, span),
            "other messages": count_by_bucket(others, width, span),
        }
        for (name, values), color in zip(
            series.items(), ("#1f77b4", "#2ca02c", "#7f7f7f"), strict=True
        ):
            if values.sum() > 0:
                ax.step(values.index, values.to_numpy(), where="mid", color=color, label=name)
        lost = sum_by_bucket(notify["t"], notify["lost"], width, span)
        duplicated = count_by_bucket(notifies.loc[notifies["repeat"], "t"], width, span)
        ax.bar(lost.index, lost.to_numpy(), width=width * 0.8, color="#d62728", label="lost")
        if duplicated.sum() > 0:
            ax.bar(
                duplicated.index,
                duplicated.to_numpy(),
                width=width * 0.5,
                color="#9467bd",
                label="duplicated",
            )
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure


def _notify_frame(run: ChartRun) -> pd.DataFrame:
    """t (seconds since the run started), emitted, lost of each notify call the delivery
    checker judged."""
    frames = [
        pd.DataFrame(
            {
                "t": np.asarray(result.table.time) - run.frames.zero,
                "emitted": np.asarray(result.table.emitted),
                "lost": np.asarray(result.table.lost),
            }
        )
        for result in run.results
        if isinstance(result.table, DeliveryTable)
    ]
    return pd.concat(frames) if frames else pd.DataFrame(columns=["t", "emitted", "lost"])


def throughput_chart(runs: list[ChartRun]) -> Figure:
    """Operations completed per second: ok, fail (surely not done), info (unknown)."""
    if all(r.frames.ops.empty for r in runs):
        raise NoData("no operation completed")
    width = bucket_width(runs)
    figure, axes = rows(runs, "operations per second")
    styles = {
        "ok": ("#2ca02c", "ok"),
        "fail": ("#d62728", "fail"),
        "info": ("#ff7f0e", "info (unknown)"),
    }
    for ax, run in zip(axes, runs, strict=True):
        ops = run.frames.ops
        for kind, (color, name) in styles.items():
            times = ops.loc[ops["type"] == kind, "t"]
            values = count_by_bucket(times, width, run.frames.span) / width
            if values.sum() > 0 or kind == "ok":
                ax.plot(values.index, values.to_numpy(), color=color, lw=1.5, label=name)
        mark_faults(ax, run.frames.faults, run.frames.span)
        legend(ax)
    return figure
