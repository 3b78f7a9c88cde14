"""The longevity part of a report, as plain data: what each process used over the run (from
the monitor's samples), the leak check's slopes with their confidence intervals and projected
time to the memory limit, and the drift check's first-versus-last-window latencies."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from harness.checkers.result import CheckResult
from harness.checkers.tables import DriftRow, DriftTable, LeakTable, Trend
from harness.report.frames import RunFrames

MIB = 1024.0 * 1024.0


def resources_summary(frames: RunFrames) -> list[dict[str, Any]]:
    """One row per sampled target (node, Redis, load generator), nodes first."""
    samples = frames.samples
    if samples.empty:
        return []
    order = {"node": 0, "redis": 1, "loadgen": 2}
    rows = []
    for target, part in samples.groupby("target", sort=True):
        kind = str(part["kind"].iloc[0])
        row: dict[str, Any] = {
            "target": str(target),
            "kind": kind,
            "samples": len(part),
            "processes": int(part["pid"].nunique()),
            "from_s": round(float(part["t"].min()), 3),
            "to_s": round(float(part["t"].max()), 3),
            "cpu_pct_avg": _cpu_average(part),
            "cpu_pct_peak": _cpu_peak(part),
            "fds_last": _last(part["fds"]),
            "fds_peak": _peak(part["fds"]),
            "threads_peak": _peak(part["threads"]),
        }
        if kind != "redis":
            row["rss_mib_first"] = _scaled(_first(part["rss"]), MIB)
            row["rss_mib_last"] = _scaled(_last(part["rss"]), MIB)
            row["rss_mib_peak"] = _scaled(_peak(part["rss"]), MIB)
        if kind == "node":
            for column in ("sessions", "open_streams"):
                row[f"{column}_last"] = _last(part[column])
                row[f"{column}_peak"] = _peak(part[column])
        if kind == "redis":
            row["used_memory_mib_first"] = _scaled(_first(part["used_memory"]), MIB)
            row["used_memory_mib_last"] = _scaled(_last(part["used_memory"]), MIB)
            row["used_memory_mib_peak"] = _scaled(_peak(part["used_memory"]), MIB)
            for column in ("keys", "clients", "pubsub_channels"):
                row[f"{column}_last"] = _last(part[column])
                row[f"{column}_peak"] = _peak(part[column])
        rows.append(row)
    return sorted(rows, key=lambda r: (order.get(r["kind"], 3), r["target"]))


def longevity_summary(results: list[CheckResult], frames: RunFrames) -> dict[str, Any]:
    """The leak slopes, the drift table and the sampler's own cost; {} when there is none."""
    out: dict[str, Any] = {}
    for result in results:
        table = result.table
        if isinstance(table, LeakTable):
            out["leak"] = {
                "status": _status(result),
                "summary": result.summary,
                "settings": asdict(table.settings),
                "rows": [_slope_row(t, frames.zero) for t in table.trends],
            }
        if isinstance(table, DriftTable):
            out["drift"] = {
                "status": _status(result),
                "summary": result.summary,
                "settings": asdict(table.settings),
                "windows": [list(window) for window in table.windows or ()],
                "rows": [_drift_row(row) for row in table.rows],
            }
    if frames.monitor:
        out["monitor"] = dict(frames.monitor)
    return out


def _slope_row(trend: Trend, zero: float) -> dict[str, Any]:
    unit, fitted = trend.unit_divisor or 1.0, trend.fit

    def per(value: float) -> float:
        return round(value / unit, 4)

    return {
        "target": trend.target,
        "pid": trend.pid,
        "metric": trend.metric,
        "label": trend.label,
        "unit": trend.unit,
        "samples": fitted.samples,
        "from_s": round(fitted.start_s - zero, 3),
        "span_s": round(fitted.span_s, 3),
        "first": per(fitted.first),
        "last": per(fitted.last),
        "peak": per(fitted.peak),
        "slope_per_h": per(fitted.slope_per_h),
        "low_per_h": per(fitted.low_per_h),
        "high_per_h": per(fitted.high_per_h),
        "late_slope_per_h": per(fitted.late_slope_per_h),
        "late_low_per_h": per(fitted.late_low_per_h),
        "threshold_per_h": per(trend.threshold_per_h),
        "intercept": per(fitted.intercept),
        "hours_to_limit": trend.hours_to_limit,
        "hours_to_limit_worst": trend.hours_to_limit_worst,
        "status": trend.status,
        "leaking": trend.leaking,
    }


def _drift_row(row: DriftRow) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 3)

    return {
        "f": row.f,
        "first_n": row.first.n,
        "last_n": row.last.n,
        "first_p50_ms": ms(row.first.p50),
        "first_p99_ms": ms(row.first.p99),
        "last_p50_ms": ms(row.last.p50),
        "last_p99_ms": ms(row.last.p99),
        "p99_growth": row.p99_growth,
        "p99_delta_ms": round(row.p99_delta_s * 1000.0, 3),
        "judged": row.judged,
        "drifting": row.drifting,
    }


def _status(result: CheckResult) -> str:
    return "pass" if result.valid is True else "fail" if result.valid is False else "unknown"


def cpu_percent(part: pd.DataFrame) -> pd.DataFrame:
    """CPU use between consecutive samples of one target, in % of one core: t, pid, cpu_pct
    (a restart starts again from its new process's first sample)."""
    part = part.sort_values("t")
    by_pid = part.groupby("pid", sort=False)
    used = by_pid["cpu"].diff()
    elapsed = by_pid["t"].diff()
    pct = 100.0 * used / elapsed.where(elapsed > 0)
    out = pd.DataFrame({"t": part["t"], "pid": part["pid"], "cpu_pct": pct})
    return out.dropna(subset=["cpu_pct"])


def _cpu_average(part: pd.DataFrame) -> float | None:
    used = elapsed = 0.0
    for _, one in part.sort_values("t").groupby("pid", sort=False):
        cpu = one["cpu"].dropna()
        if len(cpu) >= 2:
            used += float(cpu.iloc[-1] - cpu.iloc[0])
            elapsed += float(one.loc[cpu.index, "t"].iloc[-1] - one.loc[cpu.index, "t"].iloc[0])
    return round(100.0 * used / elapsed, 2) if elapsed > 0 else None


def _cpu_peak(part: pd.DataFrame) -> float | None:
    pct = cpu_percent(part)["cpu_pct"]
    return round(float(pct.max()), 2) if len(pct) else None


def _first(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.iloc[0]) if len(values) else None


def _last(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.iloc[-1]) if len(values) else None


def _peak(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.max()) if len(values) else None


def _scaled(value: float | None, unit: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(value / unit, 3)
