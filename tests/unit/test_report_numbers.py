"""One source of truth per number: summary.json's lost messages, lost sessions and faults are
the checkers' own counts on the same history."""

from __future__ import annotations

import json
from pathlib import Path

from harness.chaos.faults import HEALS
from harness.checkers import CheckContext, CheckResult, check_history
from harness.history import Record
from harness.report import load_run, render_report
from tests.support.histories import fault, history, init, listen, note, notify, op, r

U1, U2, U3 = "w0-u1", "w0-u2", "w0-u3"


def lossy_history() -> list[Record]:
    """Two users listening; u1's notify loses 2 of 5 messages, u2's gets one twice; n1 is
    killed, u1's session is gone (404, reinit), n1 restarts, both users work again. u3
    notifies before it listens: nothing was lost, nobody was listening."""
    return history(
        init(1, U1, "s1"),
        listen(1.1, U1, "s1"),
        init(1, U2, "s2", node="n2"),
        listen(1.1, U2, "s2"),
        init(1, U3, "s4"),
        notify(1.2, U3, "s4", "w0-u3-a", 3),
        listen(3, U3, "s4"),
        notify(2, U1, "s1", "w0-u1-a", 5),
        [note(2.05 + 0.01 * seq, U1, "s1", "w0-u1-a", seq) for seq in (1, 2, 3)],
        notify(2, U2, "s2", "w0-u2-a", 10),
        [note(2.05 + 0.01 * seq, U2, "s2", "w0-u2-a", seq) for seq in range(1, 11)],
        note(2.5, U2, "s2", "w0-u2-a", 4),
        fault(5, "kill-node"),
        op(5.2, U1, "s1", "fail", status=404, error="HTTP 404"),
        r(5.3, "invoke", U1, "reinit", {"old_session": "s1"}, session="s1"),
        r(5.31, "ok", U1, "reinit", {"old_session": "s1", "session": "s3"}, session="s3"),
        fault(8, "restart-node"),
        op(9, U1, "s3"),
        op(9, U2, "s2"),
    )


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.name: result for result in results}


def test_the_report_shows_the_checkers_counts(tmp_path: Path) -> None:
    records = lossy_history()
    results = check_history(records, CheckContext(store="redis"))
    checked = by_name(results)
    delivery, survival = checked["delivery"].counts, checked["survival"].counts
    assert delivery["lost"] == 2 and delivery["duplicated"] == 1, "the history is as meant"
    assert delivery["unlistened"] == 3
    assert survival["lost"] == 1

    run = load_run(tmp_path / "run", history=records, results=results)
    files = render_report(tmp_path / "report", [run])
    (summary,) = json.loads(files["summary.json"].read_text())["runs"]

    messages = summary["messages"]
    assert messages["sent"] == delivery["emitted"]
    assert messages["delivered"] == delivery["delivered"]
    assert messages["lost"] == delivery["lost"]
    assert messages["duplicated"] == delivery["duplicated"]
    assert messages["unlistened"] == delivery["unlistened"]
    assert messages["delay_ms"]["p99"] == delivery["latency_p99_ms"]
    sessions = summary["sessions"]
    assert sessions["total"] == survival["sessions"]
    assert sessions["lost"] == survival["lost"]
    assert sessions["survived"] == survival["survived"]
    assert sum(group["lost"] for group in sessions["groups"].values()) == survival["lost"]
    faults = [f for f in summary["faults"] if f["outcome"] == "ok" and f["name"] not in HEALS]
    assert len(faults) == checked["liveness"].counts["faults"]
    recovery = {c["name"]: c for c in summary["checkers"]}["survival"]["counts"]
    assert recovery["affected"] == survival["affected"]
    assert "4 created, 1 lost" in files["report.md"].read_text()
