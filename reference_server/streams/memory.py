"""Streams in one node's memory: delivery and resume work only on the node that has them."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque

from reference_server.defects import Defect
from reference_server.protocol import JsonDict, RequestId
from reference_server.stats import NodeStats
from reference_server.streams.base import EventLogLimits, OpenStream
from reference_server.streams.local import LocalEndpoints

_EVENT_ID = re.compile(r"([0-9]{1,20})-0")


def _sequence(event_id: str) -> int | None:
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    match = _EVENT_ID.fullmatch(event_id)
    return int(match[1]) if match else None


class InMemoryStreamManager:
    def __init__(
        self, node_id: str, defects: frozenset[Defect], stats: NodeStats, limits: EventLogLimits
    ) -> None:
        self._local = LocalEndpoints(node_id, defects)
        self._stats = stats
        self._limits = limits
        # Per session: (sequence number, when it was appended, message JSON).
        self._logs: dict[str, deque[tuple[int, float, str]]] = {}
        # Ids look like Redis stream ids ("<n>-0") so that clients treat both modes alike.
        self._counters: dict[str, itertools.count[int]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._local.close_all()

    async def open_stream(self, session_id: str, last_event_id: str | None) -> OpenStream:
        stream = OpenStream(session_id)
        log = self._logs.get(session_id, ())
        after = _sequence(last_event_id) if last_event_id else None
        if after is not None:
            stream.cursor = f"{after}-0"
            if Defect.DROP_ON_RESUME not in self._local.defects:
                stream.set_replay([(f"{seq}-0", data) for seq, _, data in log if seq > after])
        elif log:
            stream.cursor = f"{log[-1][0]}-0"
        self._local.attach(stream)
        return stream

    async def release_stream(self, stream: OpenStream) -> None:
        self._local.detach(stream)

    async def deliver(self, session_id: str, message: JsonDict) -> str:
        target = self._local.misroute(session_id)
        return self._append_and_push(target, json.dumps(message, separators=(",", ":")))

    async def deliver_many(self, session_ids: list[str], message: JsonDict) -> int:
        data = json.dumps(message, separators=(",", ":"))
        for session_id in session_ids:
            self._append_and_push(session_id, data)
        return len(session_ids)

    def _append_and_push(self, session_id: str, data: str) -> str:
        seq = next(self._counters.setdefault(session_id, itertools.count(1)))
        log = self._logs.setdefault(session_id, deque(maxlen=self._limits.max_entries))
        now = time.time()
        oldest = self._limits.oldest_kept(now)
        while log and log[0][1] < oldest:  # bounded by the log's length
            log.popleft()
        log.append((seq, now, data))
        event_id = f"{seq}-0"
        if self._local.push(session_id, (event_id, data)):
            self._stats.messages_local += 1
        return event_id

    def next_request_id(self, session_id: str) -> RequestId:
        return self._local.next_request_id(session_id)

    async def expect_response(
        self, session_id: str, request_id: RequestId
    ) -> asyncio.Future[JsonDict]:
        return self._local.expect(session_id, request_id)

    async def cancel_response(self, session_id: str, request_id: RequestId) -> None:
        self._local.cancel(session_id, request_id)

    async def route_response(self, session_id: str, message: JsonDict) -> bool:
        return self._local.resolve(session_id, message)

    async def forget_session(self, session_id: str) -> None:
        self._local.forget(session_id)
        self._logs.pop(session_id, None)
        self._counters.pop(session_id, None)

    def local_sessions(self) -> list[str]:
        return list(self._local.streams)
