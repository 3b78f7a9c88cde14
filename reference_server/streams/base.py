"""The StreamManager interface and the local end of an open listening stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from reference_server.protocol import JsonDict, RequestId

# An event as it goes out on SSE: (event id, JSON text of the message).
Event = tuple[str, str]


@dataclass(frozen=True)
class EventLogLimits:
    """How much of a session's event log is kept: at most ``max_entries``, none older than
    ``retention`` seconds. The time bound makes the logs of a steady load stop growing
    ``retention`` seconds after it began, whatever its rate, so that a soak can tell full
    buffers from a leak (the node says it in /metrics)."""

    max_entries: int = 1000
    retention: float = 120.0

    def oldest_kept(self, now: float | None = None) -> float:
        """Epoch seconds before which entries may be dropped."""
        return (time.time() if now is None else now) - self.retention


# How many undelivered events one slow stream may hold before it is closed; the client then
# resumes with Last-Event-ID and the event log fills the gap, so nothing is lost.
STREAM_QUEUE_LIMIT = 10_000


class OpenStream:
    """The node-local end of one session's listening stream: replayed events, then live ones."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.replay: list[Event] = []
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(STREAM_QUEUE_LIMIT)
        self.closed = False
        # Where the stream starts in the session's event log: the priming event's id, so a
        # client that loses the stream before any event resumes from here, not from the start.
        self.cursor = "0-0"
        # Ids already sent by replay: live events that raced with the replay are not sent twice.
        self._replayed: set[str] = set()

    def set_replay(self, events: list[Event]) -> None:
        """What the client missed, sent before anything live."""
        self.replay = events
        self._replayed = {event_id for event_id, _ in events}

    def push(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close()

    def close(self) -> None:
        """End the stream; the client reconnects and resumes from the event log."""
        if self.closed:
            return
        self.closed = True
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()

    async def events(self, keepalive: float) -> AsyncIterator[Event | None]:
        """Replay, then live events; None every ``keepalive`` idle seconds (an SSE comment
        that lets a dead client be noticed)."""
        for replayed in self.replay:
            yield replayed
        while True:
            try:
                event = await asyncio.wait_for(self.queue.get(), keepalive)
            except TimeoutError:
                yield None
                continue
            if event is None:
                return
            if event[0] in self._replayed:
                continue
            yield event


class StreamManager(Protocol):
    """Where each session's listening stream is, and how a message reaches it from any node.

    Every message for a session is appended to that session's event log first (its id is the
    SSE event id), then pushed to the node that holds the session's open stream, if any. A
    client that reconnects with Last-Event-ID, to any node, is replayed what came after it.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def open_stream(self, session_id: str, last_event_id: str | None) -> OpenStream:
        """Take ownership of the session's listening stream on this node."""
        ...

    async def release_stream(self, stream: OpenStream) -> None:
        """The stream ended on this node: give up ownership if still ours."""
        ...

    async def deliver(self, session_id: str, message: JsonDict) -> str:
        """Append to the session's log and push to its open stream; returns the event id."""
        ...

    async def deliver_many(self, session_ids: list[str], message: JsonDict) -> int:
        """``deliver`` to many sessions in a bounded number of round trips; returns the count."""
        ...

    def next_request_id(self, session_id: str) -> RequestId:
        """A server->client request id that no other node uses on this session."""
        ...

    async def expect_response(
        self, session_id: str, request_id: RequestId
    ) -> asyncio.Future[JsonDict]:
        """Register this node as the waiter for the client's response to ``request_id``."""
        ...

    async def cancel_response(self, session_id: str, request_id: RequestId) -> None: ...

    async def route_response(self, session_id: str, message: JsonDict) -> bool:
        """Hand a client's response to the waiting node; False if nobody waits for it."""
        ...

    async def forget_session(self, session_id: str) -> None:
        """Drop the session's log and close its stream, wherever it is open."""
        ...

    def local_sessions(self) -> list[str]:
        """Sessions whose listening stream is open on this node."""
        ...
