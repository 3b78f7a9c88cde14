"""A capacity search's chart: throughput and latency (p50, p99) against the offered load, the
knee and the capacity marked, the step that broke a threshold in red."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.capacity.steps import CapacityResult
from harness.report.charts.kit import PALETTE, ROW_HEIGHT, WIDTH, NoData, legend

BROKE = "#d62728"
KNEE = "#9467bd"
CAPACITY = "#2ca02c"


def capacity_chart(result: CapacityResult) -> Figure:
    """Two rows sharing the load axis: throughput (with the offered rate in rate mode), and
    latency p50/p99; NoData when no step ran."""
    steps = result.steps
    if not steps:
        raise NoData("no step of the search ran")
    plan = result.plan
    loads = [step.load for step in steps]
    figure = Figure(figsize=(WIDTH, 1.0 + 2 * ROW_HEIGHT), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(loads, [s.throughput for s in steps], "o-", color=PALETTE[0], label="throughput")
    if plan.mode == "rate":
        top.plot(loads, loads, ":", color="#777777", label="offered (calls/s)")
    top.set_ylabel(f"{plan.op} /s")
    top.set_ylim(bottom=0)
    for name, attr, color in (("p50", "p50_ms", PALETTE[1]), ("p99", "p99_ms", PALETTE[3])):
        points = [(s.load, getattr(s, attr)) for s in steps if getattr(s, attr) is not None]
        if points:
            xs, ys = zip(*points, strict=True)
            bottom.plot(xs, ys, "o-", color=color, label=f"{name} latency")
    bottom.set_ylabel("ms")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(f"offered load ({plan.unit})")
    for ax in (top, bottom):
        _marks(ax, result)
        ax.grid(alpha=0.3)
        legend(ax)
    top.set_title(
        f"capacity search: {result.scenario}, {result.target}", loc="left", fontweight="bold"
    )
    return figure


def _marks(ax: Axes, result: CapacityResult) -> None:
    knee, capacity, broken = result.knee, result.capacity, result.broken_step
    if knee is not None:
        ax.axvline(knee.load, color=KNEE, ls="--", lw=1.2, label=f"knee {knee.load:g}")
    if capacity is not None:
        ax.axvline(capacity, color=CAPACITY, ls="-", lw=1.2, label=f"capacity {capacity:g}")
    if broken is not None:
        ax.axvline(broken.load, color=BROKE, ls=":", lw=1.2, label=f"broke at {broken.load:g}")
