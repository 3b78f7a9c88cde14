"""A capacity search's report: capacity.json (plain data, FORMAT), capacity.md (for a person
and a CI job summary) and capacity.png (harness.report.charts.capacity)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.capacity.knee import KNEE_GAIN, KNEE_LATENCY, KNEE_LATENCY_MS
from harness.capacity.steps import LATENCY_NOTE, CapacityResult
from harness.report.charts.capacity import capacity_chart
from harness.report.charts.kit import NoData, save_png

JSON = "capacity.json"
MARKDOWN = "capacity.md"
CHART = "capacity.png"
KNEE_DEFINITION = (
    f"the last load before the first step that added less than {KNEE_GAIN:.0%} of the "
    f"throughput proportional growth would give (throughput stops following the offered "
    f"load), or whose p99 was over {KNEE_LATENCY:g}x the first step's (and "
    f"{KNEE_LATENCY_MS:g} ms above it)"
)


def write_report(result: CapacityResult, directory: Path) -> list[str]:
    """The three files into ``directory``; notes on what could not be drawn."""
    (directory / JSON).write_text(json.dumps(result.to_dict(), indent=2))
    notes: list[str] = []
    chart = directory / CHART
    chart.unlink(missing_ok=True)
    try:
        save_png(capacity_chart(result), chart)
    except NoData as exc:
        notes.append(f"no chart: {exc}")
    (directory / MARKDOWN).write_text(markdown(result, chart.exists(), notes))
    return notes


def headline(result: CapacityResult) -> str:
    """One sentence: the capacity, the knee, how the search ended."""
    unit = result.plan.unit
    if result.capacity is None:
        if result.steps:
            found = f"no capacity: the first step ({result.steps[0].load:g} {unit}) broke"
        else:
            found = "no step ran"
    elif result.capacity_is_lower_bound:
        found = f"capacity at least {result.capacity:g} {unit} (no step broke a threshold)"
    else:
        assert result.broken_step is not None
        found = f"capacity {result.capacity:g} {unit} (it broke at {result.broken_step.load:g})"
    knee = result.knee
    found += f"; knee at {knee.load:g} {unit}" if knee else "; no knee within the loads tried"
    if result.ending == "interrupted":
        found += "; the search was interrupted"
    elif result.ending == "could-not-run":
        found += f"; a step could not run: {result.error}"
    return found


def markdown(result: CapacityResult, chart: bool, notes: list[str]) -> str:
    plan = result.plan
    lines = [
        "# mcp-scale capacity search",
        "",
        f"**{headline(result)}.**",
        "",
        f"- Scenario: `{result.scenario}` against {result.target}; {plan.describe()}.",
        f"- Thresholds: {', '.join(f'`{t}`' for t in result.thresholds) or 'none'}.",
        f"- Latency of `{plan.op}`: {LATENCY_NOTE[plan.mode]}.",
        f"- Knee: {KNEE_DEFINITION}." + (f" Here: {result.knee.reason}." if result.knee else ""),
        "- Capacity: the highest load whose step held every threshold, as did every step below it.",
        "",
        f"| step | load ({plan.unit}) | sent{' / due' if plan.mode == 'rate' else ''} "
        f"| {plan.op}/s | p50 ms | p99 ms | errors | thresholds |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for step in result.steps:
        broken = [g["reason"] for g in step.thresholds if not g["passed"]]
        verdict = "held" if step.held else "broke: " + "; ".join(broken)
        sent = f"{step.sent}" + (f" / {step.due}" if step.due is not None else "")
        lines.append(
            f"| {step.index + 1} | {step.load:g} | {sent} | {step.throughput:.1f} "
            f"| {_ms(step.p50_ms)} | {_ms(step.p99_ms)} | {_pct(step.error_rate)} | {verdict} |"
        )
    if plan.mode == "rate":
        lines += [
            "",
            "Calls due but not sent by the step's end (every session busy until Locust "
            "stopped them) were not measured: a step that sent fewer than were due was "
            "overloaded beyond what its latency shows.",
        ]
    lines.append("")
    if chart:
        lines += [f"![throughput and latency against load]({CHART})", ""]
    lines += [f"_{note}_" for note in notes]
    lines.append("Each step's run directory (run.json, history) is under `steps/`.")
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
