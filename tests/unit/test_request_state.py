"""requestState sealing (reference_server/mrtr/state.py) and the in-memory single-use store."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.mrtr import Binding, InMemoryRequestStateStore, InvalidState, StateSealer

KEY = b"k" * 32
CALL = Binding.of("tools/call", {"name": "sample", "arguments": {"nonce": "a", "prompt": "p"}})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_state_opens_with_the_same_key_on_another_sealer() -> None:
    token = StateSealer(KEY, 60).seal(CALL, {"step": 2})
    opened = StateSealer(KEY, 60).open(token, CALL)
    assert opened.data == {"step": 2} and opened.state_id


def test_argument_order_does_not_change_the_binding() -> None:
    swapped = Binding.of(
        "tools/call", {"name": "sample", "arguments": {"prompt": "p", "nonce": "a"}}
    )
    assert swapped == CALL


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t + "x",
        lambda t: t.replace(".", ".A", 1),
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "not base64 at all.!!!",
        lambda t: "é" + t,
    ],
)
def test_a_changed_state_fails_verification(forge: object) -> None:
    token = StateSealer(KEY, 60).seal(CALL, {})
    with pytest.raises(InvalidState, match="failed verification"):
        StateSealer(KEY, 60).open(forge(token), CALL)  # type: ignore[operator]


def test_another_key_fails_verification() -> None:
    token = StateSealer(KEY, 60).seal(CALL, {})
    with pytest.raises(InvalidState, match="failed verification"):
        StateSealer(b"o" * 32, 60).open(token, CALL)


def test_a_state_belongs_to_its_request() -> None:
    token = StateSealer(KEY, 60).seal(CALL, {})
    other = Binding.of("tools/call", {"name": "sample", "arguments": {"nonce": "b", "prompt": "p"}})
    with pytest.raises(InvalidState, match="another request"):
        StateSealer(KEY, 60).open(token, other)


def test_a_state_expires() -> None:
    clock = Clock()
    sealer = StateSealer(KEY, 60, clock)
    token = sealer.seal(CALL, {})
    clock.now += 59.9
    sealer.open(token, CALL)
    clock.now += 0.1
    with pytest.raises(InvalidState, match="expired"):
        sealer.open(token, CALL)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        StateSealer(b"short", 60)


def test_memory_store_accepts_each_state_once_and_forgets_expired_ones() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool]:
        store = InMemoryRequestStateStore()
        first = await store.consume("a", expires_at=1e12)
        again = await store.consume("a", expires_at=1e12)
        await store.consume("old", expires_at=0.0)
        # Past its expiry the id is forgotten (the sealer refuses such a state anyway).
        forgotten = await store.consume("old", expires_at=0.0)
        other = await store.consume("b", expires_at=1e12)
        return first, again, forgotten, other

    assert asyncio.run(scenario()) == (True, False, True, True)
