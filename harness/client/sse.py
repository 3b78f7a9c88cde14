"""An incremental Server-Sent Events parser fed one line at a time (WHATWG rules).

Lines end in LF or CRLF (a lone CR is not treated as a line end). An event whose data is
empty, such as the priming event ``id: X`` + ``data:`` of 2025-11-25, is not dispatched, but
its id still becomes ``last_event_id``, the value a reconnect sends as Last-Event-ID.
"""

from __future__ import annotations

from typing import NamedTuple


class SseEvent(NamedTuple):
    data: bytes  # the data lines joined by LF, undecoded
    event: str  # the event type, "message" when none was given
    id: str | None  # the last event id in force when the event was dispatched


class SseParser:
    __slots__ = ("_data", "_event", "last_event_id", "retry_ms")

    def __init__(self, last_event_id: str | None = None) -> None:
        self._data: list[bytes] = []
        self._event = ""
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None

    def feed(self, line: bytes) -> SseEvent | None:
        """Parse one line; returns the event that a blank line completes, if it has data."""
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ":" a comment (keep-alive)
            return None
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"id":
            if b"\0" not in value:
                self.last_event_id = value.decode("utf-8", "replace")
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        joined = data[0] if len(data) == 1 else b"\n".join(data)
        if not joined:
            return None
        return SseEvent(joined, event or "message", self.last_event_id)
