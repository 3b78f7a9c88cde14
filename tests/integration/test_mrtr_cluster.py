"""2026-07-28 multi round-trip requests across a real cluster: a requestState issued by one
node is accepted by another (one Redis, one shared key), once; a tampered, misbound or expired
one is refused. Memory mode is one node: the same rules hold there, on that node only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from harness.cluster.local import LocalCluster
from reference_server.protocol import INVALID_PARAMS
from tests.support.mcp_modern import Answer, sample

Factory = Callable[..., LocalCluster]

pytestmark = pytest.mark.timeout(90)


def _nonce() -> str:
    return uuid.uuid4().hex[:12]


def _first_round(url: str, nonce: str) -> str:
    """Asks ``url`` to sample; the requestState of its input_required answer."""
    first = sample(url, nonce)
    assert first.status == 200, first.body
    result = first.result
    assert result["resultType"] == "input_required"
    assert result["inputRequests"]["sample"]["method"] == "sampling/createMessage"
    state = result["requestState"]
    assert isinstance(state, str) and state
    return state


def _refused(answer: Answer, why: str) -> None:
    assert answer.status == 200, answer.body
    assert answer.error["code"] == INVALID_PARAMS
    assert why in answer.error["message"], answer.error


def test_state_issued_by_n1_is_accepted_by_n2_once(make_cluster: Factory) -> None:
    n1, n2 = make_cluster(nodes=2, store="redis").urls
    nonce = _nonce()
    state = _first_round(n1, nonce)

    done = sample(n2, nonce, state=state, answer=f"hi {nonce}")
    result = done.result
    assert result["resultType"] == "complete"
    assert result["structuredContent"] == {
        "text": f"hi {nonce}",
        "nonce": nonce,
        "issued_by": "n1",
        "answered_by": "n2",
    }
    # The same retry again, on the node that issued the state and on the one that used it.
    _refused(sample(n1, nonce, state=state, answer="again"), "already used")
    _refused(sample(n2, nonce, state=state, answer="again"), "already used")
    # A new first round still works: single use is per state, not per nonce.
    fresh = _first_round(n2, nonce)
    assert sample(n1, nonce, state=fresh, answer="ok").result["resultType"] == "complete"


def test_tampered_or_misbound_state_is_refused(make_cluster: Factory) -> None:
    n1, n2 = make_cluster(nodes=2, store="redis").urls
    nonce = _nonce()
    state = _first_round(n1, nonce)
    payload, _, tag = state.partition(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    _refused(sample(n2, nonce, state=f"{flipped}.{tag}", answer="x"), "failed verification")
    _refused(sample(n2, nonce, state=payload, answer="x"), "failed verification")
    _refused(sample(n2, nonce, state=state + "-TAMPERED", answer="x"), "failed verification")
    # Genuine, but presented on another request (other arguments): refused, and not used up.
    _refused(sample(n2, _nonce(), state=state, answer="x"), "another request")
    assert sample(n2, nonce, state=state, answer="x").result["resultType"] == "complete"


def test_expired_state_is_refused(make_cluster: Factory) -> None:
    cluster = make_cluster(nodes=2, store="redis", node_args=("--request-state-ttl", "0.5"))
    n1, n2 = cluster.urls
    nonce = _nonce()
    state = _first_round(n1, nonce)
    time.sleep(1.0)  # past the 0.5 s lifetime: not a timing assert, the state is then expired
    _refused(sample(n2, nonce, state=state, answer="late"), "expired")


def test_a_retry_without_the_state_is_asked_again(make_cluster: Factory) -> None:
    """sample needs its requestState back: answers without it start a new round."""
    (n1,) = make_cluster(nodes=1, store="redis").urls
    nonce = _nonce()
    again = sample(n1, nonce, answer="no state")
    assert again.result["resultType"] == "input_required"


def test_memory_mode_is_single_node(make_cluster: Factory) -> None:
    """Memory mode: rounds and single use hold on the one node."""
    (n1,) = make_cluster(nodes=1, store="memory").urls
    nonce = _nonce()
    state = _first_round(n1, nonce)
    assert sample(n1, nonce, state=state, answer="yes").result["resultType"] == "complete"
    _refused(sample(n1, nonce, state=state, answer="yes"), "already used")


def test_a_missing_sampling_capability_is_an_error(make_cluster: Factory) -> None:
    """The server never asks for what the client did not declare (-32021, HTTP 400)."""
    from tests.support.mcp_modern import post

    (n1,) = make_cluster(nodes=1, store="memory").urls
    arguments = {"prompt": "hi", "nonce": _nonce()}
    answer = post(n1, "tools/call", {"name": "sample", "arguments": arguments})
    assert answer.status == 400
    assert answer.error["code"] == -32021
    assert answer.error["data"] == {"requiredCapabilities": {"sampling": {}}}
