"""One node assembled from its configuration: store, stream manager, catalog and counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field

from reference_server.config import ServerConfig
from reference_server.defects import Defect
from reference_server.errors import StoreUnavailable
from reference_server.mrtr import (
    InMemoryRequestStateStore,
    RedisRequestStateStore,
    RequestStateStore,
    StateSealer,
)
from reference_server.redis_guard import RedisGuard, connect, connect_subscriber
from reference_server.sessions import InMemorySessionStore, RedisSessionStore, SessionStore
from reference_server.stats import NodeStats
from reference_server.streams import InMemoryStreamManager, RedisStreamManager, StreamManager
from reference_server.subscriptions import InMemorySubscriptionBus, SubscriptionBus
from reference_server.subscriptions.redis import RedisSubscriptionBus
from reference_server.tools import Catalog, conformance, pack

_log = logging.getLogger(__name__)


@dataclass
class Node:
    config: ServerConfig
    store: SessionStore
    streams: StreamManager
    # Change notifications to the subscriptions/listen streams of every node (2026-07-28).
    bus: SubscriptionBus
    catalog: Catalog
    stats: NodeStats
    state_sealer: StateSealer
    state_store: RequestStateStore
    # Only with the forget-log-level defect: levels kept here instead of in the store.
    local_log_levels: dict[str, str] = field(default_factory=dict)
    # Only with the leak defect: what is never freed.
    leaked: list[bytes] = field(default_factory=list)

    _sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.start()
        await self.streams.start()
        await self.state_store.start()
        await self.bus.start()
        self._sweeper = asyncio.create_task(self._sweep_expired(), name="sweep-expired")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.state_store.close()
        await self.bus.close()
        await self.streams.close()
        await self.store.close()

    async def _sweep_expired(self) -> None:
        """Drop the stream state (event logs, counters) of sessions that expired idle."""
        every = min(30.0, max(0.5, self.config.session_ttl / 2))
        while True:  # bounded by the node's lifetime: cancelled by close()
            await asyncio.sleep(every)
            try:
                for session_id in await self.store.sweep():
                    await self.streams.forget_session(session_id)
            except StoreUnavailable:
                continue


def build_catalog() -> Catalog:
    catalog = Catalog()
    pack.register(catalog)
    conformance.register(catalog)
    return catalog


def build_node(config: ServerConfig) -> Node:
    stats = NodeStats()
    hang = Defect.HANG_ON_REDIS_DOWN in config.defects
    guard = RedisGuard(stats, hang)
    uses_redis = "redis" in (config.session_store, config.stream_manager)
    redis = connect(config.redis_url, config.redis_timeout, hang) if uses_redis else None

    store: SessionStore
    if config.session_store == "redis":
        assert redis is not None
        store = RedisSessionStore(redis, guard, config.session_ttl)
    else:
        store = InMemorySessionStore(config.session_ttl)

    streams: StreamManager
    if config.stream_manager == "redis":
        assert redis is not None
        subscriber = connect_subscriber(config.redis_url, config.redis_timeout)
        streams = RedisStreamManager(
            redis,
            subscriber,
            guard,
            config.node_id,
            config.defects,
            stats,
            config.event_log,
            config.session_ttl,
            config.client_request_timeout,
        )
    else:
        streams = InMemoryStreamManager(config.node_id, config.defects, stats, config.event_log)

    state_store: RequestStateStore
    if config.session_store == "redis":
        assert redis is not None
        state_store = RedisRequestStateStore(redis, guard)
    else:
        state_store = InMemoryRequestStateStore()
    sealer = StateSealer(_state_key(config), config.request_state_ttl)

    # Changes travel like streamed messages: across the cluster when the streams do.
    bus: SubscriptionBus
    if config.stream_manager == "redis":
        assert redis is not None
        bus_subscriber = connect_subscriber(config.redis_url, config.redis_timeout)
        bus = RedisSubscriptionBus(
            redis, bus_subscriber, guard, config.node_id, config.defects, stats
        )
    else:
        bus = InMemorySubscriptionBus()
    return Node(config, store, streams, bus, build_catalog(), stats, sealer, state_store)


def _state_key(config: ServerConfig) -> bytes:
    if config.state_key is not None and Defect.NODE_LOCAL_STATE_KEY not in config.defects:
        return config.state_key
    if config.state_key is None and config.session_store == "redis":
        _log.warning(
            "no shared requestState key (--state-key-file or MCP_SCALE_STATE_KEY): "
            "2026-07-28 MRTR retries are accepted only by node %s",
            config.node_id,
        )
    return secrets.token_bytes(32)
