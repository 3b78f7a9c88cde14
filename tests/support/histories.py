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


# 2026-07-28 (sessionless: session None on every record; FORMAT.md).
LISTEN_ALL = {"toolsListChanged": True, "promptsListChanged": True, "resourcesListChanged": True}


def listen_open(
    t: float, user: str, sub: int, node: str = "n1", notifications: dict[str, Any] | None = None
) -> list[Record]:
    """A listen stream opened and acknowledged (its first message)."""
    process, value = f"{user}/stream", {"notifications": notifications or LISTEN_ALL}
    ack = {
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": sub}},
    }
    return [
        r(t, "invoke", process, "listen_open", value, session=None),
        r(t + 0.01, "ok", process, "listen_open", {"subscription": sub}, session=None, node=node),
        r(t + 0.02, "ok", process, "message", ack, session=None, stream="listen", node=node),
    ]


def listen_break(t: float, user: str, sub: int, reason: str = "truncated") -> Record:
    kind = "ok" if reason in ("eof", "complete", "closed by client") else "fail"
    value = {"reason": reason, "subscription": sub}
    return r(t, kind, f"{user}/stream", "stream_break", value, session=None, stream="listen")


def relist(t: float, user: str, method: str = "tools/list") -> list[Record]:
    process = f"{user}/stream"
    return [
        r(t, "invoke", process, "relist", {"method": method}, session=None),
        r(t + 0.01, "ok", process, "relist", {"tools": []}, session=None, node="n2"),
    ]


def changed(
    t: float, user: str, nonce: str, kind: str = "tools", sent: float | None = None
) -> Record:
    meta = {"nonce": nonce, "sent_at": t - 0.001 if sent is None else sent}
    message = {
        "jsonrpc": "2.0",
        "method": f"notifications/{kind}/list_changed",
        "params": {"_meta": meta},
    }
    return r(t, "ok", f"{user}/stream", "message", message, session=None, stream="listen")


def updated(t: float, user: str, uri: str, sent: float) -> Record:
    params = {"uri": uri, "_meta": {"sent_at": sent}}
    message = {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": params}
    return r(t, "ok", f"{user}/stream", "message", message, session=None, stream="listen")


def call(
    t: float,
    user: str,
    tool: str,
    args: dict[str, Any],
    done: str = "ok",
    node: str = "n2",
    result: Any = None,
    **extra: Any,
) -> list[Record]:
    return [
        r(t, "invoke", user, f"call:{tool}", args, session=None),
        r(t + 0.1, done, user, f"call:{tool}", result, session=None, node=node, **extra),
    ]


def sample(
    t: float,
    user: str,
    nonce: str,
    nodes: tuple[str, ...] = ("n1", "n2"),
    done: str = "ok",
    answer: str | None = None,
    **extra: Any,
) -> list[Record]:
    """A sample call in MRTR rounds: input_required answered at nodes[:-1], done on nodes[-1]."""
    records = [r(t, "invoke", user, "call:sample", {"prompt": "p", "nonce": nonce}, session=None)]
    for index, node in enumerate(nodes[:-1], start=1):
        value = {
            "round": index,
            "id": index,
            "inputs": {"sample": "sampling/createMessage"},
            "state": True,
        }
        records.append(
            r(t + 0.01 * index, "ok", user, "input_required", value, session=None, node=node)
        )
    text = f"answer:{nonce if answer is None else answer}"
    result = {"text": text, "nonce": nonce} if done == "ok" else None
    extra = {"rounds": len(nodes), **extra} if done == "ok" else extra
    records.append(
        r(t + 0.1, done, user, "call:sample", result, session=None, node=nodes[-1], **extra)
    )
    return records


def replay(
    t: float, user: str, nonce: str, kind: str = "replay", done: str = "fail", **extra: Any
) -> list[Record]:
    if done == "fail" and not extra:
        extra = {"status": 400, "error": "-32602: requestState already used"}
    result = {"text": "answer:x"} if done == "ok" else None
    return [
        r(t, "invoke", user, "mrtr_replay", {"kind": kind, "nonce": nonce}, session=None),
        r(t + 0.05, done, user, "mrtr_replay", result, session=None, node="n3", **extra),
    ]
