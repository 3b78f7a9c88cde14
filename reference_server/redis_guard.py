"""The one place where Redis failures become ``StoreUnavailable`` in bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from reference_server.errors import StoreUnavailable
from reference_server.stats import NodeStats

T = TypeVar("T")

REDIS_FAILURES = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
# The hang-on-redis-down defect retries this often before it finally gives up (about an hour).
_HANG_RETRIES = 36_000


# How each connection names the library to Redis (CLIENT SETINFO). Given once here because
# redis-py 7.2+ otherwise reads its version from the package metadata for every connection it
# opens: a new connection cost 1.25 ms of CPU instead of 0.46. A node that takes over a dead
# node's streams opens as many connections at once as it gets streams (bench/failover.py).
try:
    from redis import DriverInfo

    _IDENTITY: dict[str, Any] = {"driver_info": DriverInfo(lib_version=redis.__version__)}
except ImportError:  # an older redis-py reads it once, at import
    _IDENTITY = {}


# Connections one node keeps to Redis. A burst of requests beyond it waits for a free one
# (up to the timeout) rather than failing at once, as the default pool does.
MAX_CONNECTIONS = 256


def connect(url: str, timeout: float, hang: bool) -> aioredis.Redis:
    """A client whose every command fails within ``timeout`` (or never, for the defect)."""
    seconds = None if hang else timeout
    # One immediate retry, on connection errors only: after a Redis restart every pooled
    # connection is dead and fails once; a timeout is not retried, so the bound holds.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=seconds,
        decode_responses=True,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=0,
        **_IDENTITY,
    )
    return aioredis.Redis(connection_pool=pool)


def connect_subscriber(url: str, timeout: float) -> aioredis.Redis:
    """A pub/sub client: no read timeout (it waits for messages), but a bounded connect. Its
    listener pings the link itself (streams/redis.py) to notice a Redis that stopped
    answering: redis-py's own health check is off, because on a subscribed connection it
    reads the next message as the answer to its PING (a published message taken for a bad
    answer) once the listener has been too busy to read for its interval."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=None,
        socket_connect_timeout=timeout,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        **_IDENTITY,
    )


def is_redis_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a Redis call, means Redis is out of reach.

    Beside redis-py's own errors: under uvloop, writing to a pooled connection that Redis (or
    the network) has reset raises RuntimeError ("the handler is closed"), not an OSError, and
    redis-py passes it on after dropping the connection. It is a lost link like any other;
    anything else that is a RuntimeError stays a bug, not a 503."""
    if isinstance(exc, REDIS_FAILURES):
        return True
    return isinstance(exc, RuntimeError) and "handler is closed" in str(exc)


def raise_if_cancelled() -> None:
    """The CancelledError a pub/sub read swallowed, raised. Under load, a cancel that lands
    as redis-py's read times out can end in the timeout's None (the task stays marked
    cancelling, with no CancelledError in flight): a receive loop calls this every turn,
    else the close() that cancelled it would wait on it for ever (seen with redis-py 8.2)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisGuard:
    """Runs Redis operations, counting failures and translating them at one boundary."""

    def __init__(self, stats: NodeStats, hang: bool) -> None:
        self._stats = stats
        self._hang = hang

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(_HANG_RETRIES):
            try:
                return await operation()
            except Exception as exc:
                if not is_redis_failure(exc):
                    raise
                if attempt == 0 and isinstance(exc, RuntimeError):
                    # A pooled connection reset while idle (redis-py retries its own errors
                    # once the same way): the next try takes a new connection.
                    continue
                self._stats.redis_errors += 1
                if not self._hang:
                    raise StoreUnavailable(f"redis: {exc or type(exc).__name__}") from exc
            await asyncio.sleep(0.1)
        raise StoreUnavailable("redis: still unreachable after retrying for an hour")
