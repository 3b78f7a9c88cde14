"""Unit tests of every SessionStore: the in-memory one and the Redis one on a real redis-server.

The contract tests run against both implementations; the Redis-only tests cover what only a
shared store can do (one node sees another's sessions) and what only it can fail at (Redis
down: ``StoreUnavailable`` in bounded time, then recovery when Redis returns).

There is no pytest-asyncio here: every test is synchronous and runs one coroutine under
``asyncio.run``, so that each test has its own event loop and its own Redis clients.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from harness.cluster.redis_process import RedisProcess
from reference_server.errors import StoreUnavailable
from reference_server.redis_guard import RedisGuard, connect
from reference_server.sessions import InMemorySessionStore, RedisSessionStore, SessionRecord
from reference_server.sessions.base import SessionStore
from reference_server.stats import NodeStats

IMPLEMENTATIONS = ["memory", "redis"]
# What a node is configured with by default: every Redis command fails within this bound.
REDIS_TIMEOUT = 1.0
# How long a failing call may take before we call it a hang (the promise is "about 1 s").
FAIL_FAST_BOUND = 2.0

StoreFactory = Callable[..., AbstractAsyncContextManager[SessionStore]]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def record(session_id: str, **fields: Any) -> SessionRecord:
    now = time.time()
    defaults: dict[str, Any] = {
        "protocol_version": "2025-06-18",
        "client_info": {"name": "unit", "version": "1.0"},
        "capabilities": {"sampling": {}},
        "created_at": now,
        "last_seen": now,
    }
    return SessionRecord(session_id=session_id, **{**defaults, **fields})


@asynccontextmanager
async def redis_store(url: str, ttl: float) -> AsyncIterator[RedisSessionStore]:
    """A RedisSessionStore wired the way ``reference_server.node.build_node`` wires one."""
    stats = NodeStats()
    client = connect(url, REDIS_TIMEOUT, hang=False)
    store = RedisSessionStore(client, RedisGuard(stats, hang=False), ttl)
    await store.start()
    try:
        yield store
    finally:
        await store.close()
        await client.aclose()


@asynccontextmanager
async def memory_store(ttl: float) -> AsyncIterator[InMemorySessionStore]:
    store = InMemorySessionStore(ttl)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=IMPLEMENTATIONS)
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """``make_store(ttl=...)``: an async context manager giving a started store."""
    if request.param == "memory":
        return lambda ttl=1800.0: memory_store(ttl)
    redis: RedisProcess = request.getfixturevalue("redis_server")
    return lambda ttl=1800.0: redis_store(redis.url, ttl)


# --- the shared contract ---------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_create_then_get_returns_the_record(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            created = record("s-1", client_info={"name": "x", "version": "2"})
            await store.create(created)
            got = await store.get("s-1")
            assert got is not None
            assert got.session_id == "s-1"
            assert got.protocol_version == "2025-06-18"
            assert got.client_info == {"name": "x", "version": "2"}
            assert got.capabilities == {"sampling": {}}
            assert got.log_level == "debug"
            assert got.subscriptions == []
            assert got.created_at == pytest.approx(created.created_at)
            assert await store.get("never-created") is None

    run(scenario())


@pytest.mark.timeout(20)
def test_get_slides_last_seen(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await store.create(record("s-1", last_seen=time.time() - 10))
            before = time.time()
            got = await store.get("s-1")
            assert got is not None
            assert got.last_seen >= before

    run(scenario())


@pytest.mark.timeout(20)
def test_idle_session_expires_and_access_keeps_it_alive(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        # 1 s is the shortest TTL Redis keys have (the Redis store rounds up to whole seconds).
        async with make_store(ttl=1.0) as store:
            await store.create(record("busy"))
            await store.create(record("idle"))
            for _ in range(3):  # 1.5 s in all, never 1 s idle
                await asyncio.sleep(0.5)
                assert await store.get("busy") is not None
            assert await store.get("idle") is None
            assert sorted(await store.live_sessions()) == ["busy"]
            await asyncio.sleep(1.3)
            assert await store.get("busy") is None
            assert await store.live_sessions() == []

    run(scenario())


@pytest.mark.timeout(20)
def test_set_log_level(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await store.create(record("s-1"))
            await store.set_log_level("s-1", "warning")
            got = await store.get("s-1")
            assert got is not None
            assert got.log_level == "warning"
            # Setting the level of an unknown session must not bring it into existence.
            await store.set_log_level("ghost", "error")
            assert await store.get("ghost") is None
            assert "ghost" not in await store.live_sessions()

    run(scenario())


@pytest.mark.timeout(20)
def test_subscribe_unsubscribe_and_subscribers(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            for sid in ("s-1", "s-2", "s-3"):
                await store.create(record(sid))
            await store.subscribe("s-1", "file:///a")
            await store.subscribe("s-1", "file:///a")  # idempotent
            await store.subscribe("s-1", "file:///b")
            await store.subscribe("s-2", "file:///a")
            assert sorted(await store.subscribers("file:///a")) == ["s-1", "s-2"]
            assert sorted(await store.subscribers("file:///b")) == ["s-1"]
            assert await store.subscribers("file:///nobody") == []
            got = await store.get("s-1")
            assert got is not None
            assert sorted(got.subscriptions) == ["file:///a", "file:///b"]

            await store.unsubscribe("s-1", "file:///a")
            await store.unsubscribe("s-3", "file:///a")  # not subscribed: no effect
            assert sorted(await store.subscribers("file:///a")) == ["s-2"]
            got = await store.get("s-1")
            assert got is not None
            assert got.subscriptions == ["file:///b"]

    run(scenario())


@pytest.mark.timeout(20)
def test_live_sessions_lists_created_and_drops_deleted(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            assert await store.live_sessions() == []
            for sid in ("s-1", "s-2", "s-3"):
                await store.create(record(sid))
            assert sorted(await store.live_sessions()) == ["s-1", "s-2", "s-3"]
            assert await store.delete("s-2") is True
            assert sorted(await store.live_sessions()) == ["s-1", "s-3"]

    run(scenario())


@pytest.mark.timeout(20)
def test_delete_forgets_the_session_and_its_subscriptions(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await store.create(record("s-1"))
            await store.create(record("s-2"))
            await store.subscribe("s-1", "file:///a")
            await store.subscribe("s-2", "file:///a")
            assert await store.delete("s-1") is True
            assert await store.get("s-1") is None
            assert await store.subscribers("file:///a") == ["s-2"]
            assert await store.delete("s-1") is False
            assert await store.delete("never-created") is False
            # The other session is untouched.
            got = await store.get("s-2")
            assert got is not None
            assert got.subscriptions == ["file:///a"]

    run(scenario())


@pytest.mark.timeout(20)
def test_sessions_are_isolated(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store() as store:
            await store.create(record("s-1", protocol_version="2025-03-26"))
            await store.create(record("s-2", protocol_version="2025-11-25"))
            await store.set_log_level("s-1", "error")
            await store.subscribe("s-1", "file:///a")
            other = await store.get("s-2")
            assert other is not None
            assert other.protocol_version == "2025-11-25"
            assert other.log_level == "debug"
            assert other.subscriptions == []

    run(scenario())


@pytest.mark.timeout(20)
def test_subscribers_excludes_expired_sessions(make_store: StoreFactory) -> None:
    async def scenario() -> None:
        async with make_store(ttl=1.0) as store:
            await store.create(record("gone"))
            await store.subscribe("gone", "file:///a")
            await asyncio.sleep(1.3)
            assert await store.live_sessions() == []
            assert await store.subscribers("file:///a") == []

    run(scenario())


# --- Redis only ------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_redis_sessions_are_shared_between_nodes(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        async with (
            redis_store(redis_server.url, 1800) as node_a,
            redis_store(redis_server.url, 1800) as node_b,
        ):
            await node_a.create(record("s-1"))
            await node_a.subscribe("s-1", "file:///a")
            await node_b.set_log_level("s-1", "notice")
            got = await node_b.get("s-1")
            assert got is not None
            assert got.log_level == "notice"
            assert got.subscriptions == ["file:///a"]
            assert await node_b.live_sessions() == ["s-1"]
            assert await node_b.subscribers("file:///a") == ["s-1"]
            assert await node_b.delete("s-1") is True
            assert await node_a.get("s-1") is None

    run(scenario())


@pytest.mark.timeout(20)
def test_redis_subscribe_of_unknown_session_is_ignored(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        async with redis_store(redis_server.url, 1800) as store:
            await store.subscribe("ghost", "file:///a")
            assert await store.subscribers("file:///a") == []

    run(scenario())


@pytest.mark.timeout(30)
def test_redis_killed_fails_fast_then_recovers(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        async with redis_store(redis_server.url, 1800) as store:
            await store.create(record("s-1"))
            redis_server.kill()
            operations: list[Callable[[], Awaitable[Any]]] = [
                lambda: store.get("s-1"),
                lambda: store.create(record("s-2")),
                lambda: store.live_sessions(),
            ]
            for operation in operations:
                started = time.monotonic()
                with pytest.raises(StoreUnavailable):
                    await operation()
                assert time.monotonic() - started < FAIL_FAST_BOUND
            # Redis back with its append-only file: the session is still there, and the same
            # client reconnects by itself.
            redis_server.start()
            got = await store.get("s-1")
            assert got is not None
            assert got.session_id == "s-1"

    run(scenario())


@pytest.mark.timeout(30)
def test_redis_not_answering_fails_within_the_timeout(redis_server: RedisProcess) -> None:
    """A Redis that accepts nothing (SIGSTOP) is the case a socket timeout must bound."""

    async def scenario() -> None:
        async with redis_store(redis_server.url, 1800) as store:
            await store.create(record("s-1"))
            assert redis_server.pid is not None
            os.kill(redis_server.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                with pytest.raises(StoreUnavailable):
                    await store.get("s-1")
                elapsed = time.monotonic() - started
                assert REDIS_TIMEOUT * 0.5 < elapsed < FAIL_FAST_BOUND
            finally:
                os.kill(redis_server.pid, signal.SIGCONT)
            assert await store.get("s-1") is not None

    run(scenario())


@pytest.mark.timeout(20)
def test_redis_failures_are_counted(redis_server: RedisProcess) -> None:
    async def scenario() -> None:
        stats = NodeStats()
        client = connect(redis_server.url, REDIS_TIMEOUT, hang=False)
        store = RedisSessionStore(client, RedisGuard(stats, hang=False), 1800)
        try:
            redis_server.kill()
            with pytest.raises(StoreUnavailable):
                await store.get("s-1")
            assert stats.redis_errors == 1
        finally:
            await client.aclose()

    run(scenario())
