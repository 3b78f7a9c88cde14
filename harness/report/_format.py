"""Wording and number formats shared by report.md and report.html (both read summary.json)."""

from __future__ import annotations

from typing import Any

ICONS = {"pass": "✅", "fail": "❌", "unknown": "❔", "expected": "⚠️"}
NONE = "-"  # a figure that is not there
WORDS = {"pass": "pass", "fail": "FAIL", "unknown": "unknown", "expected": "expected"}


def status_text(status: str, icons: bool = True) -> str:
    """The status as a word, after an emoji when ``icons`` (the HTML page goes without: a
    browser may lack an emoji font)."""
    icon = ICONS.get(status, "") if icons else ""
    return f"{icon} {WORDS.get(status, status)}".strip()


def threshold_status(passed: bool | None) -> str:
    return "pass" if passed is True else "fail" if passed is False else "unknown"


def number(value: Any, digits: int = 3) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return str(value)


def percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fraction * 100:.2f}%"


def rows_by_name(runs: list[dict[str, Any]], key: str, name: str) -> list[str]:
    """The union of the names of ``runs[*][key][*][name]``, in first-seen order."""
    names: dict[str, None] = {}
    for run in runs:
        for item in run.get(key, []):
            names.setdefault(str(item[name]), None)
    return list(names)


def find(run: dict[str, Any], key: str, name: str, value: str) -> dict[str, Any] | None:
    return next((item for item in run.get(key, []) if str(item[name]) == value), None)


def checker_cell(checker: dict[str, Any] | None, icons: bool = True) -> str:
    if checker is None:
        return NONE
    return f"{status_text(checker['status'], icons)}: {checker['summary']}"


def threshold_cell(gate: dict[str, Any] | None, icons: bool = True) -> str:
    if gate is None:
        return NONE
    status = status_text(threshold_status(gate["passed"]), icons)
    return f"{status} (measured {number(gate['value'])})"


def key_numbers(run: dict[str, Any], icons: bool = True) -> list[tuple[str, str]]:
    """The few figures that say what happened in a run, as (name, text) rows."""
    profile = run.get("profile", {})
    ops, sessions, messages = run["operations"], run["sessions"], run["messages"]
    faults = run["faults"]
    applied = sum(1 for f in faults if f["outcome"] == "ok")
    delay = messages.get("delay_ms", {})
    setup = ", ".join(
        f"{k} {profile[k]}" for k in ("scenario", "store", "nodes", "users") if k in profile
    )
    history = f"{run['records']:,} records"
    if not run["complete"]:
        history += " (no run-end record: the run was cut short)"
    return [
        ("verdict", status_text(run["verdict"], icons)),
        ("setup", setup or NONE),
        ("duration", f"{run['duration_s']:.1f} s"),
        ("history", history),
        ("operations", f"{ops['total']:,} ({number(ops['per_second'])}/s)"),
        (
            "errors",
            f"{percent(ops['error_rate'])} ({ops['fail']:,} fail, {ops['info']:,} unknown)",
        ),
        ("sessions", f"{sessions['total']:,} created, {sessions['lost']:,} lost"),
        (
            "messages",
            f"{messages['sent']:,} sent, {messages['delivered']:,} delivered, "
            f"{messages['lost']:,} lost{_early(messages)}, "
            f"{messages['duplicated']:,} duplicated",
        ),
        ("message delay", f"p50 {number(delay.get('p50'))} ms, p99 {number(delay.get('p99'))} ms"),
        ("faults", f"{applied} applied, {len(faults) - applied} not"),
    ]


def _early(messages: dict[str, Any]) -> str:
    early = messages.get("lost_before_stream", 0)
    return f" ({early:,} sent before the stream opened)" if early else ""


def fault_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = []
    for fault in run["faults"]:
        healed = NONE if fault["end"] is None else f"{fault['end']:.1f} s ({fault['healed_by']})"
        rows.append(
            [
                fault["name"],
                fault["target"] or "",
                f"{fault['start']:.1f} s",
                healed,
                fault["outcome"],
                fault["detail"],
            ]
        )
    return rows


FAULT_HEADER = ["fault", "target", "at", "healed", "outcome", "detail"]
LATENCY_HEADER = ["operation", "count", "fail", "unknown", "p50", "p90", "p99", "max"]


def latency_rows(run: dict[str, Any]) -> list[list[str]]:
    return [
        [
            op,
            f"{row['count']:,}",
            f"{row['fail']:,}",
            f"{row['info']:,}",
            *(number(row[k]) for k in ("p50", "p90", "p99", "max")),
        ]
        for op, row in run["latency_ms"].items()
    ]


def metric_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """The gates' metrics, one row per name, one column per run."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run.get("metrics", {})))
    return [[name, *(number(run.get("metrics", {}).get(name)) for run in runs)] for name in names]
