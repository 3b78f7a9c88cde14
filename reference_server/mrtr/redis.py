"""Used requestStates in Redis: ``SET mcp:rs:<id> NX`` with the state's remaining lifetime, so
a replay on any node of the cluster is refused and nothing outlives the state's expiry."""

from __future__ import annotations

import math
import time

import redis.asyncio as aioredis

from reference_server.redis_guard import RedisGuard

PREFIX = "mcp:rs:"


class RedisRequestStateStore:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard) -> None:
        self._redis = redis
        self._guard = guard

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def consume(self, state_id: str, expires_at: float) -> bool:
        ttl_ms = max(1, math.ceil((expires_at - time.time()) * 1000))
        key = PREFIX + state_id
        first = await self._guard.run(lambda: self._redis.set(key, "1", nx=True, px=ttl_ms))
        return bool(first)
