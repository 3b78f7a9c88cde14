"""compare_runs: two report summaries side by side, with the regressions flagged.

A regression is: a checker or threshold that passed (or could not decide) and now fails, a
p99 latency worse by more than ``latency_tolerance`` (and by at least ``min_latency_ms``),
an error rate up by more than ``latency_tolerance`` of itself (and by at least 0.1 points),
or more lost sessions, lost messages or duplicated messages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from harness.report import _format as fmt
from harness.report.markdown import table

MIN_ERROR_RATE_CHANGE = 0.001  # an error rate moving less than 0.1 points is noise


@dataclass
class Row:
    metric: str
    a: str
    b: str
    change: str
    regression: bool


@dataclass
class Comparison:
    label_a: str
    label_b: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.regression]

    @property
    def has_regressions(self) -> bool:
        return bool(self.regressions)

    def headline(self) -> str:
        count = len(self.regressions)
        verdict = f"{count} regression{'s' * (count != 1)}" if count else "no regression"
        return f"{self.label_a} -> {self.label_b}: {verdict}"

    def to_text(self) -> str:
        header = ["metric", self.label_a, self.label_b, "change", ""]
        rows = [
            [r.metric, r.a, r.b, r.change, "REGRESSION" if r.regression else ""] for r in self.rows
        ]
        widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
        lines = [self.headline(), ""]
        for row in [header, *rows]:
            lines.append(
                "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        return "\n".join(lines + [f"note: {n}" for n in self.notes]) + "\n"

    def to_markdown(self) -> str:
        icon = fmt.ICONS["fail"] if self.has_regressions else fmt.ICONS["pass"]
        rows = [
            [r.metric, r.a, r.b, r.change, "❌ regression" if r.regression else ""]
            for r in self.rows
        ]
        lines = [f"## mcp-scale compare: {icon} {self.headline()}", ""]
        lines += table(["metric", self.label_a, self.label_b, "change", ""], rows)
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "has_regressions": self.has_regressions}


def compare_runs(
    summary_a: dict[str, Any],
    summary_b: dict[str, Any],
    *,
    latency_tolerance: float = 0.2,
    min_latency_ms: float = 1.0,
) -> Comparison:
    """Compare two summaries (summary.json, or one run of it): A is the baseline, B the new.

    Summaries holding several runs are compared run by run, matched by label.
    """
    runs_a, runs_b = _runs(summary_a), _runs(summary_b)
    comparison = Comparison(*_labels(runs_a, runs_b))
    pairs = _pairs(runs_a, runs_b, comparison.notes)
    for a, b in pairs:
        prefix = f"{a['label']}: " if len(pairs) > 1 else ""
        rows = _verdicts(a, b) + _volumes(a, b, latency_tolerance)
        rows += _latencies(a, b, latency_tolerance, min_latency_ms)
        comparison.rows += [Row(prefix + r.metric, r.a, r.b, r.change, r.regression) for r in rows]
    return comparison


def _runs(summary: dict[str, Any]) -> list[dict[str, Any]]:
    runs = summary.get("runs")
    return list(runs) if isinstance(runs, list) else [summary]


def _labels(runs_a: list[dict[str, Any]], runs_b: list[dict[str, Any]]) -> tuple[str, str]:
    a = ", ".join(str(r.get("label", "A")) for r in runs_a)
    b = ", ".join(str(r.get("label", "B")) for r in runs_b)
    if a == b:
        a = ", ".join(str(r.get("run_dir", "A")) for r in runs_a)
        b = ", ".join(str(r.get("run_dir", "B")) for r in runs_b)
    return (a, b) if a != b else ("A", "B")


def _pairs(
    runs_a: list[dict[str, Any]], runs_b: list[dict[str, Any]], notes: list[str]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    if len(runs_a) == 1 and len(runs_b) == 1:
        return [(runs_a[0], runs_b[0])]
    by_label = {r["label"]: r for r in runs_b}
    pairs = [(a, by_label[a["label"]]) for a in runs_a if a["label"] in by_label]
    paired = {a["label"] for a, _ in pairs}
    unmatched = [r["label"] for r in runs_a + runs_b if r["label"] not in paired]
    if unmatched:
        notes.append(f"runs without a counterpart, not compared: {', '.join(unmatched)}")
    return pairs


def _verdicts(a: dict[str, Any], b: dict[str, Any]) -> list[Row]:
    rows = [_status_row("verdict", a["verdict"], b["verdict"])]
    for name in fmt.rows_by_name([a, b], "checkers", "name"):
        checker_a = fmt.find(a, "checkers", "name", name)
        checker_b = fmt.find(b, "checkers", "name", name)
        rows.append(
            _status_row(
                f"checker {name}",
                checker_a["status"] if checker_a else None,
                checker_b["status"] if checker_b else None,
            )
        )
    for name in fmt.rows_by_name([a, b], "thresholds", "threshold"):
        gate_a = fmt.find(a, "thresholds", "threshold", name)
        gate_b = fmt.find(b, "thresholds", "threshold", name)
        rows.append(
            _status_row(
                f"threshold {name}",
                fmt.threshold_status(gate_a["passed"]) if gate_a else None,
                fmt.threshold_status(gate_b["passed"]) if gate_b else None,
            )
        )
    return rows


def _status_row(metric: str, a: str | None, b: str | None) -> Row:
    change = "" if a == b else f"{a or 'absent'} -> {b or 'absent'}"
    regression = b == "fail" and a not in ("fail", None)
    return Row(
        metric,
        fmt.WORDS.get(a or "", "absent"),
        fmt.WORDS.get(b or "", "absent"),
        change,
        regression,
    )


def _volumes(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> list[Row]:
    ops_a, ops_b = a["operations"], b["operations"]
    rate_a, rate_b = float(ops_a["error_rate"]), float(ops_b["error_rate"])
    errors_up = rate_b > rate_a * (1 + tolerance) and rate_b - rate_a >= MIN_ERROR_RATE_CHANGE
    rows = [
        Row(
            "operations",
            f"{ops_a['total']:,}",
            f"{ops_b['total']:,}",
            _relative(ops_a["total"], ops_b["total"]),
            False,
        ),
        Row(
            "error rate",
            fmt.percent(rate_a),
            fmt.percent(rate_b),
            _points(rate_a, rate_b),
            errors_up,
        ),
    ]
    for metric, key, figure in (
        ("sessions lost", "sessions", "lost"),
        ("messages lost", "messages", "lost"),
        ("messages duplicated", "messages", "duplicated"),
    ):
        value_a, value_b = a[key].get(figure), b[key].get(figure)
        if value_a is None or value_b is None:  # not checked in one of the runs
            rows.append(Row(metric, fmt.number(value_a), fmt.number(value_b), "", False))
            continue
        change = f"{value_b - value_a:+,}" if value_a != value_b else ""
        rows.append(Row(metric, f"{value_a:,}", f"{value_b:,}", change, value_b > value_a))
    return rows


def _latencies(a: dict[str, Any], b: dict[str, Any], tolerance: float, floor: float) -> list[Row]:
    pairs: list[tuple[str, Any, Any, bool]] = []
    delay_a, delay_b = a["messages"].get("delay_ms", {}), b["messages"].get("delay_ms", {})
    pairs.append(("message delay p99", delay_a.get("p99"), delay_b.get("p99"), True))
    lat_a, lat_b = a["latency_ms"], b["latency_ms"]
    for op in [op for op in lat_a if op in lat_b]:
        pairs.append((f"{op} p50", lat_a[op]["p50"], lat_b[op]["p50"], False))
        pairs.append((f"{op} p99", lat_a[op]["p99"], lat_b[op]["p99"], True))
    rows = []
    for metric, value_a, value_b, judged in pairs:
        if value_a is None and value_b is None:
            continue
        worse = (
            judged
            and value_a is not None
            and value_b is not None
            and value_b > value_a * (1 + tolerance)
            and value_b - value_a >= floor
        )
        rows.append(
            Row(
                metric + " (ms)",
                fmt.number(value_a),
                fmt.number(value_b),
                _relative(value_a, value_b),
                bool(worse),
            )
        )
    return rows


def _relative(a: float | None, b: float | None) -> str:
    if a is None or b is None or a == b:
        return ""
    if a == 0:
        return "new"
    return f"{(b - a) / a * 100:+.1f}%"


def _points(a: float, b: float) -> str:
    return "" if a == b else f"{(b - a) * 100:+.2f} pts"
