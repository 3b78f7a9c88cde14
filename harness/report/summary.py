"""summary.json: every figure of a report as plain data (the other formats render from it).

Format ``mcp-scale-report/2``. From /1: lost sessions and lost messages are the survival and
delivery checkers' counts (one source of truth; null when that checker did not run), so
``sessions`` gains ``lost_expected`` and ``unknown``, ``messages`` gains ``due``,
``lost_expected``, ``late``, ``unlistened`` and ``censored`` (messages of notify calls made
before the session's stream opened: no longer part of ``lost``) and loses
``lost_before_stream``; a checker's ``details`` hold only ``seconds``, a crash's
``traceback`` and liveness's ``stalls``; a threshold's ``passed`` is never null (a metric
the run did not measure fails its threshold).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from harness.chaos.episodes import FaultOp
from harness.checkers.result import CheckResult
from harness.checkers.tables import LivenessTable, SurvivalTable
from harness.gates import ThresholdResult
from harness.report.frames import RunFrames
from harness.report.longevity import longevity_summary, resources_summary
from harness.report.model import RunData
from harness.target_profile import ACTIONS
from harness.verdict import overall_verdict

FORMAT = "mcp-scale-report/2"
MAX_EXAMPLES = 5
PROFILE_KEYS = (
    "scenario",
    "protocol",
    "backend",
    "target_profile",
    "routing",
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
        "not_tested": _not_tested(run),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(frames.zero)),
        "duration_s": round(frames.end, 3),
        "records": frames.records,
        "complete": frames.complete,
        "checkers": [checker_summary(r) for r in run.results],
        "thresholds": [_threshold(g) for g in run.gates],
        "metrics": {str(k): _figure(v) for k, v in run.metrics.items()},
        "operations": _operations(frames),
        "latency_ms": _latencies(frames.ops),
        "sessions": _sessions(run.results),
        "messages": _messages(run.results, frames),
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
        "details": jsonable(_details(result)),
    }


def _details(result: CheckResult) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if result.seconds is not None:
        details["seconds"] = result.seconds
    if result.traceback is not None:
        details["traceback"] = result.traceback
    if isinstance(result.table, LivenessTable):
        details["stalls"] = [asdict(stall) for stall in result.table.stalls]
    return details


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


def _sessions(results: list[CheckResult]) -> dict[str, Any]:
    """The survival checker's sessions: its counts, and its rows by group (the node that
    created them); null figures when it did not run."""
    survival = _result(results, "survival")
    table = survival.table if survival is not None else None
    counts = survival.counts if survival is not None else {}
    groups: dict[str, dict[str, int]] = {}
    for row in table.sessions if isinstance(table, SurvivalTable) else []:
        group = groups.setdefault(str(row.group or "all"), {"total": 0, "lost": 0})
        group["total"] += 1
        group["lost"] += row.lost
    figures = {key: _count(counts, name) for key, name in SESSION_FIGURES.items()}
    return {"source": "survival checker" if counts else None, **figures, "groups": groups}


SESSION_FIGURES = {
    "total": "sessions",
    "lost": "lost",
    "lost_expected": "lost_expected",
    "survived": "survived",
    "unknown": "unknown",
}
MESSAGE_FIGURES = {
    "sent": "emitted",
    "due": "due",
    "delivered": "delivered",
    "lost": "lost",
    "lost_expected": "lost_expected",
    "duplicated": "duplicated",
    "late": "late",
    "unlistened": "unlistened",
    "censored": "censored",
}


def survival_sessions(results: list[CheckResult]) -> pd.DataFrame | None:
    """The survival checker's sessions as a frame (session, start, end, lost, group), or
    None when it gave none."""
    survival = _result(results, "survival")
    table = survival.table if survival is not None else None
    if not isinstance(table, SurvivalTable) or not table.sessions:
        return None
    frame = pd.DataFrame.from_records(
        [(r.session, r.start, r.end, r.lost, r.group or "all") for r in table.sessions],
        columns=["session", "start", "end", "lost", "group"],
    )
    frame["lost"] = frame["lost"].astype(bool)
    return frame


def _messages(results: list[CheckResult], frames: RunFrames) -> dict[str, Any]:
    """The delivery checker's figures (null when it did not run), and how many other
    messages (not a notify's) arrived."""
    delivery = _result(results, "delivery")
    counts = delivery.counts if delivery is not None else {}
    received = frames.received
    return {
        "source": "delivery checker" if counts else None,
        **{key: _count(counts, name) for key, name in MESSAGE_FIGURES.items()},
        "other_received": int((~received["notify"]).sum()),
        "delay_ms": {
            "p50": _figure(counts.get("latency_p50_ms")),
            "p99": _figure(counts.get("latency_p99_ms")),
            "max": _figure(counts.get("latency_max_ms")),
        },
    }


def _result(results: list[CheckResult], name: str) -> CheckResult | None:
    return next((result for result in results if result.name == name), None)


def _count(counts: dict[str, float], name: str) -> int | None:
    value = counts.get(name)
    return None if value is None or not np.isfinite(value) else int(value)


def _fault(fault: FaultOp) -> dict[str, Any]:
    return {
        "name": fault.name,
        "target": fault.target,
        "outcome": fault.outcome,
        "start": round(fault.start, 3),
        "applied": _round(fault.completed),
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


def _profile(run: RunData) -> dict[str, Any]:
    """The settings a reader of the report needs to know what ran."""
    given = run.manifest.profile if run.manifest else {}
    return {key: given[key] for key in PROFILE_KEYS if key in given}


def _not_tested(run: RunData) -> list[str]:
    """The scenario actions the target profile has no tool for (their checks say unknown)."""
    if run.manifest is None or not run.manifest.actions:
        return []
    mapped = run.manifest.actions.get("actions", {})
    return [action for action in ACTIONS if action not in mapped]
