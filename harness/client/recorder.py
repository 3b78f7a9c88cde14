"""Builds the history records of a client's operations and hands each one to a hook.

Extension point. A hook is any callable taking one record (a plain dict, see
harness/history/FORMAT.md); it runs in the greenlet that did the operation and must not block::

    writer = HistoryWriter(history_path(run_dir, "w1"))
    client = McpClient(config, process="w1-u17", hook=writer.write)

The Locust user's hook writes the record and fires Locust's request event (locust_user.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from harness.history import OpType, Record

Hook = Callable[[Record], None]


class Recorder:
    __slots__ = ("_names", "hook")

    def __init__(self, hook: Hook | None, node_names: dict[str, str] | None = None) -> None:
        self.hook = hook
        self._names: dict[str, str] = dict(node_names or {})

    def node(self, url: str | None) -> str | None:
        """The name of an endpoint in records: as configured, else its host:port."""
        if url is None:
            return None
        name = self._names.get(url)
        if name is None:
            name = self._names[url] = urlsplit(url).netloc or url
        return name

    def invoke(self, process: str, f: str, value: Any, session: str | None) -> float:
        """Records the invocation; returns the monotonic start time for the latency."""
        if self.hook is not None:
            self.hook(
                {
                    "time": time.time(),
                    "type": "invoke",
                    "process": process,
                    "f": f,
                    "value": value,
                    "session": session,
                }
            )
        return time.monotonic()

    def complete(
        self,
        type_: OpType,
        process: str,
        f: str,
        value: Any,
        *,
        started: float,
        session: str | None,
        url: str | None = None,
        **extras: Any,
    ) -> Record:
        """Records a completion; an event has no invoke, ``started`` is then its own start."""
        record: Record = {
            "time": time.time(),
            "type": type_,
            "process": process,
            "f": f,
            "value": value,
            "session": session,
            "node": self.node(url),
            "latency": time.monotonic() - started,
        }
        if extras:
            record.update(extras)  # type: ignore[typeddict-item]
        if self.hook is not None:
            self.hook(record)
        return record

    def message(
        self,
        process: str,
        message: Any,
        session: str | None,
        url: str | None,
        stream: str,
        event_id: str | None,
    ) -> Record:
        """Records one message received from the server (an event: no invoke before it)."""
        record: Record = {
            "time": time.time(),
            "type": "ok",
            "process": process,
            "f": "message",
            "value": message,
            "session": session,
            "node": self.node(url),
            "stream": stream,
        }
        if event_id is not None:
            record["event_id"] = event_id
        if self.hook is not None:
            self.hook(record)
        return record
