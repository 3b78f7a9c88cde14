"""Streams across a cluster through Redis: any node delivers, any node resumes (G2-G5).

Layout:
- ``mcp:log:<session>``: the session's event log, a Redis Stream capped with an approximate
  MAXLEN and trimmed of entries older than the retention (MINID, from the entry ids' times).
  Its entry ids are the SSE event ids, so Last-Event-ID replay works on any node.
- ``mcp:owner:<session>``: the node holding the session's open stream, with a heartbeat TTL.
- ``mcp:node:<node>``: one pub/sub channel per node, however many sessions it serves.
- ``mcp:pending:<session>|<request id>``: the node awaiting the client's answer to a
  server->client request, so that a response POSTed to any node is forwarded to it;
  ``mcp:answer:<session>|<request id>``: an answer parked because its node was not listening
  at that moment (reconnecting after a Redis outage); the node collects it once subscribed.

Every message is appended to the log before it is published, and a node takes ownership of a
stream before it reads the log for replay, so a message is either replayed or pushed live:
never neither. Replay and live may overlap; ``OpenStream`` drops the repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from functools import partial
from typing import Any

import redis.asyncio as aioredis

from reference_server.defects import Defect
from reference_server.errors import StoreUnavailable
from reference_server.protocol import JsonDict, RequestId
from reference_server.redis_guard import RedisGuard, is_redis_failure, raise_if_cancelled
from reference_server.stats import NodeStats
from reference_server.streams.base import Event, EventLogLimits, OpenStream
from reference_server.streams.local import LocalEndpoints, pending_key

OWNER_TTL = 15  # seconds; a dead node's streams are orphaned at most this long
HEARTBEAT_EVERY = 5.0
# The pub/sub link is pinged this often, and judged lost after LINK_SILENCE without a word
# from Redis on it: a half-open link (a silent partition, a black hole) raises no error of
# its own, and a node that trusted it would keep streams open that receive nothing.
PING_EVERY = 1.0
LINK_SILENCE = 3.0
# A Redis stream id: two unsigned 64-bit integers. Anything else in Last-Event-ID is not one
# of our event ids (Redis would refuse it), so the stream starts afresh.
_EVENT_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_MAX_ID_PART = 2**64 - 1

# Append, then publish to the owner's channel unless the owner is the caller (who pushes the
# event to its own stream without a pub/sub round trip). Returns {event id, owner or false}.
_DELIVER = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[5] then
  redis.call('PUBLISH', 'mcp:node:' .. owner, 'm\\n' .. ARGV[4] .. '\\n' .. id .. '\\n' .. ARGV[1])
end
return {id, owner}
"""

# The same for many sessions in one round trip (keys are built here, so this assumes one
# Redis, not Redis Cluster). Returns the ids of events for sessions whose owner is the caller.
_DELIVER_MANY = """
local mine = {}
for i = 6, #ARGV do
  local sid = ARGV[i]
  local log = 'mcp:log:' .. sid
  local id = redis.call('XADD', log, 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1])
  redis.call('XTRIM', log, 'MINID', ARGV[5])
  redis.call('EXPIRE', log, ARGV[3])
  local owner = redis.call('GET', 'mcp:owner:' .. sid)
  if owner == ARGV[4] then
    table.insert(mine, sid)
    table.insert(mine, id)
  elseif owner then
    redis.call('PUBLISH', 'mcp:node:' .. owner, 'm\\n' .. sid .. '\\n' .. id .. '\\n' .. ARGV[1])
  end
end
return mine
"""

# Keep (or retake, after a Redis restart lost it) ownership of our streams; returns the
# sessions another node has taken over, whose streams here are stale.
_HEARTBEAT = """
local lost = {}
for i = 3, #ARGV do
  local key = 'mcp:owner:' .. ARGV[i]
  local owner = redis.call('GET', key)
  if owner == false or owner == ARGV[1] then
    redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

# Own the session's stream, then read its log, in one round trip: with ARGV[3], what came after
# that event id (a resume; ``count`` bounds it, the log being capped anyway); without it, the
# log's last entry (where a fresh stream starts). A node that takes over a dead node's streams
# opens them all at once, so each round trip saved there shortens the failover.
_CLAIM = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[3] ~= '' then
  return redis.call('XRANGE', KEYS[2], '(' .. ARGV[3], '+', 'COUNT', ARGV[4])
end
return redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_TAKE_PENDING = """
local node = redis.call('GET', KEYS[1])
if node then redis.call('DEL', KEYS[1]) end
return node
"""


def _log_key(session_id: str) -> str:
    return f"mcp:log:{session_id}"


def _owner_key(session_id: str) -> str:
    return f"mcp:owner:{session_id}"


def _channel(node_id: str) -> str:
    return f"mcp:node:{node_id}"


def _event_id(value: str | None) -> str | None:
    """``value`` as a Redis stream id (normalized), or None if it cannot be one."""
    match = _EVENT_ID.fullmatch(value or "")
    if match is None:
        return None
    millis, seq = int(match[1]), int(match[2])
    return f"{millis}-{seq}" if max(millis, seq) <= _MAX_ID_PART else None


def _data(fields: list[Any]) -> str:
    """The ``d`` field of a log entry as a script returns it: a flat [name, value, ...] list."""
    return str(dict(zip(fields[::2], fields[1::2], strict=True))["d"])


def _compact(message: JsonDict) -> str:
    return json.dumps(message, separators=(",", ":"))


class RedisStreamManager:
    def __init__(
        self,
        redis: aioredis.Redis,
        subscriber: aioredis.Redis,
        guard: RedisGuard,
        node_id: str,
        defects: frozenset[Defect],
        stats: NodeStats,
        limits: EventLogLimits,
        ttl: float,
        response_timeout: float,
    ) -> None:
        self._redis = redis
        self._subscriber = subscriber
        self._guard = guard
        self._node_id = node_id
        self._local = LocalEndpoints(node_id, defects)
        self._stats = stats
        self._limits = limits
        self._ttl = max(1, math.ceil(ttl))
        self._response_ttl = max(1, math.ceil(response_timeout))
        self._deliver = redis.register_script(_DELIVER)
        self._deliver_many = redis.register_script(_DELIVER_MANY)
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._take_pending = redis.register_script(_TAKE_PENDING)
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()
        self._zombie = Defect.ZOMBIE_STREAMS in defects

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listen"),
            asyncio.create_task(self._keep_ownership(), name="redis-heartbeat"),
        ]
        # Not fatal if Redis is down at start: the listener keeps trying and requests get 503.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), timeout=5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._local.close_all()

    async def open_stream(self, session_id: str, last_event_id: str | None) -> OpenStream:
        if not self.subscribed.is_set() and not self._zombie:
            # Without the pub/sub link, what other nodes forward to this stream would never
            # come: refuse it (503), so that the client opens it on another node.
            raise StoreUnavailable("redis pub/sub link down: this node cannot feed a stream")
        stream = OpenStream(session_id)
        self._local.attach(stream)
        try:
            resume_from = _event_id(last_event_id)
            # Nothing can come after the largest id (and Redis refuses that range).
            replay = (
                resume_from is not None
                and Defect.DROP_ON_RESUME not in self._local.defects
                and resume_from != f"{_MAX_ID_PART}-{_MAX_ID_PART}"
            )
            entries = await self._take_ownership(session_id, resume_from if replay else None)
            if resume_from is not None:
                stream.cursor = resume_from
                if replay:
                    stream.set_replay(entries)
            else:
                stream.cursor = entries[-1][0] if entries else "0-0"
        except BaseException:
            self._local.detach(stream)
            raise
        return stream

    async def _take_ownership(self, session_id: str, after: str | None) -> list[Event]:
        """Own the session's stream; returns the log's entries after ``after`` (all of them
        that it still holds), or without ``after`` its last entry, at that instant."""
        keys = [_owner_key(session_id), _log_key(session_id)]
        args: list[str | int] = [
            self._node_id,
            OWNER_TTL,
            after or "",
            self._limits.max_entries * 2,
        ]
        entries: Any = await self._guard.run(lambda: self._claim(keys=keys, args=args))
        return [(str(entry_id), _data(fields)) for entry_id, fields in entries or []]

    async def release_stream(self, stream: OpenStream) -> None:
        if not self._local.detach(stream):
            return
        # Best effort: if Redis is down the owner key simply expires.
        with contextlib.suppress(Exception):
            await self._guard.run(
                lambda: self._release(keys=[_owner_key(stream.session_id)], args=[self._node_id])
            )

    async def deliver(self, session_id: str, message: JsonDict) -> str:
        target = self._local.misroute(session_id)
        data = _compact(message)
        keys = [_log_key(target), _owner_key(target)]
        args: list[str | int] = [
            data,
            self._limits.max_entries,
            self._ttl,
            target,
            self._node_id,
            _min_id(self._limits),
        ]
        event_id, owner = await self._guard.run(lambda: self._deliver(keys=keys, args=args))
        if owner == self._node_id:
            if self._local.push(target, (event_id, data)):
                self._stats.messages_local += 1
        elif owner:
            self._stats.messages_remote += 1
        return str(event_id)

    async def deliver_many(self, session_ids: list[str], message: JsonDict) -> int:
        if not session_ids:
            return 0
        data = _compact(message)
        args: list[str | int] = [
            data,
            self._limits.max_entries,
            self._ttl,
            self._node_id,
            _min_id(self._limits),
            *session_ids,
        ]
        mine = await self._guard.run(lambda: self._deliver_many(keys=[], args=args))
        for sid, event_id in zip(mine[::2], mine[1::2], strict=True):
            if self._local.push(sid, (event_id, data)):
                self._stats.messages_local += 1
        return len(session_ids)

    def next_request_id(self, session_id: str) -> RequestId:
        return self._local.next_request_id(session_id)

    async def expect_response(
        self, session_id: str, request_id: RequestId
    ) -> asyncio.Future[JsonDict]:
        future = self._local.expect(session_id, request_id)
        key = f"mcp:pending:{pending_key(session_id, request_id)}"
        try:
            await self._guard.run(
                lambda: self._redis.set(key, self._node_id, ex=self._response_ttl)
            )
        except BaseException:
            self._local.cancel(session_id, request_id)
            raise
        return future

    async def cancel_response(self, session_id: str, request_id: RequestId) -> None:
        self._local.cancel(session_id, request_id)
        key = f"mcp:pending:{pending_key(session_id, request_id)}"
        with contextlib.suppress(Exception):
            await self._guard.run(lambda: self._redis.delete(key))

    async def route_response(self, session_id: str, message: JsonDict) -> bool:
        key = pending_key(session_id, message["id"])
        node = await self._guard.run(lambda: self._take_pending(keys=[f"mcp:pending:{key}"]))
        if node is None:
            return False
        if node == self._node_id:
            return self._local.resolve(session_id, message)
        payload = f"r\n{session_id}\n{_compact(message)}"
        heard = await self._guard.run(lambda: self._redis.publish(_channel(str(node)), payload))
        if not heard:
            await self._guard.run(
                lambda: self._redis.set(
                    f"mcp:answer:{key}", _compact(message), ex=self._response_ttl
                )
            )
        self._stats.responses_forwarded += 1
        return True

    async def _collect_parked_answers(self) -> None:
        keys = self._local.pending_keys()
        if not keys:
            return
        parked = [f"mcp:answer:{key}" for key in keys]
        answers = await self._guard.run(lambda: self._redis.mget(parked))
        for key, answer in zip(keys, answers, strict=True):
            if answer is not None:
                self._local.resolve_key(key, json.loads(answer))

    async def forget_session(self, session_id: str) -> None:
        self._local.forget(session_id)
        owner_key = _owner_key(session_id)

        async def drop() -> None:
            owner = await self._redis.get(owner_key)
            await self._redis.delete(_log_key(session_id), owner_key)
            if owner and owner != self._node_id:
                await self._redis.publish(_channel(str(owner)), f"c\n{session_id}")

        await self._guard.run(drop)

    def local_sessions(self) -> list[str]:
        return list(self._local.streams)

    async def _listen(self) -> None:
        """Receive what other nodes forward here, resubscribing after any Redis outage."""
        backoff = 0.05
        reconnected = False
        while True:  # bounded by the node's lifetime: cancelled by close()
            pubsub = self._subscriber.pubsub()
            try:
                # Bounded: connecting through a black hole would otherwise wait forever.
                await asyncio.wait_for(pubsub.subscribe(_channel(self._node_id)), LINK_SILENCE)
                if reconnected and not self._zombie:
                    # Forwarded events may have been lost while we were cut off: end our
                    # streams so that their clients resume from the log, and pick up the
                    # answers parked for us meanwhile.
                    self._local.close_all()
                    await self._collect_parked_answers()
                reconnected = True
                self.subscribed.set()
                backoff = 0.05
                await self._receive(pubsub)
            except Exception as exc:
                if not is_redis_failure(exc):
                    raise
                self._stats.redis_errors += 1
                self._link_lost(exc)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), LINK_SILENCE)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def _receive(self, pubsub: Any) -> None:
        """Hand on what arrives; raise when the link has been silent for LINK_SILENCE (it is
        pinged every PING_EVERY, so a live link is never silent that long)."""
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        silent = 0.0
        while True:  # bounded: ends with the link (an error, or silence)
            raise_if_cancelled()
            if loop.time() - pinged >= PING_EVERY and not self._zombie:
                await asyncio.wait_for(pubsub.ping(), LINK_SILENCE)
                pinged = loop.time()
            began = loop.time()
            # Every reply counts as a word from Redis, whatever its type: redis-py 8 with
            # decode_responses hands a subscribed PING's answer on as a message of type "P".
            message = await pubsub.get_message(timeout=PING_EVERY)
            if message is not None:
                silent = 0.0
                if message.get("type") == "message":
                    self._on_forwarded(str(message["data"]))
            elif not self._zombie:
                # Silence is counted in waits for data, each at most PING_EVERY: a loop too
                # busy to read for a while (a burst of requests) is not a silent link.
                silent += min(loop.time() - began, PING_EVERY)
                if silent >= LINK_SILENCE:
                    raise TimeoutError(f"pub/sub link silent for {LINK_SILENCE:g}s")

    def _link_lost(self, exc: BaseException) -> None:
        """The pub/sub link is gone: whatever other nodes forward here is lost from now on."""
        # Answers forwarded to us would be lost: fail their waiters fast (G6) instead of
        # letting them wait out the client-request timeout.
        self._local.fail_pending(StoreUnavailable(f"redis pub/sub lost: {exc}"))
        if self._zombie:
            return  # the defect: the streams stay open, silently receiving nothing
        # End the streams now, not once Redis is back: a stream that looks open but receives
        # nothing loses every message meanwhile; a client whose stream ends resumes from the
        # log, on a node that can feed it (this one refuses streams until resubscribed).
        self.subscribed.clear()
        self._local.close_all()

    def _on_forwarded(self, payload: str) -> None:
        kind, _, rest = payload.partition("\n")
        if kind == "m":
            session_id, event_id, data = rest.split("\n", 2)
            if self._local.push(session_id, (event_id, data)):
                self._stats.messages_received_remote += 1
        elif kind == "r":
            session_id, data = rest.split("\n", 1)
            self._local.resolve(session_id, json.loads(data))
        elif kind == "c":
            self._local.close_stream(rest)

    async def _keep_ownership(self) -> None:
        while True:  # bounded by the node's lifetime: cancelled by close()
            await asyncio.sleep(HEARTBEAT_EVERY)
            if not self._local.streams:
                continue
            args: list[str | int] = [self._node_id, OWNER_TTL, *self._local.streams]
            try:
                lost = await self._guard.run(partial(self._heartbeat, keys=[], args=args))
            except Exception:
                continue
            for session_id in lost:
                self._local.close_stream(str(session_id))


def _min_id(limits: EventLogLimits) -> str:
    """The oldest stream entry id kept: entry ids start with their time in milliseconds."""
    return f"{int(limits.oldest_kept() * 1000)}-0"
