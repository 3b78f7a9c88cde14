"""Reports: rendered from a real short run (real cluster, Locust and a node kill) with
checker results built by hand, from a crashed run's partial history, and compared."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checkers import CheckContext, check_history, survival
from harness.checkers.result import CheckResult
from harness.checkers.tables import DeliveryTable
from harness.gates import evaluate, parse_thresholds
from harness.history import Record, read_history
from harness.report import RunData, compare_runs, load_run, load_summary, render_report
from harness.report import charts as charts_module
from harness.report.charts import ChartRun, messages_chart, survival_chart
from harness.report.frames import frames_of
from harness.verdict import verdict_of

RUN_TIMEOUT = 120
CHART_NAMES = {"survival", "latency", "messages", "throughput", "recovery"}
# Drawn from the monitor's resource samples (every local run has them).
CHART_NAMES |= {"memory", "redis", "fds", "sessions", "cpu"}
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//""")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real run: 3 nodes with Redis, 10 users for 15 s, n1 killed at 5 s, back at 9 s."""
    base = tmp_path_factory.mktemp("report-run")
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(base / "state")}
    out = base / "run"
    args = ["--scenario", "notifications", "--users", "10", "--spawn-rate", "10"]
    args += ["--duration", "15s", "--chaos", "kill-node:n1@5s; restart-node:n1@9s"]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", *args, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield out
    finally:
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "cleanup", "--all"],
            capture_output=True,
            timeout=60,
            env=env,
        )


DELIVERY_COUNTS = {"emitted": 100, "due": 100, "delivered": 98, "lost": 2, "duplicated": 0}


def hand_results(history: list[Record]) -> list[CheckResult]:
    """What the checkers could have said: one of each verdict; survival's is the real one."""
    return [
        survival.check(history, CheckContext(store="redis")),
        CheckResult(
            "delivery",
            False,
            "2 messages lost",
            dict(DELIVERY_COUNTS),
            examples=[{"nonce": "w0-u1-abc", "seq": 3, "why": "never received"}],
        ),
        CheckResult("broadcast", "unknown", "no broadcast in this scenario", {"broadcasts": 0}),
        CheckResult("isolation", False, "1 session lost (memory mode)", {"lost": 1}, expected=True),
    ]


THRESHOLDS = ["latency.call_notify.p99 < 5s", "errors.rate < 0.1%", "broadcast.missed == 0"]
METRICS = {"latency.call_notify.p99": 200.0, "errors.rate": 0.02, "survival.lost": 0.0}
# passed, failed, and not measured (which fails too)
GATES = evaluate(parse_thresholds(THRESHOLDS), METRICS)


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    history = read_history(run_dir)
    run = load_run(
        run_dir, label="redis", results=hand_results(history), gates=GATES, metrics=METRICS
    )
    return render_report(tmp_path_factory.mktemp("report"), [run])


def test_verdict_rule() -> None:
    ok = CheckResult("a", True, "")
    assert verdict_of([ok], []) == "pass"
    assert verdict_of([ok, CheckResult("b", "unknown", "")], []) == "unknown"
    assert verdict_of([ok], GATES[:1]) == "pass"
    assert verdict_of([ok], GATES[1:2]) == "fail"
    assert verdict_of([], GATES[2:]) == "fail", "a threshold not measured fails"
    assert verdict_of([CheckResult("b", False, "", expected=True)], []) == "pass"
    assert verdict_of([], []) == "unknown"


def test_report_writes_every_file(report: dict[str, Path]) -> None:
    assert {"summary.json", "report.md", "report.html", "junit.xml"} <= set(report)
    assert {f"charts/{name}.png" for name in CHART_NAMES} <= set(report)
    for path in report.values():
        assert path.stat().st_size > 0


def test_summary_holds_the_verdict_checkers_thresholds_and_figures(
    report: dict[str, Path], run_dir: Path
) -> None:
    summary = json.loads(report["summary.json"].read_text())
    assert summary["verdict"] == "fail"
    (run,) = summary["runs"]
    assert run["label"] == "redis" and run["complete"] is True
    checkers = {c["name"]: c for c in run["checkers"]}
    assert checkers["survival"]["status"] == "pass"
    assert checkers["delivery"]["counts"] == DELIVERY_COUNTS
    assert checkers["delivery"]["status"] == "fail" and checkers["delivery"]["examples"]
    assert checkers["broadcast"]["status"] == "unknown"
    assert checkers["isolation"]["status"] == "expected"
    assert checkers["survival"]["details"] == {}, "its tables stay out"
    assert [t["passed"] for t in run["thresholds"]] == [True, False, False]
    assert run["thresholds"][2] == {
        "threshold": "broadcast.missed == 0",
        "metric": "broadcast.missed",
        "value": None,
        "passed": False,
    }
    assert run["metrics"] == METRICS

    history = read_history(run_dir)
    notify = run["latency_ms"]["call:notify"]
    assert notify["count"] == sum(
        1 for r in history if r["f"] == "call:notify" and r["type"] != "invoke"
    )
    assert 0 < notify["p50"] <= notify["p90"] <= notify["p99"] <= notify["max"]
    initialized = sum(1 for r in history if r["f"] == "initialize" and r["type"] == "ok")
    sessions = run["sessions"]
    assert sessions["source"] == "survival checker"
    assert sessions["total"] == checkers["survival"]["counts"]["sessions"] >= initialized
    assert sessions["lost"] == 0 and sessions["survived"] == sessions["total"]
    assert sum(group["total"] for group in sessions["groups"].values()) == sessions["total"]
    messages = run["messages"]
    assert messages["source"] == "delivery checker", "the checker's figures, not recomputed"
    assert (messages["sent"], messages["delivered"], messages["lost"]) == (100, 98, 2)
    received = [r for r in history if r["f"] == "message" and r["type"] == "ok"]
    notes = sum(1 for r in received if "nonce" in str(r["value"]))
    assert messages["other_received"] == len(received) - notes
    kill = next(f for f in run["faults"] if f["name"] == "kill-node")
    assert kill["target"] == "n1" and kill["outcome"] == "ok"
    assert kill["healed_by"] == "restart-node" and 8 < kill["end"] < 12
    assert run["operations"]["total"] > 50
    assert {c["name"] for c in summary["charts"]} == CHART_NAMES


def test_junit_has_one_testcase_per_checker_and_threshold(report: dict[str, Path]) -> None:
    root = ET.parse(report["junit.xml"]).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 4 + 3
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert failed == {"delivery", "errors.rate < 0.1%", "broadcast.missed == 0"}
    assert skipped == {"broadcast"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "3", "1")
    assert root.get("failures") == "3"


def test_html_is_one_self_contained_file(report: dict[str, Path]) -> None:
    html = report["report.html"].read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(CHART_NAMES)
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert not EXTERNAL.search(html), "no external reference"
    assert "<link" not in html and "<script" not in html
    assert "<title>mcp-scale report: FAIL</title>" in html
    assert "2 messages lost" in html and "kill-node" in html


def test_markdown_starts_with_the_verdict_then_tables(report: dict[str, Path]) -> None:
    lines = report["report.md"].read_text().splitlines()
    assert lines[0].startswith("## mcp-scale:") and "FAIL" in lines[0]
    assert "| checker | redis |" in lines
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    assert "FAIL" in rows["delivery"] and "pass" in rows["survival"]
    assert "FAIL" in rows["errors.rate < 0.1%"]
    assert "lost" in rows["messages"] and "created" in rows["sessions"]
    assert rows["errors.rate"] == "| errors.rate | 0.02 |"
    links = re.findall(r"\]\((charts/[a-z]+\.png)\)", "\n".join(lines))
    assert len(links) == len(CHART_NAMES)
    assert all((report["report.md"].parent / link).exists() for link in links)


def test_two_runs_are_side_by_side_with_one_curve_each(run_dir: Path, tmp_path: Path) -> None:
    history = read_history(run_dir)
    redis = load_run(run_dir, label="redis", history=history, results=hand_results(history))
    memory_results = check_history(history, CheckContext(store="memory"), names=["survival"])
    memory = load_run(run_dir, label="memory", history=history, results=memory_results)
    files = render_report(tmp_path, [redis, memory])
    summary = json.loads(files["summary.json"].read_text())
    assert [r["label"] for r in summary["runs"]] == ["redis", "memory"]
    assert summary["runs"][1]["messages"]["sent"] is None, "no delivery checker ran"
    assert "not checked (no delivery checker)" in files["report.md"].read_text()
    assert "| checker | redis | memory |" in files["report.md"].read_text()
    assert len(ET.parse(files["junit.xml"]).getroot().findall("testsuite")) == 2
    chart_runs = [ChartRun(r.label, frames_of(history), r.results) for r in (redis, memory)]
    labels = survival_chart(chart_runs).axes[0].get_legend_handles_labels()[1]
    assert {"redis", "memory"} <= set(labels)
    assert not [label for label in labels if label.startswith("redis: ")]


def test_the_messages_chart_plots_what_the_delivery_checker_judged(run_dir: Path) -> None:
    history = read_history(run_dir)
    results = check_history(history, CheckContext(store="redis"), names=["delivery"])
    table = results[0].table
    assert isinstance(table, DeliveryTable) and len(table.time) > 0
    assert sum(table.emitted) == results[0].counts["emitted"]

    figure = messages_chart([ChartRun("redis", frames_of(history), results)])

    sent = [line for line in figure.axes[0].lines if line.get_label() == "sent (notify)"]
    assert len(sent) == 1 and sum(sent[0].get_ydata()) == sum(table.emitted)


def test_received_messages_are_told_apart_as_notify_first_copies_repeats_and_others() -> None:
    def message(t: float, value: Any) -> dict[str, Any]:
        return {"time": t, "type": "ok", "process": "w0-u1/stream", "f": "message", "value": value}

    def note(nonce: str, seq: Any) -> dict[str, Any]:
        data = {"nonce": nonce, "seq": seq}
        return {"method": "notifications/message", "params": {"data": data}}

    history: list[Any] = [
        message(1.0, note("a", 1)),
        message(2.0, note("a", 2)),
        message(3.0, note("b", 1)),
        message(4.0, {"method": "notifications/tools/list_changed"}),
        message(5.0, note("a", 1)),  # a repeat, after others
        message(6.0, note("b", 1)),
        message(7.0, note("b", 1)),
        message(8.0, {"method": "notifications/tools/list_changed"}),  # others never repeat
    ]

    received = frames_of(history).received

    assert received["t"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert received["notify"].tolist() == [True, True, True, False, True, True, True, False]
    assert received["repeat"].tolist() == [False, False, False, False, True, True, True, False]


def test_a_crashed_runs_partial_history_still_reports(run_dir: Path, tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"
    shutil.copytree(run_dir, crashed, ignore=shutil.ignore_patterns("logs"))
    for path in crashed.glob("history-*.jsonl"):  # cut every file mid-line, as SIGKILL would
        data = path.read_bytes()
        cut = data.rfind(b"\n", 0, len(data) * 2 // 3) + 30
        path.write_bytes(data[:cut])
    history = read_history(crashed)
    assert 0 < len(history) < len(read_history(run_dir))
    files = render_report(tmp_path / "report", [load_run(crashed, history=history)])
    (run,) = json.loads(files["summary.json"].read_text())["runs"]
    assert run["complete"] is False and run["records"] == len(history)
    assert run["verdict"] == "unknown"
    assert "cut short" in files["report.md"].read_text()
    assert "charts/throughput.png" in files and "charts/latency.png" in files


def test_charts_that_cannot_be_drawn_become_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(runs: list[ChartRun]) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(charts_module, "CHARTS", [*charts_module.CHARTS, ("x", "X", "", broken)])
    files = render_report(tmp_path, [RunData("empty", tmp_path, [])])
    summary = json.loads(files["summary.json"].read_text())
    assert summary["charts"] == [] and not list((tmp_path / "charts").glob("*.png"))
    notes = "\n".join(summary["notes"])
    assert "Session survival: not drawn: no session was created" in notes
    assert "X: not drawn: RuntimeError: boom" in notes
    assert "not drawn" in files["report.html"].read_text()


def test_compare_flags_regressions(report: dict[str, Path]) -> None:
    baseline = load_summary(report["summary.json"].parent)
    assert not compare_runs(baseline, baseline).has_regressions
    worse = copy.deepcopy(baseline)
    run = worse["runs"][0]
    run["checkers"][0]["status"] = "fail"  # survival: pass -> fail
    run["latency_ms"]["call:notify"]["p99"] *= 1.5
    run["messages"]["lost"] += 3
    run["operations"]["error_rate"] += 0.05
    comparison = compare_runs(baseline, worse)
    assert comparison.has_regressions
    flagged = {row.metric for row in comparison.regressions}
    assert baseline["runs"][0]["verdict"] == "fail", "so the verdict cannot get worse"
    assert flagged == {
        "checker survival",
        "call:notify p99 (ms)",
        "messages lost",
        "error rate",
    }
    assert "REGRESSION" in comparison.to_text()
    assert comparison.to_markdown().startswith("## mcp-scale compare: ❌")
    assert not compare_runs(worse, baseline).has_regressions, "improvements are not regressions"
