"""Used requestStates in the node's memory: single use holds on this node only (memory mode
is a single-node deployment; a second node neither opens its states nor sees its uses)."""

from __future__ import annotations

import time


class InMemoryRequestStateStore:
    def __init__(self) -> None:
        self._used: dict[str, float] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._used.clear()

    async def consume(self, state_id: str, expires_at: float) -> bool:
        now = time.time()
        # Pruned as states are used, so the dict holds at most one TTL's worth of uses.
        for expired in [key for key, until in self._used.items() if until <= now]:
            del self._used[expired]
        if state_id in self._used:
            return False
        self._used[state_id] = expires_at
        return True
