"""listen: a change emitted on any node reaches every matching open listen stream (G9,
2026-07-28), or the stream broke and its client listed again.

The revision replays nothing: a listen stream that drops loses what was emitted meanwhile,
and its client must reopen and re-list (``relist``). So for every change a ``call:broadcast``
or ``call:touch_resource`` emitted (the call completed ``ok``), each listen stream whose filter
matches it and that was open when the call started is required to receive it, and it is:

- ``delivered``: received on that user's listen streams (a broadcast by its nonce; a touch, which
  carries no nonce, as a ``notifications/resources/updated`` for the uri whose
  ``_meta.sent_at`` lies within the call, ``clock_skew`` of slack: a lower bound of losses);
- ``excused``: not received, the stream broke after the call started and before the change
  was due (``settle`` after the call returned), and a ``relist`` succeeded after the break:
  the drop the revision allows;
- ``censored``: not received, and the client itself closed the stream (the run's end), or the
  history ended before the change was due or before a re-list could follow the break
  (``relist_grace``);
- ``lost`` otherwise (fails): the stream stayed open and the change never came, or it broke
  and no re-list followed.

A stream is open from its ``notifications/subscriptions/acknowledged`` (the server listens
from then on) until its ``stream_break``. The same broadcast twice on one stream is
``duplicated`` (fails). In memory mode a node's bus is its own: only streams on the node
that served the call are required there.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checkers._common import CLIENT_CLOSED, INF, add_example, ms, percentile
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "listen"
COUNTS = (
    "streams",
    "breaks",
    "relists",
    "changes",
    "required",
    "delivered",
    "lost",
    "excused",
    "censored",
    "duplicated",
    "unattributed",
    "latency_p50_ms",
    "latency_p99_ms",
)
SETTLE = 2.0
CLOCK_SKEW = 0.25
RELIST_GRACE = 10.0
MIN_REQUIRED = 10
UPDATED = "notifications/resources/updated"
# The filter field that opts in to each list_changed notification.
LIST_FIELDS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}


@dataclass
class _Stream:
    """One listen stream: opened by a ``listen_open``, ended by its ``stream_break``."""

    process: str
    subscription: Any
    node: Any
    notifications: dict[str, Any]
    acked: float | None = None
    ended: float = INF
    reason: str | None = None

    def wants(self, change: _Change) -> bool:
        if change.uri is not None:
            uris = self.notifications.get("resourceSubscriptions")
            return isinstance(uris, list) and change.uri in uris
        return self.notifications.get(LIST_FIELDS.get(change.method, "")) is True


@dataclass(frozen=True)
class _Change:
    begin: float  # the emitting call's invoke
    end: float  # its completion
    node: Any
    method: str
    nonce: str | None = None  # broadcasts
    uri: str | None = None  # touches


@dataclass
class _State:
    streams: list[_Stream] = field(default_factory=list)
    current: dict[str, _Stream] = field(default_factory=dict)  # process -> its open stream
    filters: dict[str, dict[str, Any]] = field(default_factory=dict)  # listen_open invokes
    relists: dict[str, list[float]] = field(default_factory=dict)  # process -> ok times
    changes: list[_Change] = field(default_factory=list)
    # (process, nonce) -> {subscription: times}: broadcasts received
    got: dict[tuple[str, str], dict[Any, int]] = field(default_factory=dict)
    updates: dict[tuple[str, Any], list[float]] = field(default_factory=dict)  # sent_at times
    delays: list[float] = field(default_factory=list)
    last_time: float = -INF


def reads(ctx: CheckContext) -> Reads | None:
    """Every record (not narrowed yet for harness.history.fanout.Selective)."""
    return None


def check(
    history: Iterable[Record],
    ctx: CheckContext,
    *,
    settle: float = SETTLE,
    clock_skew: float = CLOCK_SKEW,
    relist_grace: float = RELIST_GRACE,
    min_required: int = MIN_REQUIRED,
) -> CheckResult:
    if "broadcast" in ctx.untested_actions and "touch" in ctx.untested_actions:
        return CheckResult(NAME, "unknown", "not tested (no tool for broadcast or touch)")
    broadcast_f, touch_f = ctx.tool_f("broadcast"), ctx.tool_f("touch")
    state = _State()
    pending: dict[str, Record] = {}
    for record in history:
        state.last_time = max(state.last_time, record["time"])
        f, process = record["f"], record["process"]
        if process in NOT_CLIENTS:
            continue
        if f == "message":
            if record.get("stream") == "listen":
                _message(record, state)
        elif f == "listen_open":
            _open(record, state)
        elif f == "stream_break":
            stream = state.current.pop(process, None)
            if stream is not None and record.get("stream") == "listen":
                value = record.get("value")
                stream.ended = record["time"]
                stream.reason = value.get("reason") if isinstance(value, dict) else None
        elif f == "relist":
            if record["type"] == "ok":
                state.relists.setdefault(process, []).append(record["time"])
        elif f in (broadcast_f, touch_f):
            if record["type"] == "invoke":
                pending[process] = record
            else:
                invoke = pending.pop(process, None)
                if invoke is not None and record["type"] == "ok":
                    _emitted(invoke, record, f == broadcast_f, state)
    return _tally(state, ctx.store == "memory", settle, clock_skew, relist_grace, min_required)


def _open(record: Record, state: _State) -> None:
    process = record["process"]
    value = record.get("value")
    if record["type"] == "invoke":
        wanted = value.get("notifications") if isinstance(value, dict) else None
        state.filters[process] = wanted if isinstance(wanted, dict) else {}
        return
    wanted = state.filters.pop(process, {})
    if record["type"] != "ok":
        return
    subscription = value.get("subscription") if isinstance(value, dict) else None
    stream = _Stream(process, subscription, record.get("node"), wanted)
    state.streams.append(stream)
    state.current[process] = stream


def _message(record: Record, state: _State) -> None:
    message = record.get("value")
    stream = state.current.get(record["process"])
    if not isinstance(message, dict) or stream is None:
        return
    method = message.get("method")
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    if stream.acked is None:
        # The server listens from its acknowledgement (the stream's first message) on.
        stream.acked = record["time"]
    sent = meta.get("sent_at")
    if method in LIST_FIELDS:
        nonce = meta.get("nonce")
        if isinstance(nonce, str):
            per_stream = state.got.setdefault((stream.process, nonce), {})
            per_stream[stream.subscription] = per_stream.get(stream.subscription, 0) + 1
        if isinstance(sent, int | float):
            state.delays.append(record["time"] - float(sent))
    elif method == UPDATED and isinstance(sent, int | float) and isinstance(params, dict):
        state.updates.setdefault((stream.process, params.get("uri")), []).append(float(sent))


def _emitted(invoke: Record, done: Record, broadcast: bool, state: _State) -> None:
    value = invoke.get("value")
    value = value if isinstance(value, dict) else {}
    begin, end, node = invoke["time"], done["time"], done.get("node")
    if broadcast:
        nonce, kind = value.get("nonce"), value.get("kind")
        method = f"notifications/{kind}/list_changed"
        if isinstance(nonce, str) and method in LIST_FIELDS:
            state.changes.append(_Change(begin, end, node, method, nonce=nonce))
    elif isinstance(value.get("uri"), str):
        state.changes.append(_Change(begin, end, node, UPDATED, uri=value["uri"]))


def _tally(
    state: _State,
    memory: bool,
    settle: float,
    clock_skew: float,
    relist_grace: float,
    min_required: int,
) -> CheckResult:
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    opened = sorted((s for s in state.streams if s.acked is not None), key=lambda s: s.acked or 0)
    starts = [s.acked or 0.0 for s in opened]
    counts["streams"] = len(opened)
    counts["breaks"] = sum(1 for s in opened if s.ended < INF and s.reason != CLIENT_CLOSED)
    counts["relists"] = sum(len(times) for times in state.relists.values())
    for times in state.updates.values():
        times.sort()
    nonces = {c.nonce: c for c in state.changes if c.nonce is not None}
    _duplicates(nonces, state, counts, examples)
    for change in state.changes:
        counts["changes"] += 1
        due = change.end + settle
        for stream in opened[: bisect_right(starts, change.begin)]:
            if stream.ended <= change.begin or not stream.wants(change):
                continue
            if memory and stream.node != change.node:
                continue
            counts["required"] += 1
            outcome = _outcome(change, stream, due, state, clock_skew, relist_grace)
            counts[outcome] += 1
            if outcome == "lost":
                why = "never received on an open stream"
                if stream.ended < due:
                    why = "the stream broke and no re-list followed"
                add_example(
                    examples,
                    {"time": change.end, "process": stream.process, "node": change.node},
                    why,
                    method=change.method,
                    nonce=change.nonce,
                    uri=change.uri,
                    subscription=stream.subscription,
                    stream_node=stream.node,
                )
    counts["unattributed"] = sum(1 for (_, nonce) in state.got if nonce not in nonces)
    counts["latency_p50_ms"] = ms(percentile(state.delays, 50))
    counts["latency_p99_ms"] = ms(percentile(state.delays, 99))
    return _verdict(counts, examples, min_required)


def _outcome(
    change: _Change,
    stream: _Stream,
    due: float,
    state: _State,
    clock_skew: float,
    relist_grace: float,
) -> str:
    if _received(change, stream, state, clock_skew):
        return "delivered"
    if stream.ended >= due:
        # Open for the whole time the change was due: only the history's end excuses it.
        return "censored" if state.last_time < due else "lost"
    if stream.reason == CLIENT_CLOSED:
        return "censored"
    relists = state.relists.get(stream.process, [])
    if bisect_right(relists, stream.ended) < len(relists):
        return "excused"
    if state.last_time < stream.ended + relist_grace:
        return "censored"
    return "lost"


def _received(change: _Change, stream: _Stream, state: _State, clock_skew: float) -> bool:
    if change.nonce is not None:
        return bool(state.got.get((stream.process, change.nonce)))
    times = state.updates.get((stream.process, change.uri), [])
    at = bisect_left(times, change.begin - clock_skew)
    return at < len(times) and times[at] <= change.end + clock_skew


def _duplicates(
    nonces: dict[str, _Change],
    state: _State,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    for (process, nonce), per_stream in state.got.items():
        change = nonces.get(nonce) if isinstance(nonce, str) else None
        extra = sum(times - 1 for times in per_stream.values() if times > 1)
        if change is not None and extra:
            counts["duplicated"] += extra
            add_example(
                examples,
                {"time": change.end, "process": process, "node": change.node},
                "received twice on one listen stream",
                nonce=nonce,
            )


def _verdict(
    counts: dict[str, float], examples: list[dict[str, Any]], min_required: int
) -> CheckResult:
    if counts["streams"] == 0:
        summary = "no listen stream was open (none acknowledged): nothing to judge"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    required, lost = int(counts["required"]), int(counts["lost"])
    duplicated, excused = int(counts["duplicated"]), int(counts["excused"])
    wrong = []
    if lost:
        wrong.append(f"{lost} of {required} changes lost on open listen streams")
    if duplicated:
        wrong.append(f"{duplicated} changes received twice on one stream")
    if wrong:
        return CheckResult(NAME, False, "; ".join(wrong), counts, examples)
    if required < min_required:
        summary = f"only {required} changes were due on an open listen stream (< {min_required})"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    summary = f"{int(counts['delivered'])} of {required} changes reached their open listen streams"
    if excused:
        summary += f", {excused} dropped by a break that was followed by a re-list"
    return CheckResult(NAME, True, summary, counts, examples)
