"""broadcast: a broadcast reaches every session live in the cluster, not only the sender's (G5).

A session is live for a broadcast (or a resource touch) when its listening stream had been
opened before the call started and had not ended for good until ``settle`` seconds after the
call returned (a stream that broke and resumed with Last-Event-ID stays live: a resuming
client must get what it missed). Then:

- every ``call:broadcast`` that completed ``ok`` (nonce in its invoke) must have reached
  each live session as a ``notifications/*/list_changed`` whose ``params._meta.nonce`` is the
  broadcast's; a live session without it is ``missed``, with it twice ``duplicated`` (both
  fail: a resuming client must get what it missed once);
- every ``call:touch_resource`` that completed ``ok`` must have reached each live session
  subscribed to its uri (``subscribe`` ok before the touch) as a
  ``notifications/resources/updated`` for the uri whose ``_meta.sent_at`` lies within the call
  (``clock_skew`` of slack; touches carry no nonce, so two overlapping touches of one uri can
  share a message and this count is a lower bound): otherwise ``updates_missed`` (fails).

In memory mode each node only knows its own sessions, so only the sessions created on the
node that served the call are required there. ``under_addressed`` counts calls whose
``addressed`` was below the live sessions required (a hint, e.g. a node-local broadcast).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checkers._common import (
    INF,
    Interned,
    KeptRecords,
    Listening,
    add_example,
    nonce_in,
)
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "broadcast"
COUNTS = (
    "broadcasts",
    "required",
    "reached",
    "missed",
    "duplicated",
    "under_addressed",
    "touches",
    "updates_required",
    "updates_reached",
    "updates_missed",
)
SETTLE = 2.0
CLOCK_SKEW = 0.25
UPDATED = "notifications/resources/updated"


class _Receipts:
    """Which sessions received each broadcast nonce, as an array of session numbers per nonce
    (4 bytes a receipt): a soak's broadcasts each reach thousands of sessions, which a dict
    of sessions per nonce held at ten times the size."""

    def __init__(self) -> None:
        self.number: dict[Any, int] = {}  # session -> its place in ``sessions``
        self.sessions: list[Any] = []
        self.by_nonce: dict[str, array[int]] = {}

    def add(self, nonce: str, session: Any) -> None:
        number = self.number.get(session)
        if number is None:
            number = self.number[session] = len(self.sessions)
            self.sessions.append(session)
        self.by_nonce.setdefault(nonce, array("i")).append(number)

    def of(self, nonce: str) -> Counter[Any]:
        """How many times each session received ``nonce``, by session."""
        numbers = Counter(self.by_nonce.get(nonce, ()))
        return Counter({self.sessions[number]: times for number, times in numbers.items()})


class _Calls:
    """The completed calls of one tool (broadcasts, or touches), a column per field, each
    completion kept whole only as an example to be (KeptRecords): as records, a soak's tens of
    thousands of touches fragmented the heap and slowed the whole pass."""

    def __init__(self, about: str) -> None:
        self.about = about  # the invoke's value field that names what the call is about
        self.began, self.returned = array("d"), array("d")  # the invoke's and completion's time
        self.subject: list[Any] = []  # its value[about]: a broadcast's nonce, a touch's uri
        self.node: list[Any] = []  # that served it
        self.done = KeptRecords()  # the completions

    def add(self, invoke: Record, done: Record, interned: Interned) -> None:
        value = invoke.get("value")
        subject = value.get(self.about) if isinstance(value, dict) else None
        self.began.append(invoke["time"])
        self.returned.append(done["time"])
        node = done.get("node")
        self.subject.append(interned(subject) if isinstance(subject, str) else subject)
        self.node.append(interned(node) if isinstance(node, str) else node)
        self.done.add(done)

    def __len__(self) -> int:
        return len(self.subject)


@dataclass
class _State:
    listening: Listening = field(default_factory=Listening)
    home: dict[str, Any] = field(default_factory=dict)  # session -> node that created it
    calls: _Calls = field(default_factory=lambda: _Calls("nonce"))  # broadcasts
    touches: _Calls = field(default_factory=lambda: _Calls("uri"))
    got: _Receipts = field(default_factory=_Receipts)
    # (session, uri) -> sent_at of each update received
    updates: dict[tuple[Any, Any], array[float]] = field(default_factory=dict)
    # uri -> session -> when its subscribe returned; (session, uri) -> its unsubscribe
    subscribers: dict[Any, dict[Any, float]] = field(default_factory=dict)
    unsubscribed: dict[tuple[Any, Any], float] = field(default_factory=dict)
    interned: Interned = field(default_factory=Interned)  # session ids, uris, nodes: shared


def reads(ctx: CheckContext) -> Reads | None:
    """Messages, streams, sessions, and the calls it judges only
    (harness.history.fanout.Selective)."""
    calls = (ctx.tool_f("broadcast"), ctx.tool_f("touch"), "subscribe", "unsubscribe")
    wanted = frozenset(("message", "stream_open", "stream_break", "initialize", "reinit", *calls))
    return lambda f, kind: f in wanted


def check(
    history: Iterable[Record],
    ctx: CheckContext,
    *,
    settle: float = SETTLE,
    clock_skew: float = CLOCK_SKEW,
) -> CheckResult:
    tested = [a for a in ("broadcast", "touch") if a not in ctx.untested_actions]
    if not tested:
        return CheckResult(NAME, "unknown", "not tested (no tool for broadcast or touch)")
    broadcast_f, touch_f = ctx.tool_f("broadcast"), ctx.tool_f("touch")
    state = _State()
    pending: dict[str, Record] = {}
    for record in history:
        f = record["f"]
        if f == "message":
            _message(record, state)
        elif f == "stream_open":
            state.listening.feed_open(record)
        elif f == "stream_break":
            state.listening.feed_break(record)
        elif record["process"] in NOT_CLIENTS:
            continue
        elif f in (broadcast_f, touch_f, "subscribe", "unsubscribe"):
            if record["type"] == "invoke":
                pending[record["process"]] = record
                continue
            invoke = pending.pop(record["process"], None)
            if invoke is not None and record["type"] == "ok":
                _completed(f, invoke, record, state, broadcast_f, touch_f)
        elif f in ("initialize", "reinit") and record["type"] == "ok":
            session = record.get("session")
            if session:
                state.home[session] = record.get("node")
    return _tally(state, ctx.store == "memory", settle, clock_skew)


def _message(record: Record, state: _State) -> None:
    message = record.get("value")
    if not isinstance(message, dict):
        return
    method = message.get("method")
    if not isinstance(method, str):
        return
    if method.endswith("/list_changed"):
        nonce = nonce_in(message)
        if nonce is not None:
            state.got.add(nonce, record.get("session"))
    elif method == UPDATED:
        params = message.get("params") or {}
        meta = params.get("_meta") if isinstance(params, dict) else None
        sent = meta.get("sent_at") if isinstance(meta, dict) else None
        if isinstance(sent, int | float):
            key = (state.interned(record.get("session")), params.get("uri"))
            state.updates.setdefault(key, array("d")).append(sent)


def _completed(
    f: str, invoke: Record, done: Record, state: _State, broadcast_f: str, touch_f: str
) -> None:
    if f in (broadcast_f, touch_f):
        (state.calls if f == broadcast_f else state.touches).add(invoke, done, state.interned)
    else:
        value = invoke.get("value")
        uri = value.get("uri") if isinstance(value, dict) else None
        if f == "subscribe":
            state.subscribers.setdefault(uri, {}).setdefault(invoke.get("session"), done["time"])
        else:
            state.unsubscribed.setdefault((invoke.get("session"), uri), invoke["time"])


def _tally(state: _State, memory: bool, settle: float, clock_skew: float) -> CheckResult:
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    spans = sorted(
        (span.start, session, span.end)
        for session in state.listening.sessions()
        if (span := state.listening.span(session)) is not None
    )
    starts = [row[0] for row in spans]
    updates = {key: sorted(times) for key, times in state.updates.items()}
    calls, touches = state.calls, state.touches

    def live(call: int) -> list[str]:
        until, node = calls.returned[call] + settle, calls.node[call]
        return [
            session
            for _, session, end in spans[: bisect_left(starts, calls.began[call] + 1e-9)]
            if end >= until and (not memory or state.home.get(session) == node)
        ]

    for call in range(len(calls)):
        _one_broadcast(calls.subject[call], calls.done[call], live(call), state, counts, examples)
    ends = {session: (start, end) for start, session, end in spans}
    for touch in range(len(touches)):
        _one_touch(
            touches, touch, ends, updates, state, memory, settle, clock_skew, counts, examples
        )
    return _verdict(counts, examples)


def _addressed(done: Record) -> int | None:
    value = done.get("value")
    number = value.get("addressed") if isinstance(value, dict) else None
    return number if isinstance(number, int) else None


def _one_broadcast(
    nonce: Any,
    done: Record,
    live: list[str],
    state: _State,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    if not isinstance(nonce, str):
        return
    counts["broadcasts"] += 1
    got = state.got.of(nonce)
    duplicated = sum(times - 1 for times in got.values() if times > 1)
    counts["duplicated"] += duplicated
    if duplicated:
        add_example(examples, done, "received twice by a session", nonce=nonce)
    missed = [session for session in live if session not in got]
    counts["required"] += len(live)
    counts["reached"] += len(live) - len(missed)
    counts["missed"] += len(missed)
    addressed = _addressed(done)
    if addressed is not None and addressed < len(live):
        counts["under_addressed"] += 1
    if missed:
        add_example(
            examples, done, nonce=nonce, missed=missed[:5], live=len(live), why="missed sessions"
        )


def _one_touch(
    touches: _Calls,
    touch: int,
    spans: dict[str, tuple[float, float]],
    updates: dict[tuple[Any, Any], list[float]],
    state: _State,
    memory: bool,
    settle: float,
    clock_skew: float,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    uri, node = touches.subject[touch], touches.node[touch]
    counts["touches"] += 1
    began, returned = touches.began[touch], touches.returned[touch]
    required = []
    for session, subscribed_at in state.subscribers.get(uri, {}).items():
        start, end = spans.get(session, (INF, INF))
        if (
            subscribed_at <= began
            and start <= began
            and end >= returned + settle
            and state.unsubscribed.get((session, uri), INF) > returned
            and (not memory or state.home.get(session) == node)
        ):
            required.append(session)
    begin, until = began - clock_skew, returned + clock_skew
    missed = []
    for session in required:
        times = updates.get((session, uri), [])
        at = bisect_left(times, begin)
        if at == len(times) or times[at] > until:
            missed.append(session)
    counts["updates_required"] += len(required)
    counts["updates_reached"] += len(required) - len(missed)
    counts["updates_missed"] += len(missed)
    if missed:
        done = touches.done[touch]
        add_example(examples, done, uri=uri, missed=missed[:5], why="subscribers not updated")


def _verdict(counts: dict[str, float], examples: list[dict[str, Any]]) -> CheckResult:
    required, updates = int(counts["required"]), int(counts["updates_required"])
    missed, updates_missed = int(counts["missed"]), int(counts["updates_missed"])
    if required == 0 and updates == 0:
        summary = "no broadcast or touch had a live session to reach"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    parts = []
    if missed:
        parts.append(f"{missed} of {required} broadcast deliveries missed")
    if updates_missed:
        parts.append(f"{updates_missed} of {updates} resource updates missed")
    if counts["duplicated"]:
        parts.append(f"{int(counts['duplicated'])} broadcasts received twice by a session")
    if parts:
        return CheckResult(NAME, False, "; ".join(parts), counts, examples)
    parts = []
    if required:
        parts.append(f"{int(counts['broadcasts'])} broadcasts reached all {required} live sessions")
    if updates:
        parts.append(f"{int(counts['touches'])} touches reached all {updates} live subscribers")
    summary = ", ".join(parts)
    return CheckResult(NAME, True, summary, counts, examples)
