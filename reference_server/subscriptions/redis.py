"""Changes across a cluster through Redis pub/sub: a change published on any node reaches the
matching listen streams of every node.

Layout: one channel, ``mcp:changes``, to which every node subscribes on one connection of its
own, however many listen streams it serves. A payload is ``c\\n<change JSON>`` (a change) or
``p\\n<node>\\n<seq>`` (a node's probe of its own link). The publisher hears its own changes
like every other node, so that a change reaches all listen streams the same way.

Pub/sub keeps nothing: a node cut off from Redis misses what is published meanwhile. So when
the link breaks (the connection fails, or the node's own probe does not come back in
``LINK_TIMEOUT`` seconds: a Redis stopped or out of reach) every listen stream on the node
ends without its completion, and new ones are refused (503) until the node has subscribed
again: a client sees a break and lists again, and no stream stays open and quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from functools import partial

import redis.asyncio as aioredis

from reference_server.defects import Defect
from reference_server.errors import StoreUnavailable
from reference_server.redis_guard import REDIS_FAILURES, RedisGuard, raise_if_cancelled
from reference_server.stats import NodeStats
from reference_server.subscriptions.base import (
    LISTENER_QUEUE_LIMIT,
    Change,
    Ending,
    Listener,
    ListenFilter,
)
from reference_server.subscriptions.local import LocalListeners

_log = logging.getLogger(__name__)

CHANNEL = "mcp:changes"
# A node publishes a probe this often and declares its link broken when the oldest probe it
# sent has not come back within LINK_TIMEOUT: a silent link ends the streams in about that.
PROBE_EVERY = 1.0
LINK_TIMEOUT = 5.0


class LinkSilent(Exception):
    """The node's own probes stopped coming back: its pub/sub link is as good as broken."""


class RedisSubscriptionBus:
    def __init__(
        self,
        redis: aioredis.Redis,
        subscriber: aioredis.Redis,
        guard: RedisGuard,
        node_id: str,
        defects: frozenset[Defect],
        stats: NodeStats,
        listener_limit: int = LISTENER_QUEUE_LIMIT,
        link_timeout: float = LINK_TIMEOUT,
    ) -> None:
        self._redis = redis
        self._subscriber = subscriber
        self._guard = guard
        self._node_id = node_id
        self._local_only = Defect.LOCAL_LISTEN in defects
        self._stats = stats
        self._local = LocalListeners(listener_limit)
        self._link_timeout = link_timeout
        self._tasks: list[asyncio.Task[None]] = []
        # Set while the node is subscribed: listen streams are accepted only then.
        self.subscribed = asyncio.Event()
        self._probes_sent = 0
        # The probes not heard back yet: (seq, monotonic time sent), oldest first.
        self._unanswered: deque[tuple[int, float]] = deque()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._receive(), name="bus-receive"),
            asyncio.create_task(self._probe(), name="bus-probe"),
        ]
        # Not fatal if Redis is down at start: listens get 503 until the node subscribes.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), timeout=5)

    async def close(self) -> None:
        self._local.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def shutdown(self) -> None:
        self._local.shutdown()

    def listen(self, listen_filter: ListenFilter) -> Listener:
        if not self.subscribed.is_set():
            raise StoreUnavailable("the subscription bus is not subscribed to Redis pub/sub")
        return self._local.add(listen_filter)

    def release(self, listener: Listener) -> None:
        self._local.remove(listener)

    async def publish(self, change: Change) -> None:
        if self._local_only:
            self._local.push(change)
            return
        payload = f"c\n{change.to_json()}"
        await self._guard.run(lambda: self._redis.publish(CHANNEL, payload))
        self._stats.changes_published += 1

    def local_listeners(self) -> int:
        return len(self._local)

    async def _receive(self) -> None:
        """Feed the local listeners; on a broken link, end them all and subscribe again."""
        backoff = 0.05
        while True:  # bounded by the node's lifetime: cancelled by close()
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._unanswered.clear()
                self.subscribed.set()
                backoff = 0.05
                while True:
                    raise_if_cancelled()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None:
                        try:
                            self._on_message(str(message["data"]))
                        except (ValueError, KeyError, TypeError) as exc:
                            # Only nodes of this cluster publish here: a bug, not a reason
                            # to stop feeding every listen stream.
                            _log.error("malformed message on %s: %s", CHANNEL, exc)
                    self._check_link()
            except (*REDIS_FAILURES, LinkSilent):
                self._stats.redis_errors += 1
                self._stats.listen_breaks += len(self._local)
                self.subscribed.clear()
                self._local.end_all(Ending.BROKEN)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _on_message(self, payload: str) -> None:
        kind, _, rest = payload.partition("\n")
        if kind == "c":
            self._stats.changes_received += 1
            self._local.push(Change.from_json(rest))
        elif kind == "p":
            node, _, seq = rest.partition("\n")
            if node == self._node_id:
                heard = int(seq)
                while self._unanswered and self._unanswered[0][0] <= heard:
                    self._unanswered.popleft()

    def _check_link(self) -> None:
        if self._unanswered and time.monotonic() - self._unanswered[0][1] > self._link_timeout:
            raise LinkSilent(f"no probe came back in {self._link_timeout} s")

    async def _probe(self) -> None:
        while True:  # bounded by the node's lifetime: cancelled by close()
            await asyncio.sleep(PROBE_EVERY)
            if not self.subscribed.is_set():
                continue
            self._probes_sent += 1
            # Counted from before the attempt: a publish that cannot reach Redis is a silent
            # link too.
            self._unanswered.append((self._probes_sent, time.monotonic()))
            payload = f"p\n{self._node_id}\n{self._probes_sent}"
            with contextlib.suppress(StoreUnavailable):
                await self._guard.run(partial(self._redis.publish, CHANNEL, payload))
