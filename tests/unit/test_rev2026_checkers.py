"""The 2026-07-28 checkers (listen, mrtr) on short literal histories, and what the session
checkers and run validation do with the sessionless revision."""

from __future__ import annotations

import dataclasses

import pytest

from harness.checkers import CHECKERS, isolation, listen, mrtr, survival
from harness.checkers.context import CheckContext
from harness.run.profile import ProfileError, RunProfile, validate
from scenarios.registry import SCENARIOS
from tests.support.histories import (
    call,
    changed,
    fault,
    history,
    listen_break,
    listen_open,
    relist,
    replay,
    sample,
    updated,
)

CTX = CheckContext(protocol="2026-07-28", scenario="listen")
USERS = ("w0-u1", "w0-u2", "w0-u3")


def opened(t: float = 0.0) -> list:
    return [
        rec for i, user in enumerate(USERS) for rec in listen_open(t, user, 100 + i, f"n{i + 1}")
    ]


def broadcast(t: float, nonce: str, node: str = "n1") -> list:
    return call(t, "w0-u9", "broadcast", {"kind": "tools", "nonce": nonce}, node=node)


def delivered(t: float, nonce: str, users: tuple[str, ...] = USERS) -> list:
    return [changed(t + 0.05, user, nonce) for user in users]


def test_listen_every_change_reached_every_open_stream() -> None:
    parts = [opened()]
    for k in range(4):
        parts += [broadcast(1 + k, f"b{k}"), delivered(1 + k, f"b{k}")]
    result = listen.check(history(*parts, call(30, "w0-u9", "echo", {})), CTX)
    assert result.valid is True, result.summary
    assert result.counts["required"] == 12
    assert result.counts["delivered"] == 12


def test_listen_a_change_that_stayed_on_its_own_node_is_lost() -> None:
    # local-listen: only the stream on the emitting node (n1, w0-u1) gets it.
    parts = [opened()]
    for k in range(4):
        parts += [broadcast(1 + k, f"b{k}"), delivered(1 + k, f"b{k}", ("w0-u1",))]
    result = listen.check(history(*parts, call(30, "w0-u9", "echo", {})), CTX)
    assert result.valid is False
    assert result.counts["lost"] == 8
    assert result.examples[0]["why"] == "never received on an open stream"


def test_listen_a_break_followed_by_a_relist_excuses_the_gap() -> None:
    parts = [opened(), broadcast(1, "b0"), delivered(1, "b0", USERS[:2])]
    parts += [listen_break(1.5, "w0-u3", 102), listen_open(1.6, "w0-u3", 103, "n1")]
    parts += [relist(1.7, "w0-u3"), call(30, "w0-u9", "echo", {})]
    result = listen.check(history(*parts), CTX, min_required=1)
    assert result.valid is True, result.summary
    assert result.counts["excused"] == 1
    assert result.counts["breaks"] == 1


def test_listen_a_break_without_a_relist_loses_the_change_unless_the_history_ends() -> None:
    parts = [opened(), broadcast(1, "b0"), delivered(1, "b0", USERS[:2])]
    parts += [listen_break(1.5, "w0-u3", 102)]
    late = listen.check(history(*parts, call(30, "w0-u9", "echo", {})), CTX, min_required=1)
    assert late.valid is False
    assert late.examples[0]["why"] == "the stream broke and no re-list followed"
    ended = listen.check(history(*parts, call(3, "w0-u9", "echo", {})), CTX, min_required=1)
    assert ended.counts["censored"] == 1
    assert ended.valid is True


def test_listen_a_stream_the_client_closed_is_censored() -> None:
    parts = [opened(), broadcast(1, "b0"), delivered(1, "b0", USERS[:2])]
    parts += [listen_break(1.05, "w0-u3", 102, "closed by client"), call(30, "w0-u9", "echo", {})]
    result = listen.check(history(*parts), CTX, min_required=1)
    assert result.counts["censored"] == 1
    assert result.valid is True


def test_listen_a_stream_opened_after_the_call_started_is_not_required() -> None:
    parts = [listen_open(0, "w0-u1", 1), broadcast(1, "b0"), listen_open(1.05, "w0-u2", 2)]
    parts += [changed(1.1, "w0-u1", "b0"), call(30, "w0-u9", "echo", {})]
    result = listen.check(history(*parts), CTX, min_required=1)
    assert result.counts["required"] == 1
    assert result.valid is True


def test_listen_the_same_change_twice_on_one_stream_fails() -> None:
    parts = [opened(), broadcast(1, "b0"), delivered(1, "b0"), changed(1.2, "w0-u1", "b0")]
    result = listen.check(history(*parts, call(30, "w0-u9", "echo", {})), CTX, min_required=1)
    assert result.valid is False
    assert result.counts["duplicated"] == 1


def test_listen_resource_updates_reach_only_the_streams_that_asked() -> None:
    uri = "mcp-scale://resource/1"
    asks = {"resourceSubscriptions": [uri]}
    parts = [listen_open(0, "w0-u1", 1, "n1", asks), listen_open(0, "w0-u2", 2, "n2")]
    parts += [listen_open(0, "w0-u3", 3, "n3", asks)]
    parts += [call(1, "w0-u9", "touch_resource", {"uri": uri}), updated(1.2, "w0-u1", uri, 1.05)]
    result = listen.check(history(*parts, call(30, "w0-u9", "echo", {})), CTX, min_required=1)
    assert result.counts["required"] == 2  # w0-u2 did not ask for the uri
    assert result.counts["delivered"] == 1
    assert result.counts["lost"] == 1
    assert result.valid is False


def test_listen_says_unknown_without_listen_streams() -> None:
    result = listen.check(history(broadcast(1, "b0")), CTX)
    assert result.valid == "unknown"
    assert "no listen stream" in result.summary


def sampled(n: int, nodes: tuple[str, ...] = ("n1", "n2")) -> list:
    return [sample(k, f"w0-u{k % 3}", f"s{k}", nodes) for k in range(n)]


def test_mrtr_rounds_completed_on_other_nodes_pass_and_replays_are_not_judged() -> None:
    result = mrtr.check(history(*sampled(5)), CTX)
    assert result.valid is True, result.summary
    assert result.counts["cross_node"] == 5
    assert "replays not judged" in result.summary


def test_mrtr_a_refused_retry_fails() -> None:
    # node-local-state-key: n2 cannot open n1's state.
    error = {"status": 400, "error": "HTTP 400: -32602: requestState failed verification"}
    refused = sample(9, "w0-u1", "s9", ("n1", "n2"), done="fail", **error)
    result = mrtr.check(history(*sampled(3), refused), CTX)
    assert result.valid is False
    assert result.counts["refused"] == 1
    assert result.examples[0]["detail"]["retried_on"] == "n2"


def test_mrtr_a_refusal_during_a_fault_is_reported_not_failed() -> None:
    error = {"status": 503, "error": "HTTP 503: store unavailable"}
    refused = sample(9.5, "w0-u1", "s9", ("n1", "n2"), done="fail", **error)
    parts = [*sampled(3), fault(9, "kill-redis", "redis"), refused]
    result = mrtr.check(history(*parts), CTX)
    assert result.valid is True, result.summary
    assert result.counts["refused_in_fault"] == 1


def test_mrtr_a_retry_that_never_reached_a_server_is_the_clients_side() -> None:
    lost = sample(9, "w0-u1", "s9", ("n1", "n2"), done="fail", error="connection refused")
    result = mrtr.check(history(*sampled(3), lost), CTX)
    assert result.valid is True
    assert result.counts["failed_transport"] == 1


def test_mrtr_another_requests_answer_fails() -> None:
    crossed = sample(9, "w0-u1", "s9", ("n1", "n2"), answer="s1")
    result = mrtr.check(history(*sampled(3), crossed), CTX)
    assert result.valid is False
    assert result.counts["crossed"] == 1


def test_mrtr_replays_refused_pass_and_an_accepted_one_fails() -> None:
    parts = [*sampled(3), replay(10, "w0-u1", "s1"), replay(11, "w0-u2", "s2", "tamper")]
    good = mrtr.check(history(*parts), CTX)
    assert good.valid is True, good.summary
    assert good.counts["replays_rejected"] == 2
    bad = mrtr.check(history(*parts, replay(12, "w0-u1", "s0", done="ok")), CTX)
    assert bad.valid is False
    assert bad.counts["replays_accepted"] == 1


def test_mrtr_a_reused_state_is_a_finding_of_another_server_a_tampered_one_fails() -> None:
    """The spec asks single use only of one-time operations (mrtr.mdx); integrity always."""
    foreign = dataclasses.replace(CTX, single_use_states=False)
    reused = [*sampled(3), replay(10, "w0-u1", "s0", done="ok")]
    finding = mrtr.check(history(*reused), foreign)
    assert finding.valid is True, finding.summary
    assert finding.counts["replays_reused"] == 1
    assert "accepted again" in finding.summary
    assert mrtr.check(history(*reused), CTX).valid is False  # the reference server promises it
    tampered = mrtr.check(history(*reused, replay(11, "w0-u2", "s1", "tamper", "ok")), foreign)
    assert tampered.valid is False
    assert tampered.counts["replays_accepted"] == 1


def test_mrtr_unknown_without_rounds_or_without_another_node() -> None:
    direct = call(1, "w0-u1", "sample", {"prompt": "p", "nonce": "s"}, result={"text": "x"})
    assert mrtr.check(history(direct), CTX).valid == "unknown"
    same = mrtr.check(history(*sampled(3, ("n1", "n1"))), CTX)
    assert same.valid == "unknown"
    assert "cross-node not tested" in same.summary


def test_session_checkers_are_not_applicable_without_sessions() -> None:
    uri = "mcp-scale://resource/1"
    parts = [listen_open(0, "w0-u1", 1, "n1", {"resourceSubscriptions": [uri]})]
    parts += [call(1, "w0-u9", "touch_resource", {"uri": uri}), updated(1.05, "w0-u1", uri, 1.01)]
    for checker in (survival, isolation):
        result = checker.check(history(*parts, *sampled(3)), CTX)
        assert result.valid == "unknown"
        assert "no sessions" in result.summary


def test_each_scenario_lists_known_checkers_for_each_era() -> None:
    for scenario in SCENARIOS.values():
        assert set(scenario.checkers) | set(scenario.stateless_checkers) <= set(CHECKERS)


@pytest.mark.parametrize(
    ("scenario", "protocol", "says"),
    [
        ("notifications", "2026-07-28", "needs sessions"),
        ("listen", "2025-11-25", "run it with --protocol 2026-07-28"),
        ("mrtr", "2025-06-18", "run it with --protocol 2026-07-28"),
    ],
)
def test_a_scenario_refuses_the_other_era(scenario: str, protocol: str, says: str) -> None:
    with pytest.raises(ProfileError, match=says):
        validate(RunProfile(scenario=scenario, protocol=protocol))


def test_mixed_runs_in_both_eras() -> None:
    for protocol in ("2025-11-25", "2026-07-28"):
        validate(RunProfile(scenario="mixed", protocol=protocol))
