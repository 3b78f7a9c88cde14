"""One history record: a plain dict (no per-record objects), typed for mypy; see FORMAT.md."""

from __future__ import annotations

import time
from typing import Any, Literal, NotRequired, Required, TypedDict

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset(("invoke", "ok", "fail", "info"))
# ok: it happened; fail: it surely did not happen; info: unknown (it may have happened).
COMPLETIONS: frozenset[str] = frozenset(("ok", "fail", "info"))


class Record(TypedDict, total=False):
    """A history record; see FORMAT.md. Keys beyond these are allowed by the format."""

    index: NotRequired[int]
    time: Required[float]
    type: Required[OpType]
    process: Required[str]
    f: Required[str]
    value: Any
    session: str | None
    node: str | None
    latency: float
    error: str
    status: int
    event_id: str
    stream: str  # "get" or "post", on message events
    interrupted: bool


def make_record(type_: OpType, process: str, f: str, value: Any = None, **extras: Any) -> Record:
    """A record stamped with the current wall-clock time (epoch seconds)."""
    record: Record = {"time": time.time(), "type": type_, "process": process, "f": f}
    record["value"] = value
    record.update(extras)  # type: ignore[typeddict-item]
    return record
