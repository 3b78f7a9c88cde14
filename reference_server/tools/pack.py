"""The tools the mcp-scale scenarios drive. Nonces in arguments make every answer attributable
to the call that caused it, so checkers can tell lost, duplicated and crossed messages apart."""

from __future__ import annotations

import asyncio
import time

from reference_server.defects import Defect
from reference_server.protocol import (
    INVALID_PARAMS,
    LOG_LEVELS,
    JsonDict,
    RpcError,
    log_level_allows,
    notification,
)
from reference_server.subscriptions.base import Change
from reference_server.tools.base import (
    Catalog,
    Tool,
    ToolContext,
    gather_input,
    optional,
    require,
    text_result,
)

# Bounds on what one call may ask for, so that no argument makes a node loop for long.
MAX_NOTIFY = 10_000
MAX_SLEEP_MS = 120_000
BROADCAST_KINDS = ("tools", "resources", "prompts")


def _schema(properties: JsonDict, required: list[str]) -> JsonDict:
    return {"type": "object", "properties": properties, "required": required}


def _session_id(ctx: ToolContext) -> str:
    if ctx.session is None:
        raise RpcError(INVALID_PARAMS, "this tool needs a session (initialize with SSE accepted)")
    return ctx.session.session_id


async def echo(args: JsonDict, ctx: ToolContext) -> JsonDict:
    return text_result(require(args, "text", str))


async def whoami(args: JsonDict, ctx: ToolContext) -> JsonDict:
    who = {"node": ctx.node_id, "session": ctx.session.session_id if ctx.session else None}
    return text_result(f"{who['node']} {who['session']}", who)


async def slow(args: JsonDict, ctx: ToolContext) -> JsonDict:
    ms = max(0, min(require(args, "ms", (int, float)), MAX_SLEEP_MS))
    await asyncio.sleep(ms / 1000)
    return text_result(f"slept {ms} ms", {"slept_ms": ms})


# The node's work slots, by pool size: calls of ``work`` that name the same ``slots`` share
# one pool (one per process, so one per node).
_WORK_POOLS: dict[int, asyncio.Semaphore] = {}
_working: dict[int, int] = {}
MAX_SLOTS = 1_000


async def work(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """A server of fixed capacity (``slots`` calls at once, ``ms`` each: slots / ms calls a
    second) whose calls queue beyond it: a capacity search finds its knee where it is."""
    ms = max(0, min(require(args, "ms", (int, float)), MAX_SLEEP_MS))
    slots = require(args, "slots", int)
    if not 1 <= slots <= MAX_SLOTS:
        raise RpcError(INVALID_PARAMS, f"slots must be between 1 and {MAX_SLOTS}")
    pool = _WORK_POOLS.setdefault(slots, asyncio.Semaphore(slots))
    async with pool:
        _working[slots] = busy = _working.get(slots, 0) + 1
        try:
            await asyncio.sleep(ms / 1000)
        finally:
            _working[slots] -= 1
    return text_result(f"worked {ms} ms", {"worked_ms": ms, "busy": busy})


def _paced(args: JsonDict, name: str) -> tuple[int, float]:
    """A count (at most MAX_NOTIFY) and the pause after each, in seconds; all the pauses of a
    call together are bounded like one slow call (else count x interval could run for days)."""
    count = min(require(args, name, int), MAX_NOTIFY)
    interval_ms = min(optional(args, "interval_ms", (int, float), 0), MAX_SLEEP_MS)
    if max(count, 0) * max(interval_ms, 0) > MAX_SLEEP_MS:
        raise RpcError(INVALID_PARAMS, f"{name} x interval_ms must be at most {MAX_SLEEP_MS}")
    return count, interval_ms / 1000


async def notify(args: JsonDict, ctx: ToolContext) -> JsonDict:
    session_id = _session_id(ctx)
    count, interval = _paced(args, "count")
    nonce = require(args, "nonce", str)
    for seq in range(1, count + 1):
        data = {"nonce": nonce, "seq": seq, "sent_at": time.time()}
        params = {"level": "info", "logger": "notify", "data": data}
        await ctx.streams.deliver(session_id, notification("notifications/message", params))
        if interval and seq < count:
            await asyncio.sleep(interval)
    return text_result(f"emitted {count}", {"emitted": count})


async def _addressed_sessions(ctx: ToolContext, sessions: list[str]) -> list[str]:
    if Defect.LOCAL_BROADCAST in ctx.defects:
        local = set(ctx.streams.local_sessions())
        return [sid for sid in sessions if sid in local]
    return sessions


async def broadcast(args: JsonDict, ctx: ToolContext) -> JsonDict:
    kind = require(args, "kind", str)
    if kind not in BROADCAST_KINDS:
        raise RpcError(INVALID_PARAMS, f"kind must be one of {', '.join(BROADCAST_KINDS)}")
    nonce = require(args, "nonce", str)
    sessions = await _addressed_sessions(ctx, await ctx.store.live_sessions())
    meta = {"nonce": nonce, "sent_at": time.time()}
    message = notification(f"notifications/{kind}/list_changed", {"_meta": meta})
    addressed = await ctx.streams.deliver_many(sessions, message)
    if ctx.bus is not None:
        await ctx.bus.publish(Change.list_changed(kind, meta))
    return text_result(f"addressed {addressed}", {"addressed": addressed})


async def touch_resource(args: JsonDict, ctx: ToolContext) -> JsonDict:
    uri = require(args, "uri", str)
    sessions = await _addressed_sessions(ctx, await ctx.store.subscribers(uri))
    meta = {"sent_at": time.time()}
    message = notification("notifications/resources/updated", {"uri": uri, "_meta": meta})
    addressed = await ctx.streams.deliver_many(sessions, message)
    if ctx.bus is not None:
        await ctx.bus.publish(Change.resource_updated(uri, meta))
    return text_result(f"addressed {addressed}", {"addressed": addressed})


async def sample(args: JsonDict, ctx: ToolContext) -> JsonDict:
    """Asks the client for a sampling: a server->client request in a 2025 session, an
    input_required round in 2026-07-28 (whose requestState must come back, once, to any node)."""
    prompt = require(args, "prompt", str)
    nonce = require(args, "nonce", str)
    if ctx.input_round is None:
        _session_id(ctx)
        if "sampling" not in (ctx.capabilities or {}):
            return text_result("the client did not declare the sampling capability", is_error=True)
    params = {
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": 64,
        "metadata": {"nonce": nonce},
        "_meta": {"nonce": nonce},
    }
    request = {"sample": {"method": "sampling/createMessage", "params": params}}
    issued = {"nonce": nonce, "issued_by": ctx.node_id}
    answer = (await gather_input(ctx, request, issued, needs_state=True))["sample"]
    content = answer.get("content")
    text = content.get("text", "") if isinstance(content, dict) else ""
    structured: JsonDict = {"text": text, "nonce": nonce}
    if ctx.input_round is not None and ctx.input_round.state is not None:
        # Which node asked and which one finished: a cluster's MRTR rounds are checked on this.
        issued_by = ctx.input_round.state.get("issued_by")
        structured.update(issued_by=issued_by, answered_by=ctx.node_id)
    return text_result(text, structured)


async def progress(args: JsonDict, ctx: ToolContext) -> JsonDict:
    steps, interval = _paced(args, "steps")
    for step in range(1, steps + 1):
        if ctx.progress_token is not None:
            params = {"progressToken": ctx.progress_token, "progress": step, "total": steps}
            await ctx.send_related(notification("notifications/progress", params))
        if interval:
            await asyncio.sleep(interval)
    return text_result(f"{steps} steps", {"steps": steps})


async def log(args: JsonDict, ctx: ToolContext) -> JsonDict:
    level = require(args, "level", str)
    if level not in LOG_LEVELS:
        raise RpcError(INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}")
    message = require(args, "message", str)
    session_level = ctx.log_level
    sent = session_level is not None and log_level_allows(level, session_level)
    if sent:
        params = {"level": level, "logger": "log", "data": message}
        await ctx.send_related(notification("notifications/message", params))
    return text_result("sent" if sent else "filtered", {"sent": sent, "level": session_level})


def register(catalog: Catalog) -> None:
    string, integer = {"type": "string"}, {"type": "integer", "minimum": 0}
    tools = [
        Tool("echo", "Returns its text.", _schema({"text": string}, ["text"]), echo),
        Tool("whoami", "Names the node and session that served the call.", _schema({}, []), whoami),
        Tool("slow", "Sleeps for ms milliseconds.", _schema({"ms": integer}, ["ms"]), slow),
        Tool(
            "work",
            "Holds one of the node's slots work slots for ms milliseconds; calls queue for one.",
            _schema({"ms": integer, "slots": {"type": "integer", "minimum": 1}}, ["ms", "slots"]),
            work,
        ),
        Tool(
            "notify",
            "Sends count notifications/message on the caller's listening stream.",
            _schema(
                {"count": integer, "interval_ms": integer, "nonce": string}, ["count", "nonce"]
            ),
            notify,
        ),
        Tool(
            "broadcast",
            "Sends a list_changed notification to every live session of the cluster.",
            _schema({"kind": {"enum": list(BROADCAST_KINDS)}, "nonce": string}, ["kind", "nonce"]),
            broadcast,
        ),
        Tool(
            "sample",
            "Asks the client for a sampling/createMessage and returns its answer.",
            _schema({"prompt": string, "nonce": string}, ["prompt", "nonce"]),
            sample,
            streams=True,
        ),
        Tool(
            "progress",
            "Sends progress notifications for the call's progressToken.",
            _schema({"steps": integer, "interval_ms": integer}, ["steps"]),
            progress,
            streams=True,
        ),
        Tool(
            "log",
            "Sends a notifications/message if level passes the session's log level.",
            _schema({"level": {"enum": list(LOG_LEVELS)}, "message": string}, ["level", "message"]),
            log,
            streams=True,
        ),
        Tool(
            "touch_resource",
            "Sends notifications/resources/updated to every session subscribed to uri.",
            _schema({"uri": string}, ["uri"]),
            touch_resource,
        ),
    ]
    for tool in tools:
        catalog.add_tool(tool)
