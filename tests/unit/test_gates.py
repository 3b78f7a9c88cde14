"""Gates: thresholds parsed and validated before a run, metrics computed, evaluated after."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import COUNTS, CheckResult
from harness.gates import (
    OPERATORS,
    Threshold,
    ThresholdError,
    all_passed,
    compute_metrics,
    evaluate,
    metric_names,
    op_metric_name,
    parse_threshold,
    parse_thresholds,
)
from harness.history import Record


def r(t: float, type_: str, process: str, f: str, **extra: Any) -> Record:
    record: dict[str, Any] = {"time": t, "type": type_, "process": process, "f": f, "value": None}
    record.update(extra)
    return record  # type: ignore[return-value]


# ---- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delivery.lost == 0", Threshold("delivery", "lost", "==", 0.0)),
        ("latency.tools_call.p99 < 250ms", Threshold("latency.tools_call", "p99", "<", 250.0)),
        ("latency.call_notify.max<=1.5s", Threshold("latency.call_notify", "max", "<=", 1500.0)),
        ("survival.lost <= 2", Threshold("survival", "lost", "<=", 2.0)),
        ("errors.rate < 1%", Threshold("errors", "rate", "<", 0.01)),
        ("survival.outage_p99_ms < 1s", Threshold("survival", "outage_p99_ms", "<", 1000.0)),
        ("requests.count >= 100", Threshold("requests", "count", ">=", 100.0)),
        ("liveness.hangs != 1", Threshold("liveness", "hangs", "!=", 1.0)),
    ],
)
def test_thresholds_parse_into_metric_aggregate_operator_value(
    text: str, expected: Threshold
) -> None:
    parsed = parse_threshold(text)
    assert (parsed.metric, parsed.aggregate, parsed.operator) == (
        expected.metric,
        expected.aggregate,
        expected.operator,
    )
    assert parsed.value == pytest.approx(expected.value)
    assert parsed.text == text.strip()
    assert parsed.key == f"{expected.metric}.{expected.aggregate}"


def test_an_unknown_metric_lists_the_valid_names_and_operators() -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_threshold("delivery.lots == 0")
    message = str(caught.value)
    assert "unknown metric 'delivery.lots'" in message
    for name in ("delivery.lost", "survival.lost", "errors.rate", "latency.<op>.p99"):
        assert name in message
    assert "< <= > >= == !=" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("delivery.lost =< 0", "unknown operator '=<'"),
        ("delivery.lost = 0", "unknown operator '='"),
        ("nothing.at.all < 3", "unknown metric"),
        ("latency.call_notify.p42 < 3ms", "unknown metric"),
        ("latency.call-notify.p99 < 3ms", "cannot read"),
        ("delivery.lost", "cannot read"),
        ("delivery.lost == many", "cannot read"),
        ("delivery.lost < 5ms", "applies to times only"),
        ("latency.initialize.p99 < 5%", "applies to rates only"),
    ],
)
def test_bad_thresholds_are_refused_with_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ThresholdError, match=problem):
        parse_threshold(text)


def test_parse_thresholds_reports_every_bad_one_at_once() -> None:
    good = parse_thresholds(["delivery.lost == 0", "errors.rate < 5%"])
    assert [t.key for t in good] == ["delivery.lost", "errors.rate"]
    with pytest.raises(ThresholdError) as caught:
        parse_thresholds(["delivery.lost == 0", "nope.x < 1", "delivery.lost ~ 1"])
    message = str(caught.value)
    assert "'nope.x'" in message and "'~'" in message and "metrics:" in message


def test_every_checker_count_is_a_metric_name() -> None:
    names = set(metric_names())
    for checker, counts in COUNTS.items():
        for count in counts:
            assert f"{checker}.{count}" in names
            parse_threshold(f"{checker}.{count} >= 0")
    assert set(OPERATORS) == {"<", "<=", ">", ">=", "==", "!="}


# ---- metrics ----------------------------------------------------------------------------


def _history() -> list[Record]:
    return [
        r(1.0, "invoke", "nemesis", "kill-node", value="n1"),
        r(1.01, "ok", "nemesis", "kill-node", value="n1"),
        r(2.0, "ok", "w0-u1", "call:notify", latency=0.010),
        r(3.0, "ok", "w0-u1", "call:notify", latency=0.030),
        r(4.0, "ok", "w0-u1", "call:echo", latency=0.002),
        r(5.0, "fail", "w0-u1", "call:echo", latency=0.001, error="HTTP 503"),
        r(6.0, "info", "w0-u1", "initialize", latency=10.0, error="timeout after 10s"),
        r(6.5, "info", "w0-u1", "call:echo", latency=0.5, error="interrupted", interrupted=True),
        r(7.0, "ok", "w0-u1/stream", "message"),
        r(7.0, "ok", "w0-u1/stream", "stream_open", latency=0.004),
        r(8.0, "invoke", "w0-u1", "delete"),
        r(9.0, "ok", "nemesis", "restart-node", value="n1"),
    ]


def test_compute_metrics_from_the_history_and_the_checker_results() -> None:
    results = [
        CheckResult("delivery", True, "", {"lost": 0.0, "due": 40.0}),
        CheckResult("routing", "unknown", "no sampling", {"crossed": 0.0}),
        CheckResult("survival", False, "", {"lost": 2.0, "outage_p99_ms": float("nan")}),
    ]
    metrics = compute_metrics(_history(), results)
    assert metrics["requests.count"] == 6  # interrupted and events left out
    assert metrics["errors.count"] == 2 and metrics["errors.timeouts"] == 1
    assert metrics["errors.rate"] == pytest.approx(2 / 6)
    assert metrics["requests.rate"] == pytest.approx(6 / 6.0)  # client records span 2..8 s
    assert metrics["messages.count"] == 1 and metrics["faults.count"] == 1
    assert metrics["latency.call_notify.p50"] == pytest.approx(10.0)
    assert metrics["latency.call_notify.p99"] == pytest.approx(30.0)
    assert metrics["latency.call_notify.max"] == pytest.approx(30.0)
    assert metrics["latency.call_notify.mean"] == pytest.approx(20.0)
    assert metrics["latency.tools_call.count"] == 3  # only ok completions
    assert metrics["latency.stream_open.p90"] == pytest.approx(4.0)
    assert "latency.initialize.p99" not in metrics
    assert metrics["delivery.lost"] == 0 and metrics["survival.lost"] == 2
    assert "routing.crossed" not in metrics  # an unknown checker measured nothing
    assert "survival.outage_p99_ms" not in metrics  # nan: not measured


def test_notifications_a_server_sends_by_itself_are_counted_per_kind_and_stream() -> None:
    def message(t: float, process: str, value: dict[str, Any], stream: str = "get") -> Record:
        return {"time": t, "type": "ok", "process": process, "f": "message", "value": value,
                "stream": stream}  # fmt: skip

    changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    updated = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {}}
    history = [
        message(1, "w0-u1/stream", changed),
        message(2, "w0-u1/stream", updated),
        message(3, "w0-u2/stream", changed),
        message(4, "w0-u2", changed, stream="post"),  # on a request's own stream: not counted
        message(5, "w0-u2/stream", {"jsonrpc": "2.0", "id": 1, "method": "sampling/x"}),
    ]
    metrics = compute_metrics(history, [])
    assert metrics["notifications.count"] == 3 and metrics["notifications.streams"] == 2
    assert metrics["notifications.per_stream"] == 1.5
    assert metrics["notifications.tools_list_changed"] == 2
    assert metrics["notifications.resources_updated"] == 1
    assert metrics["notifications.progress"] == 0
    parse_thresholds(["notifications.tools_list_changed >= 1"])


def test_op_names_in_metrics() -> None:
    assert op_metric_name("call:touch_resource") == "call_touch_resource"
    assert op_metric_name("notifications/initialized") == "notifications_initialized"
    assert op_metric_name("call:test-tool") == "call_test_tool"


# ---- evaluation -------------------------------------------------------------------------


def test_evaluate_passes_fails_and_refuses_what_was_not_measured() -> None:
    thresholds = parse_thresholds(
        [
            "delivery.lost == 0",
            "latency.tools_call.p99 < 250ms",
            "errors.rate < 1%",
            "routing.crossed == 0",
        ]
    )
    metrics = {"delivery.lost": 0.0, "latency.tools_call.p99": 300.0, "errors.rate": 0.004}
    results = evaluate(thresholds, metrics)
    assert [res.passed for res in results] == [True, False, True, False]
    assert results[1].actual == 300.0 and "FAILED" in results[1].reason
    assert "300.0ms" in results[1].reason
    assert "0.4%" in results[2].reason
    assert results[3].actual is None and "not measured" in results[3].reason
    assert not all_passed(results)
    assert all_passed(results[:1] + results[2:3])
    assert results[0].to_dict()["text"] == "delivery.lost == 0"
