"""leak: resources that keep growing under steady load (the monitor's ``sample`` records).

For each node process (a restart starts a new series) and for Redis: after dropping a
warm-up window, a Theil-Sen trend (robust to the odd spike, scipy) of RSS, open fds and Redis
used memory, with its 95 % confidence interval, in units per hour. A series leaks when the
lower bound of its slope is above the threshold both over the whole window and over its second
half: growth that levels off (a cache filling up) is not a leak. The projected time to
``memory_limit`` is reported for RSS and Redis memory (from the slope, and from the upper
bound: the pessimistic one). Too short a series says unknown.

A server's own bounded buffers fill for a while after the load is steady: the reference
server keeps each session's events for its retention (``mcp_event_log_retention_seconds`` in
/metrics, sampled by the monitor). The memory that holds them (Redis's, or the nodes' RSS in
memory mode) is judged only from the end of that retention on; a soak too short for that says
unknown, with the length that would decide, rather than calling a filling buffer a leak.

Thresholds, warm-up and memory limit come from the keyword arguments (harness.analysis
passes the run's ``leak_rss``, ``leak_fds``, ``leak_redis``, ``leak_warmup`` and
``memory_limit``), else the defaults below. Long series are reduced to at
most MAX_POINTS bucket medians first (Theil-Sen is quadratic in the number of points).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.stats import theilslopes

from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import Fit, LeakSettings, LeakTable, Trend
from harness.history import SAMPLE, Record, is_run_start
from harness.history.fanout import Reads

NAME = "leak"
COUNTS = (
    "series",
    "judged",
    "leaking",
    "rss_slope_max_mb_h",
    "fds_slope_max_h",
    "redis_slope_max_mb_h",
    "hours_to_limit_min",
)
MB = 1024 * 1024
# metric in a sample -> (what it measures, default threshold per hour, unit divisor, unit)
METRICS = {
    "rss": ("RSS", 50 * MB, MB, "MiB"),
    "fds": ("open fds", 200, 1, "fds"),
    "used_memory": ("Redis memory", 50 * MB, MB, "MiB"),
}
# The run setting (RunProfile) of each metric's threshold.
PROFILE_KEYS = {"rss": "leak_rss", "fds": "leak_fds", "used_memory": "leak_redis"}
MEMORY_METRICS = ("rss", "used_memory")
DEFAULT_MEMORY_LIMIT = 1024 * MB
MIN_SAMPLES = 10
MIN_SPAN = 20.0  # seconds, after the warm-up
MAX_POINTS = 1000
MAX_WARMUP = 60.0

Series = dict[tuple[str, Any, str], list[tuple[float, float]]]


def reads(ctx: CheckContext) -> Reads | None:
    """Resource samples (and the harness's run-start, handed anyway) only
    (harness.history.fanout.Selective)."""
    return lambda f, kind: f == SAMPLE


def check(
    history: Iterable[Record],
    ctx: CheckContext,
    warmup: float | None = None,
    thresholds: dict[str, float] | None = None,
    memory_limit: float | None = None,
) -> CheckResult:
    limits = {name: float(spec[1]) for name, spec in METRICS.items()}
    limits |= thresholds or {}
    memory_limit = memory_limit or DEFAULT_MEMORY_LIMIT
    start, settle, series = scan(history)
    steady = start + ctx.ramp
    # Where the server's event logs live: their memory may grow for ``settle`` seconds more.
    buffered = {"used_memory"} | ({"rss"} if ctx.store == "memory" else set())
    counts = dict.fromkeys(COUNTS, 0.0)
    counts["series"] = float(len(series))
    counts["hours_to_limit_min"] = math.inf
    trends: list[Trend] = []
    examples: list[dict[str, Any]] = []
    unsettled: list[str] = []
    for (target, pid, metric), points in sorted(series.items(), key=lambda item: str(item[0])):
        late = settle if metric in buffered else 0.0
        fitted = fit(points, warmup, steady + late)
        if fitted is None:
            if late and fit(points, warmup, steady) is not None:
                unsettled.append(f"{METRICS[metric][0]} of {target}")
            continue
        counts["judged"] += 1
        trend = _trend(target, pid, metric, fitted, limits[metric], memory_limit)
        if trend.hours_to_limit is not None:
            counts["hours_to_limit_min"] = min(counts["hours_to_limit_min"], trend.hours_to_limit)
        key = {"rss": "rss_slope_max_mb_h", "fds": "fds_slope_max_h"}.get(
            metric, "redis_slope_max_mb_h"
        )
        counts[key] = max(counts[key], fitted.slope_per_h / trend.unit_divisor)
        if trend.leaking:
            counts["leaking"] += 1
            if len(examples) < 5:
                examples.append(_example(trend))
        trends.append(trend)
    settings = LeakSettings(limits, warmup, memory_limit)
    result = _verdict(counts, examples, LeakTable(trends, settings))
    if unsettled and result.valid is not False:
        # Honest: a buffer that is still filling and a leak look alike until it is full.
        needed = ctx.ramp + settle + MIN_SPAN * 2 + (warmup or 0.0)
        judged = f"; {result.summary}" if counts["judged"] else ""
        result.valid = "unknown"
        result.summary = (
            f"{', '.join(unsettled)} not judged: the server keeps events for {settle:g} s "
            f"after the load is steady (mcp_event_log_retention_seconds), so that memory may "
            f"still be filling; a soak of at least {math.ceil(needed / 60)} min decides{judged}"
        )
    return result


def _trend(
    target: str, pid: Any, metric: str, fitted: Fit, limit: float, memory_limit: float
) -> Trend:
    """Judges one fitted series: a leak when the lower bound of its slope is above ``limit``
    both over the whole window and over its second half."""
    label, _, unit, unit_name = METRICS[metric]
    whole, late = fitted.low_per_h > limit, fitted.late_low_per_h > limit
    leaking = whole and late
    status = (
        "leak"
        if leaking
        else "levels off"
        if whole
        else "growing"
        if fitted.low_per_h > 0
        else "flat"
    )
    memory = metric in MEMORY_METRICS
    return Trend(
        target=target,
        pid=pid,
        metric=metric,
        label=label,
        unit=unit_name,
        unit_divisor=float(unit),
        threshold_per_h=limit,
        fit=fitted,
        leaking=leaking,
        status=status,
        memory_limit=memory_limit if memory else None,
        hours_to_limit=_hours_to(memory_limit, fitted.last, fitted.slope_per_h) if memory else None,
        hours_to_limit_worst=(
            _hours_to(memory_limit, fitted.last, fitted.high_per_h) if memory else None
        ),
    )


def scan(history: Iterable[Record]) -> tuple[float, float, Series]:
    """In one pass: when the run started (epoch seconds; -inf without a run-start record);
    how long after steady load the server's own buffers may keep growing (the longest
    event-log retention its nodes reported in /metrics, 0 when none did); and the series,
    (target, pid, metric) -> [(time, value)], of the metrics judged here."""
    start = -math.inf
    settle = 0.0
    found: Series = {}
    for record in history:
        if record["f"] != SAMPLE:
            if start == -math.inf and is_run_start(record):
                start = float(record["time"])
            continue
        value = record.get("value")
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("log_retention"), int | float):
            settle = max(settle, float(value["log_retention"]))
        if value.get("kind") not in ("node", "redis"):
            continue
        for metric in METRICS:
            if metric in value and not (metric == "rss" and value["kind"] == "redis"):
                key = (str(value["target"]), value.get("pid"), metric)
                found.setdefault(key, []).append((record["time"], float(value[metric])))
    return start, settle, found


def fit(
    points: list[tuple[float, float]], warmup: float | None, steady: float = -math.inf
) -> Fit | None:
    """The Theil-Sen trend of one series after its warm-up (25 % of it, at most a minute,
    unless ``warmup`` says) and not before ``steady`` (the end of the load's ramp, epoch
    seconds); None when too little is left."""
    times = np.array([t for t, _ in points], dtype=float)
    values = np.array([v for _, v in points], dtype=float)
    span = times[-1] - times[0] if len(times) else 0.0
    skip = min(MAX_WARMUP, span * 0.25) if warmup is None else warmup
    keep = times >= max(times[0] + skip, steady) if len(times) else times > 0
    times, values = times[keep], values[keep]
    if len(times) < MIN_SAMPLES or times[-1] - times[0] < MIN_SPAN:
        return None
    samples, start = len(times), float(times[0])
    fit_times, fit_values = reduce(times, values, MAX_POINTS)
    hours = (fit_times - start) / 3600.0
    slope, intercept, low, high = theilslopes(fit_values, hours, 0.95)
    half = len(hours) // 2
    late = theilslopes(fit_values[half:], hours[half:], 0.95) if len(hours) - half >= 5 else None
    return Fit(
        samples=samples,
        points=len(hours),
        start_s=start,
        span_s=float(times[-1] - times[0]),
        slope_per_h=float(slope),
        intercept=float(intercept),
        low_per_h=float(low),
        high_per_h=float(high),
        late_slope_per_h=float(late[0]) if late is not None else float(slope),
        late_low_per_h=float(late[2]) if late is not None else float(low),
        first=float(values[0]),
        last=float(values[-1]),
        peak=float(values.max()),
    )


Array = np.ndarray[Any, np.dtype[np.float64]]


def reduce(times: Array, values: Array, most: int) -> tuple[Array, Array]:
    """At most ``most`` points: medians of equal time buckets (robust like the fit itself)."""
    if len(times) <= most:
        return times, values
    edges = np.linspace(times[0], times[-1], most + 1)
    slots = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, most - 1)
    kept_t, kept_v = [], []
    bounds = np.flatnonzero(np.diff(slots)) + 1
    for part_t, part_v in zip(np.split(times, bounds), np.split(values, bounds), strict=True):
        kept_t.append(float(np.median(part_t)))
        kept_v.append(float(np.median(part_v)))
    return np.array(kept_t), np.array(kept_v)


def _example(trend: Trend) -> dict[str, Any]:
    """A leaking series in its own unit (MiB or fds), per hour."""
    unit, fitted = trend.unit_divisor, trend.fit
    example = {
        "why": f"{trend.label} of {trend.target} keeps growing",
        "target": trend.target,
        "pid": trend.pid,
        "metric": trend.metric,
        "unit": trend.unit,
        "slope_per_h": round(fitted.slope_per_h / unit, 3),
        "ci95_per_h": [round(fitted.low_per_h / unit, 3), round(fitted.high_per_h / unit, 3)],
        "late_low_per_h": round(fitted.late_low_per_h / unit, 3),
        "threshold_per_h": round(trend.threshold_per_h / unit, 3),
        "first": round(fitted.first / unit, 3),
        "last": round(fitted.last / unit, 3),
        "samples": fitted.samples,
        "span_s": round(fitted.span_s, 1),
    }
    if trend.hours_to_limit is not None:
        example["hours_to_limit"] = round(trend.hours_to_limit, 2)
    return example


def _hours_to(limit: float, last: float, rate: float) -> float | None:
    if rate <= 0:
        return None
    return max(0.0, (limit - last) / rate)


def _verdict(
    counts: dict[str, float], examples: list[dict[str, Any]], table: LeakTable
) -> CheckResult:
    if not counts["judged"]:
        reason = "no resource samples" if not counts["series"] else "too few samples after warm-up"
        return CheckResult(NAME, "unknown", reason, counts, table=table)
    if counts["leaking"]:
        worst = max(
            (t for t in table.trends if t.leaking),
            key=lambda t: t.fit.low_per_h / t.threshold_per_h if t.threshold_per_h else 0,
        )
        unit, fitted = worst.unit_divisor, worst.fit
        summary = (
            f"{int(counts['leaking'])} of {int(counts['judged'])} series keep growing; "
            f"{worst.label} of {worst.target} at {fitted.slope_per_h / unit:.1f} "
            f"{worst.unit}/h (95% CI {fitted.low_per_h / unit:.1f} to "
            f"{fitted.high_per_h / unit:.1f})"
        )
        if worst.hours_to_limit is not None:
            summary += f", {worst.hours_to_limit:.1f} h to the memory limit"
        return CheckResult(NAME, False, summary, counts, examples, table=table)
    summary = (
        f"no growth beyond the thresholds in {int(counts['judged'])} series; RSS slope at most "
        f"{counts['rss_slope_max_mb_h']:.1f} MiB/h"
    )
    return CheckResult(NAME, True, summary, counts, table=table)
