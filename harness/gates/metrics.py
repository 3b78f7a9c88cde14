"""compute_metrics: one flat dict of numbers from a history and its checker results."""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from harness.chaos.episodes import is_heal
from harness.checkers import CheckResult
from harness.gates.thresholds import NOTIFICATION_KINDS
from harness.history import EVENT_FS, NEMESIS, NOT_CLIENTS, Record

TOOLS_CALL = "tools_call"  # every call:<tool> together
_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
Floats = np.ndarray[Any, np.dtype[np.float64]]


def op_metric_name(f: str) -> str:
    """An operation's name in metric names: ``call:notify`` -> ``call_notify``."""
    return f.replace(":", "_").replace("/", "_").replace("-", "_")


def compute_metrics(history: Iterable[Record], results: list[CheckResult]) -> dict[str, float]:
    """Every metric a threshold may name (see harness.gates); missing when not measured.

    Counts of a checker whose verdict is "unknown" are left out: a threshold cannot pass on
    a history that could not decide.
    """
    return with_checker_counts(run_metrics(history), results)


def with_checker_counts(run: dict[str, float], results: list[CheckResult]) -> dict[str, float]:
    """The run's own metrics (:func:`run_metrics`) and the checkers' counts, as
    compute_metrics gives them; for a streamed pass that computed run_metrics beside the
    checkers."""
    metrics = dict(run)
    for result in results:
        if result.valid == "unknown":
            continue
        for count, value in result.counts.items():
            if not math.isnan(value):
                metrics[f"{result.name}.{count}"] = float(value)
    return metrics


def run_metrics(history: Iterable[Record]) -> dict[str, float]:
    """Requests, errors, messages, faults and latencies, in one pass over the history."""
    latencies: dict[str, array[float]] = defaultdict(lambda: array("d"))
    requests = errors = timeouts = messages = faults = 0
    notified: dict[str, int] = defaultdict(int)  # listening stream (process) -> notifications
    kinds: dict[str, int] = defaultdict(int)
    first, last = math.inf, -math.inf
    for record in history:
        process, kind, f = record["process"], record["type"], record["f"]
        if process in NOT_CLIENTS:
            if process == NEMESIS and kind == "ok" and not is_heal(f):
                faults += 1
            continue
        time = record["time"]
        first = time if time < first else first
        last = time if time > last else last
        if kind == "invoke":
            continue
        if f in EVENT_FS:
            if f == "message":
                messages += 1
                # A notification on a listening stream, not a response or a server's request
                # (they have an id); inline, not a call: most of a soak's records are messages.
                value = record.get("value")
                if record.get("stream") == "get" and isinstance(value, dict) and "id" not in value:
                    method = value.get("method")
                    kind_of = _notification_kind(method) if isinstance(method, str) else None
                    if kind_of is not None:
                        notified[process] += 1
                        kinds[kind_of] += 1
            continue
        if record.get("interrupted"):
            continue
        requests += 1
        if kind == "ok":
            latency = record.get("latency")
            if latency is not None:
                latencies[f].append(latency * 1000.0)
        else:
            errors += 1
            timeouts += str(record.get("error", "")).startswith("timeout")
    span = last - first if last > first else 0.0
    metrics = {
        "requests.count": float(requests),
        "requests.rate": requests / span if span else math.nan,
        "errors.count": float(errors),
        "errors.rate": errors / requests if requests else math.nan,
        "errors.timeouts": float(timeouts),
        "messages.count": float(messages),
        "faults.count": float(faults),
        "notifications.count": float(sum(notified.values())),
        "notifications.streams": float(len(notified)),
        "notifications.per_stream": sum(notified.values()) / len(notified) if notified else 0.0,
    }
    metrics |= {f"notifications.{kind}": float(kinds.get(kind, 0)) for kind in NOTIFICATION_KINDS}
    tools = [values for f, values in latencies.items() if f.startswith("call:")]
    if tools:
        latencies[TOOLS_CALL] = array("d", b"".join(values.tobytes() for values in tools))
    for f, values in latencies.items():
        metrics.update(_latency(op_metric_name(f), np.frombuffer(values, dtype=np.float64)))
    return {name: value for name, value in metrics.items() if not math.isnan(value)}


@lru_cache(maxsize=1024)
def _notification_kind(method: str) -> str | None:
    """The kind of a notification that arrived on a listening stream (NOTIFICATION_KINDS), by
    its method, or None for anything else. Cached: a soak's millions of notifications carry a
    handful of methods."""
    if not method.startswith("notifications/"):
        return None
    kind = op_metric_name(method.removeprefix("notifications/"))
    return kind if kind in NOTIFICATION_KINDS else None


def _latency(name: str, values: Floats) -> dict[str, float]:
    ordered = np.sort(values)
    n = len(ordered)
    out = {f"latency.{name}.{agg}": _rank(ordered, q) for agg, q in _PERCENTILES.items()}
    out[f"latency.{name}.max"] = float(ordered[-1])
    out[f"latency.{name}.mean"] = math.fsum(ordered.tolist()) / n
    out[f"latency.{name}.count"] = float(n)
    return out


def _rank(ordered: Floats, q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return float(ordered[min(len(ordered), max(1, math.ceil(q / 100.0 * len(ordered)))) - 1])
