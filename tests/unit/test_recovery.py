"""recovery.measure on short literal histories: outages, stream gaps, think time left out."""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.checkers.recovery import Spread, measure
from harness.history import Record

U1, U2 = "w0-u1", "w0-u2"
S1, S2 = "s1", "s2"


def r(t: float, type_: str, process: str, f: str, value: Any = None, **extra: Any) -> Record:
    record: dict[str, Any] = {"time": t, "type": type_, "process": process, "f": f}
    record["value"] = value
    record.update(extra)
    return record  # type: ignore[return-value]


def op(t0: float, t1: float, type_: str, user: str = U1, session: str = S1) -> list[Record]:
    done = r(t1, type_, user, "call:echo", "x", session=session, latency=t1 - t0)
    if type_ != "ok":
        done["error"] = "ConnectionResetError"
    return [r(t0, "invoke", user, "call:echo", "x", session=session), done]


def opened(
    t0: float, t1: float, last: str | None, type_: str = "ok", user: str = U1
) -> list[Record]:
    value = {"last_event_id": last}
    process = f"{user}/stream"
    return [
        r(t0, "invoke", process, "stream_open", value, session=S1),
        r(t1, type_, process, "stream_open", value, session=S1, latency=t1 - t0),
    ]


def broke(t: float, reason: str = "truncated", user: str = U1) -> Record:
    value = {"reason": reason, "last_event_id": "7-0"}
    return r(t, "ok", f"{user}/stream", "stream_break", value, session=S1)


def fault(t: float, name: str = "kill-node", target: str = "n1", ok: bool = True) -> list[Record]:
    done = "ok" if ok else "fail"
    return [r(t, "invoke", "nemesis", name, target), r(t + 0.001, done, "nemesis", name, target)]


def history(*parts: Record | list[Record]) -> list[Record]:
    records: list[Record] = []
    for part in parts:
        records.extend(part if isinstance(part, list) else [part])
    return sorted(records, key=lambda record: record["time"])


def test_an_outage_counts_only_the_time_spent_trying_not_think_time() -> None:
    report = measure(
        history(
            op(1.0, 1.01, "ok"),
            fault(10.0),
            op(9.9, 10.05, "info"),  # in flight when the node died: counts from the fault
            op(10.5, 10.51, "fail"),  # after 0.45 s of think time
            op(11.0, 11.02, "ok"),
            fault(13.0, "restart-node"),
        )
    )
    [outage] = report.outages
    assert (outage.user, outage.session, outage.fault) == (U1, S1, "kill-node:n1")
    assert outage.started == 10.0
    assert outage.recovered == 11.02
    assert outage.seconds == pytest.approx(0.05 + 0.01 + 0.02)
    assert outage.wall == pytest.approx(1.02)
    assert outage.failures == 2
    assert outage.stream_gap is None
    assert report.gaps == []
    assert report.outage.count == 1


def test_a_stream_gap_lasts_from_the_break_to_the_resumed_stream() -> None:
    report = measure(
        history(
            fault(10.0),
            broke(10.01),
            opened(10.02, 10.03, "7-0", "fail"),  # refused: still down, not a second gap
            opened(10.1, 10.12, "7-0"),
            op(10.5, 10.51, "ok"),
        )
    )
    [gap] = report.gaps
    assert (gap.broke, gap.reopened, gap.resumed) == (10.01, 10.12, True)
    assert gap.seconds == pytest.approx(0.11)
    [outage] = report.outages
    assert outage.seconds == pytest.approx(0.11)  # the reconnect delay counts: not think time
    assert outage.stream_gap == pytest.approx(0.11)
    assert outage.recovered == 10.12
    assert report.unresumed == 0


def test_a_session_is_back_only_when_its_requests_and_its_stream_are() -> None:
    report = measure(
        history(
            fault(10.0),
            op(10.0, 10.02, "info"),
            broke(10.01),
            op(10.1, 10.11, "ok"),
            opened(10.25, 10.3, "7-0"),
        )
    )
    [outage] = report.outages
    assert outage.recovered == 10.3
    assert outage.seconds == pytest.approx(0.3)  # the spans overlap: counted once
    assert outage.wall == pytest.approx(0.3)


def test_a_fresh_stream_of_a_new_session_is_not_a_resume() -> None:
    report = measure(history(fault(10.0), broke(10.01), opened(10.5, 10.6, None)))
    [gap] = report.gaps
    assert gap.resumed is False
    assert report.unresumed == 1


def test_what_never_recovers_has_no_duration() -> None:
    report = measure(history(fault(10.0), op(10.0, 10.02, "fail"), broke(10.01)))
    [outage] = report.outages
    assert (outage.recovered, outage.seconds, outage.wall) == (None, None, None)
    [gap] = report.gaps
    assert (gap.reopened, gap.seconds, gap.resumed) == (None, None, False)
    assert report.unrecovered == 1
    assert report.outage.count == 0 and math.isnan(report.outage.p99)


def test_failures_no_fault_explains_are_only_counted() -> None:
    report = measure(
        history(
            op(1.0, 1.01, "fail"),  # before any fault
            op(1.5, 1.51, "ok"),
            fault(10.0),
            fault(11.0, "restart-node"),
            op(50.0, 50.01, "fail"),  # long after the heal (window 30 s)
            op(50.5, 50.51, "ok"),
        )
    )
    assert report.outages == []
    assert report.unattributed == 2


def test_closes_by_the_client_and_interrupted_operations_are_not_failures() -> None:
    interrupted = op(10.2, 10.3, "info")
    interrupted[1]["interrupted"] = True
    report = measure(history(fault(10.0), broke(10.1, "closed by client"), interrupted))
    assert report.outages == [] and report.gaps == [] and report.unattributed == 0


def test_two_outages_of_one_session_in_one_fault_add_up() -> None:
    report = measure(
        history(
            fault(10.0),
            op(10.0, 10.01, "fail"),
            op(10.05, 10.06, "ok"),
            op(12.0, 12.02, "info"),
            op(12.1, 12.11, "ok"),
        )
    )
    [outage] = report.outages
    assert outage.seconds == pytest.approx(0.02 + 0.03)
    assert (outage.started, outage.recovered, outage.failures) == (10.0, 12.11, 2)


def test_each_fault_gets_its_own_outages_and_unapplied_faults_none() -> None:
    report = measure(
        history(
            fault(10.0),
            op(10.0, 10.01, "fail"),
            op(10.02, 10.03, "ok"),
            fault(20.0, "kill-node", "n2"),
            op(20.0, 20.2, "info", U2, S2),
            op(20.3, 20.31, "ok", U2, S2),
            fault(30.0, "kill-node", "n3", ok=False),
            op(30.0, 30.5, "info"),
            op(30.6, 30.61, "ok"),
        )
    )
    assert [(o.fault, o.user) for o in report.outages] == [
        ("kill-node:n1", U1),
        ("kill-node:n2", U2),
    ]
    assert report.outage.count == 2
    assert report.outage.max == pytest.approx(0.21)


def test_spread_is_nearest_rank() -> None:
    spread = Spread.of([0.001 * i for i in range(1, 201)])
    assert (spread.count, spread.p50, spread.p99, spread.max) == (200, 0.1, 0.198, 0.2)
