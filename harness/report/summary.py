"""summary.json: every figure of a report as plain data (the other formats render from it)."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from harness.checkers.result import CheckResult
from harness.gates import ThresholdResult
from harness.report.frames import FaultSpan, RunFrames
from harness.report.longevity import longevity_summary, resources_summary
from harness.report.model import RunData
from harness.verdict import overall_verdict

FORMAT = "mcp-scale-report/1"
MAX_EXAMPLES = 5
MAX_DETAIL_CHARS = 2000  # details larger than this stay out of the summary
# one row per session or user: for the charts only; trends and rows: in "longevity"
RAW_TABLES = ("sessions", "recovery", "trends", "rows")
PROFILE_KEYS = (
    "scenario",
    "backend",
    "store",
    "nodes",
    "users",
    "duration",
    "shape",
    "chaos",
    "defects",
    "sample_every",
    "rolling_restart_every",
    "redis_restart_every",
    "memory_limit",
)


def build_summary(runs: list[tuple[RunData, RunFrames]]) -> dict[str, Any]:
    summaries = [summarize_run(run, frames) for run, frames in runs]
    return {
        "format": FORMAT,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "verdict": overall_verdict([s["verdict"] for s in summaries]),
        "runs": summaries,
    }


def summarize_run(run: RunData, frames: RunFrames) -> dict[str, Any]:
    return {
        "label": run.label,
        "run_dir": str(run.run_dir),
        "verdict": run.verdict,
        "profile": _profile(run),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(frames.zero)),
        "duration_s": round(frames.end, 3),
        "records": frames.records,
        "complete": frames.complete,
        "checkers": [checker_summary(r) for r in run.results],
        "thresholds": [_threshold(g) for g in run.gates],
        "metrics": {str(k): _figure(v) for k, v in run.metrics.items()},
        "operations": _operations(frames),
        "latency_ms": _latencies(frames.ops),
        "sessions": _sessions(run, frames),
        "messages": _messages(frames),
        "faults": [_fault(f) for f in frames.faults],
        "resources": resources_summary(frames),
        "longevity": longevity_summary(run.results, frames),
    }


def checker_summary(result: CheckResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "valid": result.valid,
        "status": status_of(result),
        "expected": result.expected,
        "fails_run": result.fails_run,
        "summary": result.summary,
        "counts": {str(k): _figure(v) for k, v in result.counts.items()},
        "examples": jsonable(result.examples[:MAX_EXAMPLES]),
        "details": {
            k: v for k, v in jsonable(result.details).items() if k not in RAW_TABLES and _small(v)
        },
    }


def status_of(result: CheckResult) -> str:
    """pass, fail, unknown, or expected (a failure the target promises no better than)."""
    if result.valid is True:
        return "pass"
    if result.valid is False:
        return "expected" if result.expected else "fail"
    return "unknown"


def _threshold(gate: ThresholdResult) -> dict[str, Any]:
    return {
        "threshold": gate.threshold.text or gate.threshold.key,
        "metric": gate.threshold.key,
        "value": _figure(gate.actual),
        "passed": gate.passed,
    }


def _operations(frames: RunFrames) -> dict[str, Any]:
    counts = frames.ops["type"].value_counts()
    total = int(counts.sum())
    errors = int(counts.get("fail", 0) + counts.get("info", 0))
    return {
        "total": total,
        "ok": int(counts.get("ok", 0)),
        "fail": int(counts.get("fail", 0)),
        "info": int(counts.get("info", 0)),
        "error_rate": round(errors / total, 6) if total else 0.0,
        "per_second": round(total / frames.span, 3) if frames.end > 0 else 0.0,
    }


def _latencies(ops: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per operation: how many completed and how, and percentiles of the successful ones."""
    if ops.empty:
        return {}
    types = pd.crosstab(ops["f"], ops["type"])
    ok = ops[(ops["type"] == "ok") & ops["latency"].notna()]
    quantiles = ok.groupby("f")["latency"].quantile([0.5, 0.9, 0.99]).unstack()
    peak = ok.groupby("f")["latency"].max()
    table: dict[str, dict[str, Any]] = {}
    for f in sorted(types.index, key=lambda name: (-int(types.loc[name].sum()), name)):
        row = types.loc[f]
        entry: dict[str, Any] = {
            "count": int(row.sum()),
            "ok": int(row.get("ok", 0)),
            "fail": int(row.get("fail", 0)),
            "info": int(row.get("info", 0)),
        }
        for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            entry[key] = _ms(quantiles.loc[f, q]) if f in quantiles.index else None
        entry["max"] = _ms(peak.get(f))
        table[str(f)] = entry
    return table


def _sessions(run: RunData, frames: RunFrames) -> dict[str, Any]:
    """From the survival checker's sessions when it gave them, else from the history."""
    checked = survival_sessions(run.results)
    if checked is not None:
        source = "survival checker"
        lost = checked["lost"].astype(bool)
        groups = checked["group"].astype(str)
    else:
        source = "history (initialize / reinit)"
        lost = frames.sessions["lost"].astype(bool)
        groups = pd.Series(run.label, index=frames.sessions.index)
    by_group = lost.groupby(groups).agg(["size", "sum"])
    return {
        "source": source,
        "total": len(lost),
        "lost": int(lost.sum()),
        "survived": int((~lost).sum()),
        "groups": {
            str(g): {"total": int(row["size"]), "lost": int(row["sum"])}
            for g, row in by_group.iterrows()
        },
    }


def survival_sessions(results: list[CheckResult]) -> pd.DataFrame | None:
    """The survival checker's ``details["sessions"]`` as a frame, or None if it has none."""
    for result in results:
        sessions = result.details.get("sessions") if result.name == "survival" else None
        if isinstance(sessions, list) and sessions:
            frame = pd.DataFrame.from_records(
                [s for s in sessions if isinstance(s, dict)],
                columns=["session", "start", "end", "lost", "group"],
            )
            frame["group"] = frame["group"].fillna("all")
            frame["lost"] = frame["lost"].fillna(False).astype(bool)
            return frame
    return None


def _messages(frames: RunFrames) -> dict[str, Any]:
    notify, everything = frames.notify, frames.received
    received = everything[everything["nonce"].notna()]
    delivered = int(notify["delivered"].sum())
    unique = received.drop_duplicates(["nonce", "seq"])
    orphans = len(unique) - delivered  # arrived, but their notify call is not in the history
    delays = pd.to_numeric(received["delay"], errors="coerce").dropna()
    return {
        "sent": int(notify["emitted"].sum()) + orphans,
        "delivered": delivered + orphans,
        "lost": int(notify["lost"].sum()),
        # of which emitted by calls made before the session's stream first opened
        "lost_before_stream": int(notify.loc[notify["before_stream"], "lost"].sum()),
        "duplicated": int(len(received) - len(unique)),
        "other_received": int(len(everything) - len(received)),
        "delay_ms": {
            "p50": _ms(delays.quantile(0.5)) if len(delays) else None,
            "p99": _ms(delays.quantile(0.99)) if len(delays) else None,
            "max": _ms(delays.max()) if len(delays) else None,
        },
    }


def _fault(fault: FaultSpan) -> dict[str, Any]:
    return {
        "name": fault.name,
        "target": fault.target,
        "outcome": fault.outcome,
        "start": round(fault.start, 3),
        "applied": _round(fault.applied),
        "end": _round(fault.end),
        "healed_by": fault.healed_by,
        "detail": fault.detail,
    }


def _ms(seconds: Any) -> float | None:
    value = _number(seconds)
    return None if value is None else round(value * 1000.0, 3)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _figure(value: Any) -> int | float | None:
    if isinstance(value, int):
        return int(value)
    return _number(value)


def jsonable(value: Any) -> Any:
    """JSON data that strict parsers accept: NaN and infinities become null, objects text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


def _small(value: Any) -> bool:
    return len(json.dumps(value)) <= MAX_DETAIL_CHARS


def _profile(run: RunData) -> dict[str, Any]:
    """The settings a reader of the report needs to know what ran."""
    given = run.manifest.profile if run.manifest else {}
    return {key: given[key] for key in PROFILE_KEYS if key in given}
