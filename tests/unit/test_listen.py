"""A ``subscriptions/listen`` stream (2026-07-28) over the in-memory SubscriptionBus: the
acknowledgement first, the filter honoured, every message tagged, keep-alives, and the three
ways it ends (completion on shutdown, a break without completion, the client leaving).

Each test runs one coroutine under ``asyncio.run``; every wait is bounded by ``ARRIVAL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from typing import Any

import pytest

from reference_server.protocol import INVALID_PARAMS, JsonDict, RpcError
from reference_server.sessions import InMemorySessionStore
from reference_server.stats import NodeStats
from reference_server.streams import InMemoryStreamManager
from reference_server.streams.base import EventLogLimits
from reference_server.subscriptions import (
    Change,
    InMemorySubscriptionBus,
    ListenFilter,
    listen,
)
from reference_server.subscriptions.base import SUBSCRIPTION_ID
from reference_server.tools import pack
from reference_server.tools.base import ToolContext

ARRIVAL = 3.0
# Long enough never to fire in a test that does not wait for it.
QUIET = 60.0

Stream = AsyncGenerator[JsonDict | None, None]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def next_item(stream: Stream) -> JsonDict | None:
    return await asyncio.wait_for(anext(stream), ARRIVAL)


async def ends(stream: Stream) -> bool:
    try:
        await next_item(stream)
    except StopAsyncIteration:
        return True
    return False


def params(**notifications: Any) -> JsonDict:
    return {"_meta": {}, "notifications": notifications}


def tools_changed(nonce: str) -> Change:
    return Change.list_changed("tools", {"nonce": nonce})


@pytest.mark.timeout(10)
def test_the_acknowledgement_comes_first_with_the_filter_honoured() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        requested = params(
            toolsListChanged=True,
            promptsListChanged=False,
            resourceSubscriptions=["file:///a", "file:///a"],
            tasks=True,  # not a field this server knows: not honoured, left out
        )
        stream = listen(7, requested, bus, keepalive=QUIET)
        ack = await next_item(stream)
        assert ack == {
            "jsonrpc": "2.0",
            "method": "notifications/subscriptions/acknowledged",
            "params": {
                "_meta": {SUBSCRIPTION_ID: 7},
                "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["file:///a"]},
            },
        }
        await stream.aclose()

    run(scenario())


@pytest.mark.timeout(10)
def test_a_change_published_once_the_ack_is_read_is_delivered_and_tagged() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        stream = listen("sub-1", params(toolsListChanged=True), bus, keepalive=QUIET)
        await next_item(stream)
        await bus.publish(tools_changed("n-1"))
        assert await next_item(stream) == {
            "jsonrpc": "2.0",
            "method": "notifications/tools/list_changed",
            "params": {"_meta": {"nonce": "n-1", SUBSCRIPTION_ID: "sub-1"}},
        }
        await stream.aclose()

    run(scenario())


@pytest.mark.timeout(10)
def test_only_what_the_filter_asks_for_arrives() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        wanted = params(promptsListChanged=True, resourceSubscriptions=["file:///a"])
        stream = listen(1, wanted, bus, keepalive=QUIET)
        await next_item(stream)
        for change in [
            tools_changed("no-1"),
            Change.list_changed("resources", {"nonce": "no-2"}),
            Change.resource_updated("file:///b", {"nonce": "no-3"}),
            Change.resource_updated("file:///a", {"nonce": "yes-1"}),
            Change.list_changed("prompts", {"nonce": "yes-2"}),
        ]:
            await bus.publish(change)
        # Changes arrive in order: had one of the first three passed, it would come first.
        first, second = await next_item(stream), await next_item(stream)
        assert first is not None and second is not None
        assert first["method"] == "notifications/resources/updated"
        assert first["params"]["uri"] == "file:///a"
        assert first["params"]["_meta"] == {"nonce": "yes-1", SUBSCRIPTION_ID: 1}
        assert second["method"] == "notifications/prompts/list_changed"
        assert second["params"]["_meta"]["nonce"] == "yes-2"
        await stream.aclose()

    run(scenario())


@pytest.mark.timeout(10)
def test_an_empty_filter_is_acknowledged_empty_and_gets_nothing() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        stream = listen(1, params(), bus, keepalive=QUIET)
        ack = await next_item(stream)
        assert ack is not None and ack["params"]["notifications"] == {}
        await bus.publish(tools_changed("x"))
        bus.shutdown()
        # The completion, not the change, comes next.
        done = await next_item(stream)
        assert done is not None and "result" in done

    run(scenario())


@pytest.mark.timeout(10)
def test_keepalives_when_nothing_changes() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        stream = listen(1, params(toolsListChanged=True), bus, keepalive=0.01)
        await next_item(stream)
        assert [await next_item(stream) for _ in range(3)] == [None, None, None]
        await bus.publish(tools_changed("after"))
        item = None
        for _ in range(1000):  # keep-alives may come before the change
            item = await next_item(stream)
            if item is not None:
                break
        assert item is not None and item["params"]["_meta"]["nonce"] == "after"
        await stream.aclose()

    run(scenario())


@pytest.mark.timeout(10)
def test_shutdown_ends_every_stream_with_its_completion() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        streams = [listen(i, params(toolsListChanged=True), bus, keepalive=QUIET) for i in (1, 2)]
        for stream in streams:
            await next_item(stream)
        await bus.publish(tools_changed("before-close"))
        await bus.close()
        for request_id, stream in zip((1, 2), streams, strict=True):
            change = await next_item(stream)
            assert change is not None and change["params"]["_meta"]["nonce"] == "before-close"
            assert await next_item(stream) == {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: request_id}},
            }
            assert await ends(stream)
        assert bus.local_listeners() == 0

    run(scenario())


@pytest.mark.timeout(10)
def test_a_listen_opened_during_shutdown_completes_at_once() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        bus.shutdown()
        stream = listen(3, params(toolsListChanged=True), bus, keepalive=QUIET)
        ack, done = await next_item(stream), await next_item(stream)
        assert ack is not None and ack["method"] == "notifications/subscriptions/acknowledged"
        assert done is not None and done["result"]["resultType"] == "complete"
        assert await ends(stream)

    run(scenario())


@pytest.mark.timeout(10)
def test_a_client_too_slow_is_cut_off_without_completion() -> None:
    limit = 5

    async def scenario() -> None:
        bus = InMemorySubscriptionBus(listener_limit=limit)
        stream = listen(1, params(toolsListChanged=True), bus, keepalive=QUIET)
        await next_item(stream)
        for seq in range(limit + 1):
            await bus.publish(tools_changed(f"n-{seq}"))
        received = []
        while True:
            try:
                item = await next_item(stream)
            except StopAsyncIteration:
                break
            assert item is not None and "result" not in item, "a break must not complete"
            received.append(item["params"]["_meta"]["nonce"])
            assert len(received) <= limit
        assert received == [f"n-{seq}" for seq in range(limit)]
        assert bus.local_listeners() == 0

    run(scenario())


@pytest.mark.timeout(10)
def test_the_client_leaving_releases_its_listener() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        stream = listen(1, params(toolsListChanged=True), bus, keepalive=QUIET)
        await next_item(stream)
        assert bus.local_listeners() == 1
        # What Starlette does when the client disconnects: the pending read is cancelled.
        reading = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert bus.local_listeners() == 0
        await bus.publish(tools_changed("nobody"))

    run(scenario())


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({}, "params.notifications"),
        ({"notifications": []}, "params.notifications"),
        ({"notifications": {"toolsListChanged": "yes"}}, "toolsListChanged"),
        ({"notifications": {"resourceSubscriptions": "file:///a"}}, "resourceSubscriptions"),
        ({"notifications": {"resourceSubscriptions": [1]}}, "resourceSubscriptions"),
    ],
)
def test_a_bad_filter_fails_before_anything_is_sent(bad: JsonDict, field: str) -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        stream = listen(1, bad, bus, keepalive=QUIET)
        with pytest.raises(RpcError) as caught:
            await anext(stream)
        assert caught.value.code == INVALID_PARAMS
        assert field in caught.value.message
        assert bus.local_listeners() == 0

    run(scenario())


def test_a_change_survives_its_wire_form() -> None:
    for change in [
        Change.list_changed("prompts", {"nonce": "a", "sent_at": 1.5}),
        Change.resource_updated("file:///x", {}),
    ]:
        assert Change.from_json(change.to_json()) == change


def test_filter_matching() -> None:
    only_a = ListenFilter(resource_subscriptions=("file:///a",))
    assert only_a.matches(Change.resource_updated("file:///a"))
    assert not only_a.matches(Change.resource_updated("file:///ab"))
    assert not only_a.matches(Change.list_changed("resources"))
    lists = ListenFilter(tools_list_changed=True, resources_list_changed=True)
    assert lists.matches(Change.list_changed("tools"))
    assert lists.matches(Change.list_changed("resources"))
    assert not lists.matches(Change.list_changed("prompts"))
    assert not lists.matches(Change.resource_updated("file:///a"))


@pytest.mark.timeout(10)
def test_the_broadcast_and_touch_resource_tools_publish_their_changes() -> None:
    async def scenario() -> None:
        bus = InMemorySubscriptionBus()
        ctx = ToolContext(
            node_id="n1",
            session=None,
            request_id=1,
            progress_token=None,
            store=InMemorySessionStore(60.0),
            streams=InMemoryStreamManager("n1", frozenset(), NodeStats(), EventLogLimits()),
            defects=frozenset(),
            send_related=_no_related,
            ask_client=_no_client_requests,
            bus=bus,
        )
        wanted = params(resourcesListChanged=True, resourceSubscriptions=["file:///a"])
        stream = listen(1, wanted, bus, keepalive=QUIET)
        await next_item(stream)
        await pack.broadcast({"kind": "resources", "nonce": "b-1"}, ctx)
        await pack.touch_resource({"uri": "file:///a"}, ctx)
        listed, updated = await next_item(stream), await next_item(stream)
        assert listed is not None and listed["method"] == "notifications/resources/list_changed"
        assert listed["params"]["_meta"]["nonce"] == "b-1"
        assert updated is not None and updated["params"]["uri"] == "file:///a"
        await stream.aclose()

    run(scenario())


async def _no_related(message: JsonDict) -> None:
    raise AssertionError("these tools send nothing on their own call's stream")


async def _no_client_requests(method: str, params: JsonDict) -> JsonDict:
    raise AssertionError("these tools ask the client nothing")
