"""Short literal histories built by hand (Jepsen's checker tests): one helper per kind of
operation, times in seconds from 0."""

from __future__ import annotations

from typing import Any

from harness.history import Record


def r(t: float, type_: str, process: str, f: str, value: Any = None, **extra: Any) -> Record:
    record: dict[str, Any] = {"time": t, "type": type_, "process": process, "f": f}
    record["value"] = value
    record.update(extra)
    return record  # type: ignore[return-value]


def init(t: float, user: str, session: str, node: str = "n1") -> list[Record]:
    return [
        r(t, "invoke", user, "initialize", {"protocolVersion": "2025-11-25"}, session=None),
        r(t + 0.01, "ok", user, "initialize", {"session": session}, session=session, node=node),
    ]


def listen(t: float, user: str, session: str, last: str | None = None) -> list[Record]:
    value = {"last_event_id": last}
    return [
        r(t, "invoke", f"{user}/stream", "stream_open", value, session=session),
        r(t + 0.01, "ok", f"{user}/stream", "stream_open", value, session=session, node="n1"),
    ]


def brk(t: float, user: str, session: str, reason: str = "error") -> Record:
    kind = "ok" if reason in ("eof", "closed by client") else "fail"
    value = {"reason": reason, "last_event_id": "e1"}
    return r(t, kind, f"{user}/stream", "stream_break", value, session=session)


def notify(t: float, user: str, session: str, nonce: str, n: int, done: str = "ok") -> list[Record]:
    value = {"emitted": n} if done == "ok" else {"count": n, "nonce": nonce}
    extra = {"status": 404, "error": "HTTP 404"} if done == "fail" else {}
    return [
        r(t, "invoke", user, "call:notify", {"count": n, "nonce": nonce}, session=session),
        r(t + 0.1, done, user, "call:notify", value, session=session, node="n2", **extra),
    ]


def note(
    t: float, user: str, session: str, nonce: str, seq: int, sent: float | None = None
) -> Record:
    data = {"nonce": nonce, "seq": seq, "sent_at": t - 0.001 if sent is None else sent}
    message = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": data}}
    return r(t, "ok", f"{user}/stream", "message", message, session=session, stream="get")


def fault(t: float, name: str, target: str | None = "n1") -> list[Record]:
    return [
        r(t, "invoke", "nemesis", name, target),
        r(t + 0.01, "ok", "nemesis", name, target),
    ]


def op(
    t: float, user: str, session: str, type_: str = "ok", f: str = "call:echo", **extra: Any
) -> list[Record]:
    extra = {"node": "n2", "latency": 0.01, **extra}
    return [
        r(t, "invoke", user, f, {"text": "x"}, session=session),
        r(t + 0.01, type_, user, f, "x", session=session, **extra),
    ]


def history(*parts: Record | list[Record]) -> list[Record]:
    records: list[Record] = []
    for part in parts:
        records += part if isinstance(part, list) else [part]
    records.sort(key=lambda record: record["time"])
    for index, record in enumerate(records):
        record["index"] = index
    return records
