"""Checkers on short literal histories built by hand: valid, the exact defect, unknown."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import (
    CHECKERS,
    COUNTS,
    CheckContext,
    CheckResult,
    broadcast,
    check_history,
    delivery,
    isolation,
    liveness,
    merge_validity,
    routing,
    run_checker,
    survival,
)
from harness.checkers._common import KeptRecords
from harness.checkers.tables import DeliveryTable, LivenessTable, SessionRow, SurvivalTable
from harness.history import Record
from tests.support.histories import brk, fault, history, init, listen, note, notify, op, r

REDIS = CheckContext(store="redis")
MEMORY = CheckContext(store="memory")
U1, U2 = "w0-u1", "w0-u2"
S1, S2 = "s1", "s2"


# ---- the set of checkers ------------------------------------------------------------------


def test_every_checker_is_registered_with_its_counts() -> None:
    names = [
        "survival",
        "delivery",
        "routing",
        "isolation",
        "broadcast",
        "metadata",
        "listen",
        "mrtr",
        "liveness",
        "leak",
        "drift",
    ]
    assert list(CHECKERS) == names
    assert list(COUNTS) == names
    results = check_history([], REDIS)
    assert [res.name for res in results] == names
    assert all(res.valid == "unknown" for res in results)
    assert merge_validity(results) == "unknown"


def test_a_crashing_checker_is_unknown_not_a_crashed_run() -> None:
    def broken(history: list[Record], ctx: CheckContext) -> CheckResult:
        raise KeyError("boom")

    result = run_checker("broken", broken, [], REDIS)
    assert result.valid == "unknown"
    assert "KeyError" in result.summary and "boom" in result.summary
    # A malformed record crashes every checker that reads it; none of them escapes.
    malformed: Any = {"time": 1.0, "type": "ok"}
    results = check_history([malformed], REDIS)
    assert {res.valid for res in results} == {"unknown"}
    assert all("crashed" in res.summary for res in results)


def test_check_history_refuses_unknown_names_and_passes_options() -> None:
    with pytest.raises(ValueError, match="known: survival"):
        check_history([], REDIS, names=["survival", "nope"])
    h = history(init(1, U1, S1), listen(1.1, U1, S1), notify(2, U1, S1, "w0-u1-a", 1))
    h.append(note(2.05, U1, S1, "w0-u1-a", 1))
    (strict,) = check_history(
        h, REDIS, names=["delivery"], options={"delivery": {"min_messages": 1}}
    )
    assert strict.valid is True


# ---- survival ---------------------------------------------------------------------------


def test_survival_valid_sessions_survive_a_node_kill() -> None:
    h = history(
        init(1, U1, S1),
        op(2, U1, S1),
        fault(5, "kill-node"),
        op(5.5, U1, S1, "fail", error="ConnectionRefusedError"),
        op(6.0, U1, S1),
        r(9, "invoke", U1, "delete", {"session": S1}, session=S1),
        r(9.1, "ok", U1, "delete", None, session=S1, status=200),
    )
    result = survival.check(h, REDIS)
    assert result.valid is True
    assert result.counts["survived"] == 1 and result.counts["lost"] == 0
    assert result.counts["affected"] == 1
    assert result.counts["next_success_max_ms"] == pytest.approx(1010.0)  # fault 5.0 -> ok 6.01
    assert isinstance(result.table, SurvivalTable)
    (row,) = result.table.sessions
    assert row == SessionRow(S1, 1.01, 9.1, False, "survived", "n1")


def _lost_session_history() -> list[Record]:
    return history(
        init(1, U1, S1),
        fault(5, "kill-node"),
        op(5.5, U1, S1, "fail", status=404, error="HTTP 404"),
        r(5.52, "invoke", U1, "reinit", {"old_session": S1}, session=S1),
        r(5.53, "ok", U1, "reinit", {"old_session": S1, "session": S2}, session=S2, node="n2"),
        op(6, U1, S2),
    )


def test_survival_a_404_session_fails_under_redis() -> None:
    result = survival.check(_lost_session_history(), REDIS)
    assert result.valid is False and not result.expected and result.fails_run
    assert result.counts["lost"] == 1 and result.counts["lost_expected"] == 0
    assert result.examples[0]["status"] == 404
    assert isinstance(result.table, SurvivalTable)
    rows = {row.session: row for row in result.table.sessions}
    assert rows[S1].lost is True and rows[S1].end == 5.51
    assert rows[S2].lost is False and rows[S2].group == "n2"


def test_survival_a_404_session_after_a_kill_is_expected_in_memory_mode() -> None:
    result = survival.check(_lost_session_history(), MEMORY)
    assert result.valid is False and result.expected and not result.fails_run
    assert result.counts["lost_expected"] == 1
    assert "expected in memory mode" in result.summary


def test_survival_a_404_after_a_delete_of_unknown_outcome_is_no_loss() -> None:
    """A DELETE cut off by a node kill may have happened: the 404 after it is no loss."""
    deleted = history(
        init(1, U1, S1),
        fault(5, "kill-node"),
        op(5.1, U1, S1, "info", f="delete", error="connection lost"),
        op(5.5, U1, S1, "fail", status=404, error="HTTP 404"),
    )
    result = survival.check(deleted, REDIS)
    assert result.valid is True and result.counts["lost"] == 0
    surely_not = [r for r in deleted if r["type"] != "info"]
    surely_not += op(5.1, U1, S1, "fail", f="delete", error="connection refused")
    assert survival.check(history(surely_not), REDIS).counts["lost"] == 1


def test_survival_a_session_unusable_after_a_fault_is_lost() -> None:
    fails = [op(5 + i, U1, S1, "fail", status=503, error="HTTP 503") for i in range(3)]
    result = survival.check(history(init(1, U1, S1), fault(4, "kill-redis", None), *fails), REDIS)
    assert result.valid is False
    assert result.counts["lost"] == 1 and result.counts["unrecovered"] == 1


def test_survival_unknown_without_sessions_or_with_only_failed_endings() -> None:
    assert survival.check(history(fault(1, "kill-node")), REDIS).valid == "unknown"
    h = history(init(1, U1, S1), op(3, U1, S1, "info", error="timeout after 10s"))
    result = survival.check(h, REDIS)
    assert result.valid == "unknown" and result.counts["unknown"] == 1


# ---- delivery ---------------------------------------------------------------------------


def _delivery(
    *messages: Record | list[Record], n: int = 3, ctx: CheckContext = REDIS, **extra: Any
) -> CheckResult:
    h = history(init(1, U1, S1), listen(1.1, U1, S1), notify(2, U1, S1, "w0-u1-a", n), *messages)
    h += op(10, U1, S1)  # the history goes on after every message was due (5 s after)
    return delivery.check(h, ctx, min_messages=3, **extra)


def test_delivery_valid_every_message_once() -> None:
    result = _delivery(*(note(2.05 + i / 100, U1, S1, "w0-u1-a", i) for i in (1, 2, 3)))
    assert result.valid is True
    assert result.counts["due"] == 3 and result.counts["delivered"] == 3


def test_delivery_a_lost_message_fails() -> None:
    result = _delivery(note(2.05, U1, S1, "w0-u1-a", 1), note(2.07, U1, S1, "w0-u1-a", 3))
    assert result.valid is False
    assert result.counts["lost"] == 1
    assert result.examples[0]["detail"] == {"nonce": "w0-u1-a", "first_missing_seq": 2}


def test_delivery_a_message_replayed_twice_is_a_duplicate() -> None:
    result = _delivery(
        note(2.05, U1, S1, "w0-u1-a", 1),
        note(2.06, U1, S1, "w0-u1-a", 2),
        brk(2.07, U1, S1),
        listen(2.08, U1, S1, last="e1"),
        note(2.10, U1, S1, "w0-u1-a", 2),  # replayed although it came before Last-Event-ID
        note(2.11, U1, S1, "w0-u1-a", 3),
    )
    assert result.valid is False
    assert result.counts["duplicated"] == 1 and result.counts["lost"] == 0


def test_delivery_a_resumed_stream_must_get_what_it_missed() -> None:
    result = _delivery(
        note(2.05, U1, S1, "w0-u1-a", 1), brk(2.06, U1, S1), listen(2.5, U1, S1, "e1")
    )
    assert result.valid is False and result.counts["lost"] == 2


def test_delivery_late_messages_are_counted_not_failed() -> None:
    result = _delivery(
        note(2.05, U1, S1, "w0-u1-a", 1),
        note(2.06, U1, S1, "w0-u1-a", 2),
        note(9.0, U1, S1, "w0-u1-a", 3, sent=2.1),
    )
    assert result.valid is True and result.counts["late"] == 1
    assert result.counts["latency_max_ms"] == pytest.approx(6900.0)


def test_delivery_before_the_stream_opened_is_unlistened() -> None:
    h = history(init(1, U1, S1), notify(2, U1, S1, "w0-u1-a", 3), listen(2.2, U1, S1))
    result = delivery.check(h, REDIS, min_messages=0)
    assert result.counts["unlistened"] == 3 and result.counts["lost"] == 0


def test_delivery_after_the_client_closed_its_stream_is_censored() -> None:
    result = _delivery(note(2.05, U1, S1, "w0-u1-a", 1), brk(2.15, U1, S1, "closed by client"))
    assert result.counts["censored"] == 2 and result.counts["lost"] == 0


def test_delivery_when_the_history_ends_before_a_message_is_due_it_is_censored() -> None:
    h = history(init(1, U1, S1), listen(1.1, U1, S1), notify(2, U1, S1, "w0-u1-a", 3))
    result = delivery.check(h, REDIS, min_messages=0)
    assert result.counts["censored"] == 3 and result.counts["lost"] == 0


def test_delivery_counts_messages_no_notify_asked_for() -> None:
    result = _delivery(
        *(note(2.05 + i / 100, U1, S1, "w0-u1-a", i) for i in (1, 2, 3)),
        note(2.2, U1, S1, "w0-u1-zz", 1),
    )
    assert result.valid is True and result.counts["unattributed"] == 1


def test_delivery_losses_with_a_dead_session_are_expected_in_memory_mode() -> None:
    parts = [note(2.05, U1, S1, "w0-u1-a", 1), brk(2.2, U1, S1)]
    stale = r(2.3, "fail", f"{U1}/stream", "stream_open", {}, session=S1, status=404)
    memory = _delivery(*parts, stale, ctx=MEMORY)
    assert memory.valid is False and memory.expected
    assert memory.counts["lost_expected"] == 2
    redis = _delivery(*parts, stale, ctx=REDIS)
    assert redis.valid is False and not redis.expected


def test_delivery_judges_clean_and_faulty_notifies_side_by_side() -> None:
    """Clean notifies are counted by arrays, the others one by one: both in one history,
    with a fail delivered anyway, a copy on another session and one in flight."""
    h = history(
        init(1, U1, S1),
        init(1, U2, S2),
        listen(1.1, U1, S1),
        listen(1.1, U2, S2),
        notify(2, U1, S1, "w0-u1-a", 2),  # clean
        *(note(2.05 + i / 100, U1, S1, "w0-u1-a", i) for i in (1, 2)),
        notify(3, U1, S1, "w0-u1-b", 3),  # seq 2 lost, seq 3 twice
        note(3.05, U1, S1, "w0-u1-b", 1),
        note(3.06, U1, S1, "w0-u1-b", 3),
        note(3.07, U1, S1, "w0-u1-b", 3),
        note(3.08, U2, S2, "w0-u1-b", 2),  # on another session: not delivered
        notify(4, U2, S2, "w0-u2-c", 1, done="fail"),
        note(4.05, U2, S2, "w0-u2-c", 1),
        notify(5, U2, S2, "w0-u2-d", 2)[:1],  # in flight when the history ends
        op(20, U1, S1),
    )
    result = delivery.check(h, REDIS, min_messages=0)
    counts = result.counts
    assert (counts["notifies"], counts["emitted"], counts["delivered"]) == (3, 5, 4)
    assert (counts["lost"], counts["duplicated"], counts["delivered_after_fail"]) == (1, 1, 1)
    assert counts["due"] == 5
    whys = [(e["why"], e.get("detail")) for e in result.examples]
    assert whys == [
        ("duplicate", {"nonce": "w0-u1-b", "seq": 3}),
        ("lost", {"nonce": "w0-u1-b", "first_missing_seq": 2}),
        ("failed, yet delivered", {"nonce": "w0-u2-c"}),
    ]
    assert result.examples[0]["time"] == 3.07
    table = result.table
    assert isinstance(table, DeliveryTable)
    rows = list(zip(table.time, table.emitted, table.delivered, table.lost, strict=True))
    assert rows == [(2.1, 2, 2, 0), (3.1, 3, 2, 1)]


def test_delivery_unknown_with_too_few_messages_or_no_notify_action() -> None:
    h = history(init(1, U1, S1), listen(1.1, U1, S1), notify(2, U1, S1, "w0-u1-a", 1))
    h.append(note(2.05, U1, S1, "w0-u1-a", 1))
    assert delivery.check(h, REDIS).valid == "unknown"  # 1 message < 10
    untested = CheckContext(untested_actions=("notify",))
    assert "not tested" in delivery.check(h, untested).summary


# ---- routing ----------------------------------------------------------------------------


def _sampling(
    nonce: str, request_id: Any, answer: str, t: float = 2.0, **answered: Any
) -> list[Record]:
    request = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "sampling/createMessage",
        "params": {"_meta": {"nonce": nonce}},
    }
    reply = {"id": request_id, "method": "sampling/createMessage", "text": f"answer:{nonce}"}
    kind = answered.pop("type", "ok")
    return [
        r(t, "invoke", U1, "call:sample", {"prompt": "hi", "nonce": nonce}, session=S1),
        r(t + 0.01, "ok", U1, "message", request, session=S1, stream="post"),
        r(t + 0.02, kind, U1, "answer", reply, session=S1, **answered),
        r(t + 0.03, "ok", U1, "call:sample", {"text": answer, "nonce": nonce}, session=S1),
    ]


def test_routing_valid_each_answer_reaches_its_waiter() -> None:
    h = history(
        _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a"),
        _sampling("w0-u1-b", "n2-1", "answer:w0-u1-b", 3),
    )
    result = routing.check(h, REDIS)
    assert result.valid is True and result.counts["answered"] == 2


def test_routing_a_crossed_answer_fails() -> None:
    result = routing.check(history(_sampling("w0-u1-a", "n1-1", "answer:w0-u2-z")), REDIS)
    assert result.valid is False and result.counts["crossed"] == 1
    assert result.examples[0]["detail"]["got"] == "answer:w0-u2-z"


def test_routing_a_wrapped_answer_is_matched_and_one_without_a_nonce_is_not_claimed() -> None:
    wrapped = _sampling("w0-u1-a", "n1-1", "LLM says: answer:w0-u1-a.")
    assert routing.check(history(wrapped), REDIS).counts["crossed"] == 0
    longer = _sampling("w0-u1-a", "n1-1", "LLM says: answer:w0-u1-ab")
    assert routing.check(history(longer), REDIS).counts["crossed"] == 1
    second = _sampling("w0-u1-a", "n1-1", "answer:w0-u1-ab, then answer:w0-u1-a")
    assert routing.check(history(second), REDIS).counts["crossed"] == 0
    opaque = [
        {**rec, "value": {"text": "the model said something"}}
        if rec["f"] == "call:sample" and rec["type"] == "ok"
        else rec
        for rec in _sampling("w0-u1-a", "n1-1", "")
    ]
    result = routing.check(history(opaque), REDIS)
    assert result.counts["samples_unverified"] == 1
    assert "0 sample calls got their own answer" in result.summary
    assert "1 more could not be matched" in result.summary


def test_routing_a_request_id_reused_on_a_session_fails() -> None:
    h = history(
        _sampling("w0-u1-a", 1, "answer:w0-u1-a"), _sampling("w0-u1-b", 1, "answer:w0-u1-b", 3)
    )
    result = routing.check(h, REDIS)
    assert result.valid is False and result.counts["reused_ids"] == 1


def test_routing_unanswered_or_refused_requests_fail_but_undelivered_answers_do_not() -> None:
    unanswered = [
        rec for rec in _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a") if rec["f"] != "answer"
    ]
    assert routing.check(history(unanswered), REDIS).counts["unanswered"] == 1
    at_the_end = [
        {**rec, "type": "info", "interrupted": True}
        if rec["f"] == "call:sample" and rec["type"] == "ok"
        else rec
        for rec in unanswered
    ]
    censored = routing.check(history(at_the_end), REDIS)
    assert censored.counts["unanswered"] == 0 and censored.counts["stopped"] == 1
    refused = _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a", type="fail", status=404)
    assert routing.check(history(refused), REDIS).valid is False
    undelivered = _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a", type="fail", error="refused")
    result = routing.check(history(undelivered), REDIS)
    assert result.valid is True and result.counts["undelivered"] == 1


def test_routing_an_answer_recorded_before_its_request_counts_and_the_first_answer_wins() -> None:
    early = _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a")
    early[2] = {**early[2], "time": 2.005}  # the answer's record comes before the request's
    assert [rec["f"] for rec in history(early)] == [
        "call:sample",
        "answer",
        "message",
        "call:sample",
    ]
    assert routing.check(history(early), REDIS).counts["answered"] == 1
    refused_then_ok = _sampling("w0-u1-a", "n1-1", "answer:w0-u1-a", type="fail", status=404)
    refused_then_ok.append({**refused_then_ok[2], "time": 2.025, "type": "ok"})
    result = routing.check(history(refused_then_ok), REDIS)
    assert result.counts["rejected"] == 1 and result.counts["answered"] == 0


def test_routing_unknown_without_sampling() -> None:
    assert routing.check(history(init(1, U1, S1)), REDIS).valid == "unknown"
    assert routing.check([], CheckContext(untested_actions=("sample",))).valid == "unknown"


# ---- isolation --------------------------------------------------------------------------


def test_isolation_valid_messages_stay_on_their_session() -> None:
    h = history(notify(2, U1, S1, "w0-u1-a", 1), note(2.05, U1, S1, "w0-u1-a", 1))
    result = isolation.check(h, REDIS)
    assert result.valid is True and result.counts["checked"] == 1


def test_isolation_another_sessions_message_fails() -> None:
    h = history(notify(2, U1, S1, "w0-u1-a", 1), note(2.05, U2, S2, "w0-u1-a", 1))
    result = isolation.check(h, REDIS)
    assert result.valid is False and result.counts["crossed"] == 1
    assert result.examples[0]["detail"] == {"meant_for": S1}


def test_isolation_without_an_invoke_the_nonce_prefix_decides() -> None:
    result = isolation.check(history(note(2.05, U2, S2, "w0-u1-a", 1)), REDIS)
    assert result.valid is False and result.counts["by_prefix"] == 1
    assert isolation.check(history(note(2.05, U1, S1, "w0-u1-a", 1)), REDIS).valid is True


def test_isolation_a_resource_update_to_a_non_subscriber_fails() -> None:
    update = {"method": "notifications/resources/updated", "params": {"uri": "res/1"}}
    h = history(
        r(1, "invoke", U1, "subscribe", {"uri": "res/1"}, session=S1),
        r(2, "ok", f"{U1}/stream", "message", update, session=S1),
        r(2, "ok", f"{U2}/stream", "message", update, session=S2),
    )
    result = isolation.check(h, REDIS)
    assert result.valid is False and result.counts["unsubscribed"] == 1


def test_isolation_unknown_without_attributable_messages() -> None:
    assert isolation.check(history(init(1, U1, S1)), REDIS).valid == "unknown"


# ---- broadcast --------------------------------------------------------------------------


def test_kept_records_give_back_equal_copies_by_number() -> None:
    kept = KeptRecords()
    first = r(
        1.5, "ok", U1, "call:touch_resource", {"addressed": 2, "nested": [1, None]}, node="n1"
    )
    second = r(2, "fail", U2, "call:broadcast", "boom", status=503)
    assert (kept.add(first), kept.add(second), len(kept)) == (0, 1, 2)
    assert kept[1] == second and kept[0] == first and kept[0] is not first


def _list_changed(t: float, user: str, session: str, nonce: str) -> Record:
    message = {"method": "notifications/tools/list_changed", "params": {"_meta": {"nonce": nonce}}}
    return r(t, "ok", f"{user}/stream", "message", message, session=session, stream="get")


def _broadcast(t: float, nonce: str, node: str = "n1", addressed: int = 2) -> list[Record]:
    return [
        r(t, "invoke", U1, "call:broadcast", {"kind": "tools", "nonce": nonce}, session=S1),
        r(t + 0.05, "ok", U1, "call:broadcast", {"addressed": addressed}, session=S1, node=node),
    ]


def _two_listeners() -> list[Record]:
    return history(
        init(1, U1, S1, "n1"), init(1, U2, S2, "n2"), listen(1.1, U1, S1), listen(1.1, U2, S2)
    )


def test_broadcast_valid_reaches_every_live_session() -> None:
    h = history(
        _two_listeners(),
        _broadcast(3, "w0-u1-b"),
        _list_changed(3.02, U1, S1, "w0-u1-b"),
        _list_changed(3.03, U2, S2, "w0-u1-b"),
    )
    result = broadcast.check(h, REDIS)
    assert result.valid is True and result.counts["reached"] == 2


def test_broadcast_a_missed_session_fails() -> None:
    h = history(
        _two_listeners(),
        _broadcast(3, "w0-u1-b", addressed=1),
        _list_changed(3.02, U1, S1, "w0-u1-b"),
    )
    result = broadcast.check(h, REDIS)
    assert result.valid is False
    assert result.counts["missed"] == 1 and result.counts["under_addressed"] == 1
    assert result.examples[0]["detail"]["missed"] == [S2]
    assert result.examples[0]["value"] == {"addressed": 1}, "the broadcast's completion"


def test_broadcast_received_twice_by_a_session_fails() -> None:
    h = history(
        _two_listeners(),
        _broadcast(3, "w0-u1-b"),
        _list_changed(3.02, U1, S1, "w0-u1-b"),
        _list_changed(3.03, U2, S2, "w0-u1-b"),
        _list_changed(3.5, U2, S2, "w0-u1-b"),
    )
    result = broadcast.check(h, REDIS)
    assert result.valid is False and result.counts["duplicated"] == 1


def test_broadcast_a_resuming_session_is_live_but_a_later_one_is_not() -> None:
    h = history(
        _two_listeners(),
        brk(2.9, U2, S2),
        _broadcast(3, "w0-u1-b"),
        listen(3.5, U2, S2, last="e1"),  # resumed: the broadcast must be replayed
        init(2.5, "w0-u3", "s3"),
        listen(3.01, "w0-u3", "s3"),  # opened after the broadcast began: not required
        _list_changed(3.02, U1, S1, "w0-u1-b"),
    )
    result = broadcast.check(h, REDIS)
    assert result.valid is False and result.counts["required"] == 2 and result.counts["missed"] == 1


def test_broadcast_in_memory_mode_only_the_serving_nodes_sessions_are_required() -> None:
    h = history(
        _two_listeners(),
        _broadcast(3, "w0-u1-b", node="n1"),
        _list_changed(3.02, U1, S1, "w0-u1-b"),
    )
    result = broadcast.check(h, MEMORY)
    assert result.valid is True and result.counts["required"] == 1


def test_broadcast_a_touch_must_reach_live_subscribers() -> None:
    update = {
        "method": "notifications/resources/updated",
        "params": {"uri": "res/1", "_meta": {"sent_at": 3.02}},
    }
    h = history(
        _two_listeners(),
        r(1.2, "invoke", U1, "subscribe", {"uri": "res/1"}, session=S1),
        r(1.3, "ok", U1, "subscribe", {}, session=S1),
        r(1.2, "invoke", U2, "subscribe", {"uri": "res/1"}, session=S2),
        r(1.3, "ok", U2, "subscribe", {}, session=S2),
        r(3, "invoke", U1, "call:touch_resource", {"uri": "res/1"}, session=S1),
        r(3.05, "ok", U1, "call:touch_resource", {"addressed": 2}, session=S1, node="n1"),
        r(3.03, "ok", f"{U1}/stream", "message", update, session=S1),
    )
    result = broadcast.check(h, REDIS)
    assert result.valid is False
    assert result.counts["updates_required"] == 2 and result.counts["updates_missed"] == 1
    example = result.examples[0]  # the touch's completion, kept (pickled) until the end
    assert (example["time"], example["f"], example["node"]) == (3.05, "call:touch_resource", "n1")
    assert example["value"] == {"addressed": 2} and example["detail"]["missed"] == [S2]


def test_broadcast_unknown_without_broadcasts() -> None:
    assert broadcast.check(_two_listeners(), REDIS).valid == "unknown"
    ctx = CheckContext(untested_actions=("broadcast", "touch"))
    assert "not tested" in broadcast.check([], ctx).summary


# ---- liveness ---------------------------------------------------------------------------


def test_liveness_valid_no_hang_and_the_stall_after_a_fault() -> None:
    h = history(
        init(1, U1, S1),
        fault(5, "kill-node"),
        op(5.2, U1, S1, "fail", error="ConnectionRefusedError"),
        op(5.7, U1, S1),
    )
    result = liveness.check(h, REDIS)
    assert result.valid is True
    assert result.counts["stall_max_ms"] == pytest.approx(710.0)
    assert isinstance(result.table, LivenessTable)
    assert result.table.stalls[0].fault == "kill-node:n1"


def test_liveness_a_request_that_timed_out_is_a_hang() -> None:
    h = history(init(1, U1, S1), op(2, U1, S1, "info", error="timeout after 10.0s"))
    result = liveness.check(h, REDIS)
    assert result.valid is False and result.counts["hangs"] == 1


def test_liveness_hangs_on_a_paused_node_are_expected() -> None:
    h = history(
        init(1, U1, S1),
        fault(2, "pause-node", "n2"),
        op(3, U1, S1, "info", error="timeout after 10.0s", latency=0.01),
    )
    result = liveness.check(h, REDIS)
    assert result.valid is True and result.counts["hangs_expected"] == 1


def test_liveness_a_hang_after_the_clients_answer_failed_is_explained() -> None:
    h = history(
        r(2, "invoke", U1, "call:sample", {"nonce": "w0-u1-a"}, session=S1),
        r(2.1, "fail", U1, "answer", {"id": 1}, session=S1, error="ConnectionRefusedError"),
        r(
            12,
            "info",
            U1,
            "call:sample",
            {"nonce": "w0-u1-a"},
            session=S1,
            error="timeout after 10.0s",
        ),
    )
    result = liveness.check(h, REDIS)
    assert result.valid is True and result.counts["hangs_explained"] == 1
    unsure = [
        {**rec, "type": "info", "error": "connection reset"} if rec["f"] == "answer" else rec
        for rec in h
    ]
    assert liveness.check(unsure, REDIS).counts["hangs_explained"] == 1
    answered = [rec for rec in h if rec["f"] != "answer"]
    assert liveness.check(answered, REDIS).counts["hangs"] == 1
    # The user's stream re-opening meanwhile (after the node kill that cut the answer) does
    # not answer the call: it still waits for the lost answer (CI run D of 2026-12-03).
    stream = f"{U1}/stream"
    reopened = history(
        *h[:2],
        r(3, "invoke", stream, "stream_open", {"last_event_id": "5-0"}, session=S1),
        r(3.2, "ok", stream, "stream_open", {"last_event_id": "5-0"}, session=S1),
        *h[2:],
    )
    assert liveness.check(reopened, REDIS).counts["hangs_explained"] == 1


def test_liveness_requests_blocked_during_a_redis_outage_are_too_slow() -> None:
    h = history(
        init(1, U1, S1),
        fault(5, "kill-redis", None),
        r(5.5, "invoke", U1, "call:echo", {}, session=S1),
        r(9.5, "ok", U1, "call:echo", "x", session=S1, latency=4.0),
        fault(10, "restart-redis", None),
        op(11, U1, S1, "fail", status=503, latency=1.0),
    )
    result = liveness.check(h, REDIS)
    assert result.valid is False and result.counts["slow_in_outage"] == 1


def test_liveness_a_partition_from_redis_is_an_outage_for_that_node_only() -> None:
    def slow(t: float, node: str) -> list[Record]:
        return [
            r(t, "invoke", U1, "call:echo", {}, session=S1),
            r(t + 4, "ok", U1, "call:echo", "x", session=S1, latency=4.0, node=node),
        ]

    on_n1 = history(init(1, U1, S1), fault(5, "partition-redis", "n1"), slow(5.5, "n1"))
    assert liveness.check(on_n1, REDIS).counts["slow_in_outage"] == 1
    on_n2 = history(init(1, U1, S1), fault(5, "partition-redis", "n1"), slow(5.5, "n2"))
    assert liveness.check(on_n2, REDIS).counts["slow_in_outage"] == 0
    isolated = history(
        init(1, U1, S1),
        fault(2, "isolate-node", "n2"),
        op(3, U1, S1, "info", error="timeout after 10.0s", latency=0.01),
    )
    assert liveness.check(isolated, REDIS).counts["hangs_expected"] == 1


def test_liveness_a_request_in_flight_when_its_node_link_was_black_holed_is_held() -> None:
    def timed_out(t: float, node: str) -> list[Record]:
        return [
            r(t, "invoke", U1, "call:echo", {}, session=S1),
            r(t + 2, "info", U1, "call:echo", None, session=S1, latency=2.0, node=node,
              error="timeout after 2.0s"),
        ]  # fmt: skip

    # Sent 0.5 s before the blackhole began; its answer was held by it.
    held = history(init(1, U1, S1), timed_out(4.5, "n2"), fault(5, "blackhole-node", "n2"))
    assert liveness.check(held, REDIS).counts["hangs_expected"] == 1
    elsewhere = history(init(1, U1, S1), timed_out(4.5, "n3"), fault(5, "blackhole-node", "n2"))
    assert liveness.check(elsewhere, REDIS).counts["hangs"] == 1
    healed = history(
        init(1, U1, S1),
        fault(2, "blackhole-node", "n2"),
        fault(3, "heal-node-link", "n2"),
        timed_out(4.5, "n2"),
    )
    assert liveness.check(healed, REDIS).counts["hangs"] == 1


def test_liveness_unknown_without_operations() -> None:
    assert liveness.check(history(fault(1, "kill-node")), REDIS).valid == "unknown"


def test_context_maps_actions_to_the_targets_tools() -> None:
    assert REDIS.tool_f("touch") == "call:touch_resource"
    ctx = CheckContext(tools=(("notify", "emit"),))
    assert ctx.tool_f("notify") == "call:emit"
    h = history(
        init(1, U1, S1),
        listen(1.1, U1, S1),
        r(2, "invoke", U1, "call:emit", {"count": 1, "nonce": "w0-u1-a"}, session=S1),
        r(2.1, "ok", U1, "call:emit", {"emitted": 1}, session=S1),
        op(10, U1, S1),
    )
    assert delivery.check(h, ctx, min_messages=1).counts["lost"] == 1


# --- metadata ---------------------------------------------------------------------------------


def set_level(t: float, user: str, session: str, level: str, done: str = "ok") -> list[Record]:
    return [
        r(t, "invoke", user, "set_level", {"level": level}, session=session),
        r(t + 0.01, done, user, "set_level", {}, session=session, node="n1"),
    ]


def log(t: float, user: str, session: str, level: str, applied: str, sent: bool) -> list[Record]:
    return [
        r(t, "invoke", user, "call:log", {"level": level, "message": "m"}, session=session),
        r(t + 0.01, "ok", user, "call:log", {"sent": sent, "level": applied}, session=session),
    ]


def test_metadata_valid_when_every_node_applies_the_level_set() -> None:
    history = [
        *init(0, U1, S1),
        *set_level(1, U1, S1, "warning"),
        *log(2, U1, S1, "info", "warning", False),
        *log(3, U1, S1, "error", "warning", True),
    ]
    result = CHECKERS["metadata"](history, REDIS)
    assert result.valid is True
    assert result.counts["checked"] == 2


def test_metadata_catches_a_node_that_forgot_the_level() -> None:
    history = [
        *init(0, U1, S1),
        *set_level(1, U1, S1, "error"),
        *log(2, U1, S1, "info", "debug", True),  # another node never learnt the level
    ]
    result = CHECKERS["metadata"](history, REDIS)
    assert result.valid is False
    assert result.counts["wrong_level"] == 1
    assert result.examples[0]["detail"]["expected_level"] == "error"


def test_metadata_unknown_without_a_level_set_or_after_a_failed_one() -> None:
    history = [
        *init(0, U1, S1),
        *log(1, U1, S1, "info", "debug", True),
        *set_level(2, U1, S1, "error", done="info"),
        *log(3, U1, S1, "info", "debug", True),
    ]
    assert CHECKERS["metadata"](history, REDIS).valid == "unknown"
