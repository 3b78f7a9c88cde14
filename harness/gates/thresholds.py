"""Thresholds as data: ``"latency.tools_call.p99 < 250ms"`` -> Threshold, checked before a run.

A threshold names a metric and one of its aggregates (the part after the last dot), an
operator and a value: ``<metric>.<aggregate> <op> <value>[unit]``. Units: ``ms``, ``s``,
``m``, ``h`` on time metrics (``latency.*`` and aggregates ending in ``_ms``; values are
compared in milliseconds), ``%`` on rates (``1%`` is 0.01). See harness.gates for the
metric names.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from harness.checkers import COUNTS as CHECKER_COUNTS

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
LATENCY_AGGREGATES = ("p50", "p90", "p95", "p99", "max", "mean", "count")
NOTIFICATION_KINDS = (
    "tools_list_changed",
    "resources_list_changed",
    "prompts_list_changed",
    "resources_updated",
    "message",
    "progress",
)
# Metrics that are not a checker's counts: family -> its aggregates.
RUN_METRICS: dict[str, tuple[str, ...]] = {
    "requests": ("count", "rate"),
    "errors": ("count", "rate", "timeouts"),
    "messages": ("count",),
    "faults": ("count",),
    # Notifications servers send by themselves on listening streams, by kind and per stream.
    "notifications": ("count", "streams", "per_stream", *NOTIFICATION_KINDS),
}
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_THRESHOLD = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9_.]+)\s*(?P<op>[<>=!~]+)\s*"
    r"(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>ms|s|m|h|%)?\s*$"
)
_OP_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class ThresholdError(ValueError):
    """A threshold that cannot be evaluated; the message lists what is valid."""


@dataclass(frozen=True)
class Threshold:
    metric: str  # "latency.tools_call", "delivery", "errors"
    aggregate: str  # "p99", "lost", "rate"
    operator: str  # one of OPERATORS
    value: float  # in the metric's own unit (ms for time, a fraction for rates)
    text: str = ""  # as written

    @property
    def key(self) -> str:
        """The name of the value in a metrics dict: ``<metric>.<aggregate>``."""
        return f"{self.metric}.{self.aggregate}"

    def holds(self, actual: float) -> bool:
        return OPERATORS[self.operator](actual, self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "aggregate": self.aggregate,
            "operator": self.operator,
            "value": self.value,
            "text": self.text or f"{self.key} {self.operator} {self.value:g}",
        }


def metric_names() -> list[str]:
    """Every valid ``<metric>.<aggregate>`` name (``<op>`` stands for any operation)."""
    names = [f"{checker}.{count}" for checker, counts in CHECKER_COUNTS.items() for count in counts]
    names += [f"{family}.{agg}" for family, aggs in RUN_METRICS.items() for agg in aggs]
    names += [f"latency.<op>.{agg}" for agg in LATENCY_AGGREGATES]
    return names


def parse_threshold(text: str) -> Threshold:
    """One threshold; raises ThresholdError naming the valid metrics, operators and units."""
    match = _THRESHOLD.match(text)
    if match is None:
        raise ThresholdError(_usage(f"cannot read threshold {text!r}"))
    name, op, unit = match["name"], match["op"], match["unit"]
    if op not in OPERATORS:
        raise ThresholdError(_usage(f"unknown operator {op!r} in {text!r}"))
    metric, _, aggregate = name.rpartition(".")
    if not metric or not _known(metric, aggregate):
        raise ThresholdError(_usage(f"unknown metric {name!r} in {text!r}"))
    value = _value(float(match["value"]), unit, metric, aggregate, text)
    return Threshold(metric, aggregate, op, value, text.strip())


def parse_thresholds(texts: Iterable[str]) -> list[Threshold]:
    """All thresholds, or one ThresholdError listing every bad one (before a run starts)."""
    parsed: list[Threshold] = []
    errors: list[str] = []
    for text in texts:
        try:
            parsed.append(parse_threshold(text))
        except ThresholdError as exc:
            errors.append(str(exc).split("\n", 1)[0])
    if errors:
        raise ThresholdError(_usage("; ".join(errors)))
    return parsed


def _known(metric: str, aggregate: str) -> bool:
    if metric in CHECKER_COUNTS:
        return aggregate in CHECKER_COUNTS[metric]
    if metric in RUN_METRICS:
        return aggregate in RUN_METRICS[metric]
    family, _, op = metric.partition(".")
    return family == "latency" and bool(_OP_NAME.match(op)) and aggregate in LATENCY_AGGREGATES


def is_time(metric: str, aggregate: str) -> bool:
    """Whether the metric is a duration in milliseconds."""
    return (metric.startswith("latency.") and aggregate != "count") or aggregate.endswith("_ms")


def _value(number: float, unit: str | None, metric: str, aggregate: str, text: str) -> float:
    if math.isnan(number):
        raise ThresholdError(f"threshold {text!r}: the value is not a number")
    if unit is None:
        return number
    if unit == "%":
        if aggregate != "rate":
            raise ThresholdError(f"threshold {text!r}: % applies to rates only (errors.rate)")
        return number / 100.0
    if not is_time(metric, aggregate):
        raise ThresholdError(
            f"threshold {text!r}: {unit} applies to times only (latency.*, *_ms metrics)"
        )
    return number * _UNIT_MS[unit]


def _usage(problem: str) -> str:
    return (
        f"{problem}\n"
        f"write <metric> <operator> <value>[unit], e.g. 'delivery.lost == 0', "
        f"'latency.tools_call.p99 < 250ms', 'errors.rate < 1%'\n"
        f"operators: {' '.join(OPERATORS)}\n"
        f"units: ms s m h (times), % (rates)\n"
        f"metrics: {', '.join(metric_names())}\n"
        f"<op> is an operation with ':' and '/' as '_' (call_notify, initialize, stream_open), "
        f"or tools_call for every tool call"
    )
