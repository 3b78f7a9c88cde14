"""A single node's SubscriptionBus: a change reaches the listen streams of this process only."""

from __future__ import annotations

from reference_server.subscriptions.base import (
    LISTENER_QUEUE_LIMIT,
    Change,
    Listener,
    ListenFilter,
)
from reference_server.subscriptions.local import LocalListeners


class InMemorySubscriptionBus:
    def __init__(self, listener_limit: int = LISTENER_QUEUE_LIMIT) -> None:
        self._local = LocalListeners(listener_limit)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._local.shutdown()

    def shutdown(self) -> None:
        self._local.shutdown()

    def listen(self, listen_filter: ListenFilter) -> Listener:
        return self._local.add(listen_filter)

    def release(self, listener: Listener) -> None:
        self._local.remove(listener)

    async def publish(self, change: Change) -> None:
        self._local.push(change)

    def local_listeners(self) -> int:
        return len(self._local)
