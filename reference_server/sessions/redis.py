"""Sessions in Redis, so that any node serves any session and a node's death loses none (G1).

Layout: one hash per session ``mcp:s:<id>`` and a set of its subscriptions
``mcp:subs:<id>``, both with a sliding TTL; an index sorted set ``mcp:sessions`` scored by
expiry time (listing without KEYS scans); a set of subscribers per resource ``mcp:sub:<uri>``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import redis.asyncio as aioredis

from reference_server.redis_guard import RedisGuard
from reference_server.sessions.base import SessionRecord

INDEX = "mcp:sessions"

# Slides the expiry and reads the session in one round trip; an unknown id leaves no trace.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[3])
  return false
end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[1] + ARGV[2], ARGV[3])
return {redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[2])}
"""

_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""

_SUBSCRIBE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""

# Subscribers that are still live; those that expired without a DELETE are pruned here, so
# the per-resource sets do not grow with session churn.
_SUBSCRIBERS = """
local live = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local expiry = redis.call('ZSCORE', KEYS[2], sid)
  if expiry and tonumber(expiry) > tonumber(ARGV[1]) then
    table.insert(live, sid)
  else
    redis.call('SREM', KEYS[1], sid)
  end
end
return live
"""

_DELETE = """
local existed = redis.call('DEL', KEYS[1])
for _, uri in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('SREM', ARGV[2] .. uri, ARGV[1])
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return existed
"""


def _session_key(session_id: str) -> str:
    return f"mcp:s:{session_id}"


def _subs_key(session_id: str) -> str:
    return f"mcp:subs:{session_id}"


def _subscribers_key(uri: str) -> str:
    return f"mcp:sub:{uri}"


class RedisSessionStore:
    def __init__(self, redis: aioredis.Redis, guard: RedisGuard, ttl: float) -> None:
        self._redis = redis
        self._guard = guard
        self._ttl = max(1, math.ceil(ttl))
        self._touch = redis.register_script(_TOUCH)
        self._set_if_exists = redis.register_script(_SET_IF_EXISTS)
        self._delete = redis.register_script(_DELETE)
        self._subscribe = redis.register_script(_SUBSCRIBE)
        self._subscribers = redis.register_script(_SUBSCRIBERS)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def create(self, record: SessionRecord) -> None:
        key = _session_key(record.session_id)
        fields: dict[Any, Any] = record.to_fields()
        fields.pop("subscriptions")

        async def write() -> Any:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.expire(key, self._ttl)
                pipe.zadd(INDEX, {record.session_id: record.last_seen + self._ttl})
                return await pipe.execute()

        await self._guard.run(write)

    async def get(self, session_id: str) -> SessionRecord | None:
        keys = [_session_key(session_id), _subs_key(session_id), INDEX]
        args: list[str | int] = [repr(time.time()), self._ttl, session_id]
        found = await self._guard.run(lambda: self._touch(keys=keys, args=args))
        if not found:
            return None
        flat, subscriptions = found
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        record = SessionRecord.from_fields(fields)
        record.subscriptions = sorted(subscriptions)
        return record

    async def set_log_level(self, session_id: str, level: str) -> None:
        keys = [_session_key(session_id)]
        await self._guard.run(lambda: self._set_if_exists(keys=keys, args=["log_level", level]))

    async def subscribe(self, session_id: str, uri: str) -> None:
        keys = [_session_key(session_id), _subs_key(session_id), _subscribers_key(uri)]
        args: list[str | int] = [uri, session_id, self._ttl]
        await self._guard.run(lambda: self._subscribe(keys=keys, args=args))

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        async def write() -> Any:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.srem(_subs_key(session_id), uri)
                pipe.srem(_subscribers_key(uri), session_id)
                return await pipe.execute()

        await self._guard.run(write)

    async def subscribers(self, uri: str) -> list[str]:
        keys = [_subscribers_key(uri), INDEX]
        live = await self._guard.run(lambda: self._subscribers(keys=keys, args=[repr(time.time())]))
        return sorted(str(member) for member in live)

    async def live_sessions(self) -> list[str]:
        now = time.time()

        async def read() -> Any:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(INDEX, "-inf", now)
                pipe.zrangebyscore(INDEX, now, "+inf")
                return await pipe.execute()

        _, live = await self._guard.run(read)
        return list(live)

    async def live_count(self) -> int:
        count = await self._guard.run(lambda: self._redis.zcount(INDEX, time.time(), "+inf"))
        return int(count)

    async def delete(self, session_id: str) -> bool:
        keys = [_session_key(session_id), _subs_key(session_id), INDEX]
        args = [session_id, "mcp:sub:"]
        existed = await self._guard.run(lambda: self._delete(keys=keys, args=args))
        return bool(existed)

    async def sweep(self) -> list[str]:
        now = time.time()

        async def take() -> Any:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrangebyscore(INDEX, "-inf", now)
                pipe.zremrangebyscore(INDEX, "-inf", now)
                return await pipe.execute()

        expired, _ = await self._guard.run(take)
        return [str(sid) for sid in expired]
