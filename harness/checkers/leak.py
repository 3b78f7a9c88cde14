"""leak: resources that keep growing under steady load (the monitor's ``sample`` records).

For each node process (a restart starts a new series) and for Redis: after dropping a
warm-up window, a Theil-Sen trend (robust to the odd spike, scipy) of RSS, open fds and Redis
used memory, with its 95 % confidence interval, in units per hour. A series leaks when the
lower bound of its slope is above the threshold both over the whole window and over its second
half: growth that levels off (a cache filling up) is not a leak. The projected time to
``memory_limit`` is reported for RSS. Too short a series says unknown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import theilslopes

from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import Record

NAME = "leak"
COUNTS = ("series", "judged", "leaking", "rss_slope_max_mb_h", "fds_slope_max_h")
MB = 1024 * 1024
# metric in a sample -> (what it measures, threshold per hour, unit divisor for reports)
METRICS = {
    "rss": ("RSS", 50 * MB, MB),
    "fds": ("open fds", 200, 1),
    "used_memory": ("Redis memory", 50 * MB, MB),
}
MIN_SAMPLES = 10
MIN_SPAN = 20.0  # seconds, after the warm-up


def check(
    history: list[Record],
    ctx: CheckContext,
    warmup: float | None = None,
    thresholds: dict[str, float] | None = None,
    memory_limit: float = 1024 * MB,
) -> CheckResult:
    limits = {name: spec[1] for name, spec in METRICS.items()} | (thresholds or {})
    series = _series(history)
    counts = dict.fromkeys(COUNTS, 0.0)
    counts["series"] = float(len(series))
    trends: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    for (target, pid, metric), points in sorted(series.items(), key=lambda item: str(item[0])):
        trend = _trend(points, warmup)
        if trend is None:
            continue
        counts["judged"] += 1
        label, _, unit = METRICS[metric]
        trend.update(target=target, pid=pid, metric=metric, unit_divisor=unit)
        trend["leaking"] = bool(
            trend["low_per_h"] > limits[metric] and trend["late_low_per_h"] > limits[metric]
        )
        if metric == "rss" and trend["slope_per_h"] > 0:
            trend["hours_to_limit"] = max(
                0.0, (memory_limit - trend["last"]) / trend["slope_per_h"]
            )
        if metric == "rss":
            counts["rss_slope_max_mb_h"] = max(
                counts["rss_slope_max_mb_h"], trend["slope_per_h"] / MB
            )
        if metric == "fds":
            counts["fds_slope_max_h"] = max(counts["fds_slope_max_h"], trend["slope_per_h"])
        if trend["leaking"]:
            counts["leaking"] += 1
            if len(examples) < 5:
                examples.append({"why": f"{label} of {target} keeps growing", **trend})
        trends.append(trend)
    return _verdict(counts, examples, trends)


def _series(history: list[Record]) -> dict[tuple[str, Any, str], list[tuple[float, float]]]:
    found: dict[tuple[str, Any, str], list[tuple[float, float]]] = {}
    for record in history:
        if record["f"] != "sample":
            continue
        value = record.get("value")
        if not isinstance(value, dict) or value.get("kind") not in ("node", "redis"):
            continue
        for metric in METRICS:
            if metric in value and not (metric == "rss" and value["kind"] == "redis"):
                key = (str(value["target"]), value.get("pid"), metric)
                found.setdefault(key, []).append((record["time"], float(value[metric])))
    return found


def _trend(points: list[tuple[float, float]], warmup: float | None) -> dict[str, Any] | None:
    times = np.array([t for t, _ in points])
    values = np.array([v for _, v in points])
    span = times[-1] - times[0] if len(times) else 0.0
    skip = min(60.0, span * 0.25) if warmup is None else warmup
    keep = times >= times[0] + skip
    times, values = times[keep], values[keep]
    if len(times) < MIN_SAMPLES or times[-1] - times[0] < MIN_SPAN:
        return None
    hours = (times - times[0]) / 3600.0
    slope, _, low, high = theilslopes(values, hours, 0.95)
    half = len(hours) // 2
    late = theilslopes(values[half:], hours[half:], 0.95) if len(hours) - half >= 5 else None
    return {
        "samples": len(times),
        "span_s": float(times[-1] - times[0]),
        "slope_per_h": float(slope),
        "low_per_h": float(low),
        "high_per_h": float(high),
        "late_low_per_h": float(late[2]) if late is not None else float(low),
        "first": float(values[0]),
        "last": float(values[-1]),
    }


def _verdict(
    counts: dict[str, float], examples: list[dict[str, Any]], trends: list[dict[str, Any]]
) -> CheckResult:
    details = {"trends": trends}
    if not counts["judged"]:
        reason = "no resource samples" if not counts["series"] else "too few samples after warm-up"
        return CheckResult(NAME, "unknown", reason, counts, details=details)
    if counts["leaking"]:
        worst = examples[0]
        rate = worst["slope_per_h"] / worst["unit_divisor"]
        summary = (
            f"{int(counts['leaking'])} of {int(counts['judged'])} series keep growing; "
            f"{worst['metric']} of {worst['target']} at {rate:.1f}/h"
        )
        return CheckResult(NAME, False, summary, counts, examples, details=details)
    summary = (
        f"no growth beyond the thresholds in {int(counts['judged'])} series; RSS slope at most "
        f"{counts['rss_slope_max_mb_h']:.1f} MB/h"
    )
    return CheckResult(NAME, True, summary, counts, details=details)
