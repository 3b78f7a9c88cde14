"""The Redis SubscriptionBus on a real redis-server: a change published on one node reaches the
listen streams of every node, and a broken pub/sub link (a real SIGKILL or SIGSTOP of Redis)
ends the listen streams instead of leaving them open and quiet.

Two buses with two node ids on one Redis stand for two nodes, each wired the way
``reference_server.node.build_node`` wires it. Every test runs one coroutine under
``asyncio.run`` and bounds every wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from harness.cluster.redis_process import RedisProcess, free_port
from reference_server.__main__ import GRACEFUL_SHUTDOWN, NodeServer
from reference_server.app import create_app
from reference_server.config import ServerConfig
from reference_server.errors import StoreUnavailable
from reference_server.protocol import JsonDict
from reference_server.redis_guard import RedisGuard, connect, connect_subscriber
from reference_server.stats import NodeStats
from reference_server.subscriptions import Change, listen
from reference_server.subscriptions.base import SUBSCRIPTION_ID
from reference_server.subscriptions.redis import CHANNEL, RedisSubscriptionBus

REDIS_TIMEOUT = 1.0
ARRIVAL = 3.0
# Generous bound on how long a broken link may take to end the streams (a SIGKILL is seen at
# once; a silent link after the bus's link timeout, set short here).
BREAK_SEEN = 15.0
LINK_TIMEOUT = 1.5
QUIET = 60.0

Stream = AsyncGenerator[JsonDict | None, None]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


@asynccontextmanager
async def redis_bus(url: str, node_id: str) -> AsyncIterator[RedisSubscriptionBus]:
    stats = NodeStats()
    client = connect(url, REDIS_TIMEOUT, hang=False)
    subscriber = connect_subscriber(url, REDIS_TIMEOUT)
    guard = RedisGuard(stats, hang=False)
    bus = RedisSubscriptionBus(
        client, subscriber, guard, node_id, frozenset(), stats, link_timeout=LINK_TIMEOUT
    )
    await bus.start()
    try:
        assert bus.subscribed.is_set(), "the bus never subscribed to its channel"
        yield bus
    finally:
        await bus.close()
        await subscriber.aclose()
        await client.aclose()


def params(**notifications: Any) -> JsonDict:
    return {"_meta": {}, "notifications": notifications}


async def opened(request_id: int | str, bus: RedisSubscriptionBus, **wanted: Any) -> Stream:
    """A listen stream whose acknowledgement has been read."""
    stream = listen(request_id, params(**wanted), bus, keepalive=QUIET)
    ack = await asyncio.wait_for(anext(stream), ARRIVAL)
    assert ack is not None and ack["method"] == "notifications/subscriptions/acknowledged"
    return stream


async def next_message(stream: Stream, timeout: float = ARRIVAL) -> JsonDict | None:
    """The next message, keep-alives skipped; None if the stream ended."""

    async def skip_keepalives() -> JsonDict | None:
        async for item in stream:
            if item is not None:
                return item
        return None

    return await asyncio.wait_for(skip_keepalives(), timeout)


def nonce_of(message: JsonDict | None) -> str:
    assert message is not None, "the stream ended"
    return str(message["params"]["_meta"]["nonce"])


@pytest.mark.timeout(30)
def test_a_change_published_on_one_node_reaches_listen_streams_on_every_node(
    redis_server: RedisProcess,
) -> None:
    async def scenario() -> None:
        async with (
            redis_bus(redis_server.url, "n1") as node_a,
            redis_bus(redis_server.url, "n2") as node_b,
        ):
            on_b = await opened("b-1", node_b, toolsListChanged=True)
            on_a = await opened("a-1", node_a, toolsListChanged=True)
            await node_a.publish(Change.list_changed("tools", {"nonce": "x-1"}))
            for stream, subscription_id in ((on_b, "b-1"), (on_a, "a-1")):
                message = await next_message(stream)
                assert message is not None
                assert message["method"] == "notifications/tools/list_changed"
                assert message["params"]["_meta"] == {
                    "nonce": "x-1",
                    SUBSCRIPTION_ID: subscription_id,
                }
                await stream.aclose()

    run(scenario())


@pytest.mark.timeout(30)
def test_the_filter_is_honoured_across_nodes(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        async with (
            redis_bus(redis_server.url, "n1") as node_a,
            redis_bus(redis_server.url, "n2") as node_b,
        ):
            stream = await opened(5, node_b, resourceSubscriptions=["file:///a"])
            for change in [
                Change.list_changed("tools", {"nonce": "no-1"}),
                Change.resource_updated("file:///b", {"nonce": "no-2"}),
                Change.resource_updated("file:///a", {"nonce": "yes-1"}),
            ]:
                await node_a.publish(change)
            # One channel, in order: a change that leaked would come before the wanted one.
            message = await next_message(stream)
            assert nonce_of(message) == "yes-1"
            assert message is not None and message["params"]["uri"] == "file:///a"
            await stream.aclose()

    run(scenario())


@pytest.mark.timeout(30)
def test_closing_a_node_completes_its_listen_streams(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_server.url, "n1") as node:
            stream = await opened(9, node, toolsListChanged=True)
            await node.close()
            assert await next_message(stream) == {
                "jsonrpc": "2.0",
                "id": 9,
                "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: 9}},
            }
            assert await next_message(stream) is None

    run(scenario())


async def _ends_without_completion(stream: Stream) -> None:
    try:
        message = await next_message(stream, BREAK_SEEN)
    except TimeoutError:
        raise AssertionError("the listen stream stayed open and quiet after the break") from None
    assert message is None, f"expected the stream to end without completion, got {message}"


@pytest.mark.timeout(60)
def test_a_killed_redis_ends_the_listen_streams_and_they_work_again_after(
    redis_server: RedisProcess,
) -> None:
    async def scenario() -> None:
        async with (
            redis_bus(redis_server.url, "n1") as node_a,
            redis_bus(redis_server.url, "n2") as node_b,
        ):
            streams = [
                await opened(1, node_a, toolsListChanged=True),
                await opened(2, node_b, toolsListChanged=True),
            ]
            redis_server.kill()
            for stream in streams:
                await _ends_without_completion(stream)
            assert node_a.local_listeners() == node_b.local_listeners() == 0
            with pytest.raises(StoreUnavailable):
                await node_a.publish(Change.list_changed("tools", {"nonce": "lost"}))
            redis_server.start()
            # Each bus subscribes again by itself; until then a listen is refused (503).
            for _ in range(200):  # bounded: about 20 s
                with contextlib.suppress(StoreUnavailable):
                    stream = await opened(3, node_b, toolsListChanged=True)
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("node n2 never accepted a listen again")
            await _published_until_it_arrives(node_a, stream)
            await stream.aclose()

    run(scenario())


async def _published_until_it_arrives(publisher: RedisSubscriptionBus, stream: Stream) -> None:
    """Publish until one arrives: a pooled connection from before a Redis restart fails once,
    and the publisher may not have subscribed again yet."""
    for attempt in range(20):
        with contextlib.suppress(StoreUnavailable):
            await publisher.publish(Change.list_changed("tools", {"nonce": f"after-{attempt}"}))
        with contextlib.suppress(TimeoutError):
            message = await next_message(stream, 0.5)
            assert nonce_of(message).startswith("after-")
            return
    raise AssertionError("no change crossed nodes after Redis came back")


@pytest.mark.timeout(60)
def test_a_redis_that_stops_answering_ends_the_listen_streams(redis_server: RedisProcess) -> None:
    """SIGSTOP: the connection stays open and says nothing; the bus's own probes stop coming
    back, and that is a break too."""

    async def scenario() -> None:
        async with redis_bus(redis_server.url, "n1") as node:
            stream = await opened(1, node, toolsListChanged=True)
            assert redis_server.pid is not None
            os.kill(redis_server.pid, signal.SIGSTOP)
            try:
                await _ends_without_completion(stream)
                with pytest.raises(StoreUnavailable):
                    await opened(2, node, toolsListChanged=True)
            finally:
                os.kill(redis_server.pid, signal.SIGCONT)

    run(scenario())


async def _serve_listen(request: Request) -> Response:
    """A listen endpoint as the module docstring of ``listen.py`` tells the transport to build
    one (the transport's own comes with its 2026-07-28 request path)."""
    message = await request.json()
    stream = listen(message["id"], message["params"], request.app.state.node.bus, keepalive=QUIET)
    first = await anext(stream)

    async def body() -> AsyncIterator[str]:
        try:
            yield f"data: {json.dumps(first)}\n\n"
            async for item in stream:
                yield ": keepalive\n\n" if item is None else f"data: {json.dumps(item)}\n\n"
        finally:
            await stream.aclose()

    return StreamingResponse(body(), media_type="text/event-stream")


@pytest.mark.timeout(60)
def test_a_node_shutting_down_completes_its_listen_streams_over_http() -> None:
    """SIGTERM's path through uvicorn: the server's shutdown ends the listen streams with their
    completion before it waits (2 s at most, as ``python -m reference_server`` runs it) for
    open responses to finish; uvicorn's own would cut them off there, without it."""

    async def scenario() -> None:
        app = create_app(ServerConfig())
        app.router.routes.append(Route("/listen", _serve_listen, methods=["POST"]))
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        server = NodeServer(config, app.state.node)
        serving = asyncio.create_task(server.serve())
        for _ in range(200):  # bounded: about 20 s
            if server.started:
                break
            await asyncio.sleep(0.1)
        assert server.started
        request = {"jsonrpc": "2.0", "id": 4, "method": "subscriptions/listen"}
        request["params"] = params(toolsListChanged=True)
        received: list[JsonDict] = []
        url = f"http://127.0.0.1:{config.port}/listen"
        async with (
            httpx.AsyncClient(timeout=ARRIVAL * 5) as client,
            client.stream("POST", url, json=request) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line.removeprefix("data: ")))
                    server.should_exit = True
        await asyncio.wait_for(serving, 20)
        assert [m.get("method") for m in received] == [
            "notifications/subscriptions/acknowledged",
            None,
        ]
        assert received[1] == {
            "jsonrpc": "2.0",
            "id": 4,
            "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: 4}},
        }

    run(scenario())


@pytest.mark.timeout(30)
def test_a_malformed_message_on_the_channel_does_not_stop_the_bus(
    redis_server: RedisProcess,
) -> None:
    async def scenario() -> None:
        async with redis_bus(redis_server.url, "n1") as node:
            stream = await opened(1, node, toolsListChanged=True)
            raw = connect(redis_server.url, REDIS_TIMEOUT, hang=False)
            try:
                for garbage in ["c\nnot json", "c\n[1]", 'c\n{"method": 1}', "p\nn1\nx", "?"]:
                    await raw.publish(CHANNEL, garbage)
            finally:
                await raw.aclose()
            await node.publish(Change.list_changed("tools", {"nonce": "after-garbage"}))
            assert nonce_of(await next_message(stream)) == "after-garbage"
            await stream.aclose()

    run(scenario())
