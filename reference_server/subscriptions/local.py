"""The listeners open on one node, which every SubscriptionBus implementation feeds."""

from __future__ import annotations

from reference_server.subscriptions.base import (
    LISTENER_QUEUE_LIMIT,
    Change,
    Ending,
    Listener,
    ListenFilter,
)


class LocalListeners:
    def __init__(self, limit: int = LISTENER_QUEUE_LIMIT) -> None:
        self._limit = limit
        self._listeners: set[Listener] = set()
        self._shutting_down = False

    def add(self, listen_filter: ListenFilter) -> Listener:
        listener = Listener(listen_filter, self._limit)
        if self._shutting_down:
            listener.end(Ending.SHUTDOWN)
        else:
            self._listeners.add(listener)
        return listener

    def remove(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def push(self, change: Change) -> None:
        for listener in self._listeners:
            listener.push(change)

    def end_all(self, why: Ending) -> None:
        """End every listener; the listen streams drop them as they end."""
        for listener in self._listeners:
            listener.end(why)
        self._listeners.clear()

    def shutdown(self) -> None:
        self._shutting_down = True
        self.end_all(Ending.SHUTDOWN)

    def __len__(self) -> int:
        return len(self._listeners)
