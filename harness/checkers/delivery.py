"""delivery: every message a notify emitted reached its session once, in time (G2, G3).

A ``call:notify`` that completed ``ok`` emitted ``value.emitted`` messages (else the invoke's
``count``), numbered ``seq`` 1..n under the invoke's ``nonce``. A message is identified by
(nonce, seq): the server's resume replays only what came after Last-Event-ID, so the same
(nonce, seq) received twice on the session is a real duplicate, whatever its event ids.

Each emitted message is, on the notify's session:

- ``delivered`` once (``late`` as well when it arrived more than ``late_after`` seconds after
  its ``sent_at``; lateness is reported for the gates, it does not fail the check);
- ``duplicated`` when received more than once (fails);
- ``unlistened`` when not received and the session had no listening stream open before the
  notify started: nothing obliges a server to keep messages for a stream never opened;
- ``censored`` when the client itself closed the session's stream for good before the
  message was due (``late_after`` after the notify returned), or the history ended first
  (unless the session was already gone);
- ``lost`` otherwise (fails). In memory mode, losses on a session that was itself lost (a
  404 or a ``reinit`` naming it) are ``lost_expected`` (G7).

``due`` = ``delivered`` + ``lost`` (``lost_expected`` is part of ``lost``), and ``emitted`` =
``due`` + ``unlistened`` + ``censored``. Messages received on another session are the
isolation checker's business. A notify that ``fail``ed but whose messages arrived counts as
``delivered_after_fail`` (a ``fail`` must mean it did not happen). Unknown when fewer than
``min_messages`` messages were due.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checkers._common import Listening, Span, add_example, ms, percentile
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import DeliveryTable, NotifyRow
from harness.history import NOT_CLIENTS, Record

NAME = "delivery"
ACTION = "notify"
COUNTS = (
    "notifies",
    "emitted",
    "due",
    "delivered",
    "lost",
    "lost_expected",
    "duplicated",
    "late",
    "unlistened",
    "censored",
    "unattributed",
    "delivered_after_fail",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
)
LATE_AFTER = 5.0
MIN_MESSAGES = 10
NOTIFY_METHOD = "notifications/message"


@dataclass(slots=True)
class _Notify:
    invoke: Record
    done: Record | None = None  # None while in flight (or never completed)
    # seq -> [(receive time, sent_at, session, record)]; the record is kept only where it may
    # be an example (a duplicate, a late first copy), so a soak's messages are not all held
    received: dict[int, list[_Entry]] = field(default_factory=dict)


_Entry = tuple[float, float, Any, Record | None]


def check(
    history: Iterable[Record],
    ctx: CheckContext,
    *,
    late_after: float = LATE_AFTER,
    min_messages: int = MIN_MESSAGES,
) -> CheckResult:
    if ACTION in ctx.untested_actions:
        return CheckResult(NAME, "unknown", "not tested (no tool for notify)")
    tool_f = ctx.tool_f(ACTION)
    notifies: dict[str, _Notify] = {}
    pending: dict[str, _Notify] = {}
    unattributed = [0]
    listening = Listening()
    gone: dict[str, float] = {}  # sessions known lost: when
    end = 0.0
    for record in history:
        f, time = record["f"], record["time"]
        end = time if time > end else end
        if f == "message":
            _message(record, notifies, unattributed, late_after)
        elif f == tool_f:
            if record["type"] == "invoke":
                nonce = _nonce(record)
                if nonce is not None:
                    pending[record["process"]] = notifies[nonce] = _Notify(record)
            else:
                notify = pending.pop(record["process"], None)
                if notify is not None:
                    notify.done = record
            _gone(record, gone)
        elif f == "stream_open":
            listening.feed_open(record)
            _gone(record, gone)
        elif f == "stream_break":
            listening.feed_break(record)
        elif record["process"] not in NOT_CLIENTS:
            _gone(record, gone)
    counts = _tally(notifies, listening, gone, end, ctx, late_after)
    counts.counts["unattributed"] = float(unattributed[0])
    table = DeliveryTable(counts.rows)
    return _verdict(counts.counts, counts.examples, table, min_messages, late_after)


def _nonce(invoke: Record | None) -> str | None:
    value = invoke.get("value") if invoke is not None else None
    nonce = value.get("nonce") if isinstance(value, dict) else None
    return nonce if isinstance(nonce, str) else None


def _message(
    record: Record, notifies: dict[str, _Notify], unattributed: list[int], late_after: float
) -> None:
    message = record.get("value")
    if not isinstance(message, dict) or message.get("method") != NOTIFY_METHOD:
        return
    data = (message.get("params") or {}).get("data")
    if not isinstance(data, dict):
        return
    nonce, seq = data.get("nonce"), data.get("seq")
    if not isinstance(nonce, str) or not isinstance(seq, int):
        return
    notify = notifies.get(nonce)
    if notify is None:  # no notify invoke carried this nonce
        unattributed[0] += 1
        return
    sent = data.get("sent_at")
    sent_at = float(sent) if isinstance(sent, int | float) else record["time"]
    session = record.get("session")
    received = notify.received.setdefault(seq, [])
    # _one_notify's examples: the second copy on the notify's session, or a late first one
    if session == notify.invoke.get("session"):
        copies = sum(1 for entry in received if entry[2] == session)
        late = record["time"] - sent_at > late_after
        kept = record if copies == 1 or (copies == 0 and late) else None
    else:
        kept = None
    received.append((record["time"], sent_at, session, kept))


def _gone(record: Record, gone: dict[str, float]) -> None:
    """Notes sessions the server no longer knows: a 404 for it, or a reinit replacing it."""
    if record.get("status") == 404:
        session = record.get("session")
        if session:
            gone.setdefault(session, record["time"])
    elif record["f"] == "reinit" and record["type"] == "invoke":
        old = (record.get("value") or {}).get("old_session")
        if isinstance(old, str):
            gone.setdefault(old, record["time"])


@dataclass
class _Tally:
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0.0))
    examples: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lost_nonces: set[str] = field(default_factory=set)
    rows: list[NotifyRow] = field(default_factory=list)

    def bump(self, name: str, by: float = 1.0) -> None:
        self.counts[name] += by


def _tally(
    notifies: dict[str, _Notify],
    listening: Listening,
    gone: dict[str, float],
    end: float,
    ctx: CheckContext,
    late_after: float,
) -> _Tally:
    tally = _Tally()
    memory = ctx.store == "memory"
    for nonce, notify in notifies.items():
        if notify.done is not None:
            _one_notify(nonce, notify, notify.done, listening, gone, end, memory, late_after, tally)
    counts = tally.counts
    counts["latency_p50_ms"] = ms(percentile(tally.latencies, 50))
    counts["latency_p99_ms"] = ms(percentile(tally.latencies, 99))
    counts["latency_max_ms"] = ms(max(tally.latencies, default=float("nan")))
    return tally


def _one_notify(
    nonce: str,
    notify: _Notify,
    done: Record,
    listening: Listening,
    gone: dict[str, float],
    end: float,
    memory: bool,
    late_after: float,
    tally: _Tally,
) -> None:
    invoke = notify.invoke
    session = invoke.get("session")
    mine = {
        seq: [e for e in entries if e[2] == session] for seq, entries in notify.received.items()
    }
    tally.bump("notifies")
    for seq, entries in mine.items():
        if len(entries) > 1:
            tally.bump("duplicated", len(entries) - 1)
            add_example(tally.examples, _kept(entries[1]), nonce=nonce, seq=seq, why="duplicate")
    if done["type"] != "ok":
        if done["type"] == "fail" and any(mine.values()):
            tally.bump("delivered_after_fail")
            add_example(tally.examples, done, nonce=nonce, why="failed, yet delivered")
        return
    emitted = _emitted(invoke, done)
    tally.bump("emitted", emitted)
    span = listening.span(session)
    listened = span is not None and span.start <= invoke["time"]
    due = done["time"] + late_after
    delivered_before, lost_before = tally.counts["delivered"], tally.counts["lost"]
    for seq in range(1, emitted + 1):
        received = mine.get(seq)
        if received:
            _delivered(received[0], late_after, tally)
            tally.bump("due")
        elif span is None or not listened:
            tally.bump("unlistened")
        elif _censored(span, due, end, session in gone):
            tally.bump("censored")
        else:
            tally.bump("due")
            _lost(nonce, seq, session, done, gone, memory, tally)
    delivered = int(tally.counts["delivered"] - delivered_before)
    lost = int(tally.counts["lost"] - lost_before)
    tally.rows.append(NotifyRow(done["time"], session, emitted, delivered, lost))


def _emitted(invoke: Record, done: Record) -> int:
    for value, key in ((done.get("value"), "emitted"), (invoke.get("value"), "count")):
        number = value.get(key) if isinstance(value, dict) else None
        if isinstance(number, int):
            return number
    return 0


def _kept(entry: _Entry) -> Record | dict[str, Any]:
    """The record _message kept for an example (it keeps every one an example needs)."""
    return entry[3] if entry[3] is not None else {"time": entry[0], "session": entry[2]}


def _delivered(entry: _Entry, late_after: float, tally: _Tally) -> None:
    tally.bump("delivered")
    delay = entry[0] - entry[1]
    tally.latencies.append(delay)
    if delay > late_after:
        tally.bump("late")
        add_example(tally.examples, _kept(entry), delay=round(delay, 3), why="late")


def _censored(span: Span, due: float, end: float, gone: bool) -> bool:
    """The client stopped listening before the message was due, or the history stopped then
    (unless the session was gone: then the message can never arrive)."""
    if span.end < due and span.client_closed():
        return True
    return end < due and not gone


def _lost(
    nonce: str,
    seq: int,
    session: Any,
    done: Record,
    gone: dict[str, float],
    memory: bool,
    tally: _Tally,
) -> None:
    tally.bump("lost")
    expected = memory and session in gone
    if expected:
        tally.bump("lost_expected")
    if nonce not in tally.lost_nonces and (not expected or len(tally.examples) < 2):
        tally.lost_nonces.add(nonce)
        why = "lost with its session (memory mode: expected)" if expected else "lost"
        add_example(tally.examples, done, nonce=nonce, first_missing_seq=seq, why=why)


def _verdict(
    counts: dict[str, float],
    examples: list[dict[str, Any]],
    table: DeliveryTable,
    min_messages: int,
    late_after: float,
) -> CheckResult:
    due, lost = int(counts["due"]), int(counts["lost"])
    unexpected = lost - int(counts["lost_expected"])
    dups, after_fail = int(counts["duplicated"]), int(counts["delivered_after_fail"])
    late = int(counts["late"])
    late_text = f", {late} later than {late_after:g}s" if late else ""
    if unexpected or dups:
        parts = [f"{unexpected} lost" if unexpected else "", f"{dups} duplicated" if dups else ""]
        summary = " and ".join(p for p in parts if p) + f" of {due} messages due" + late_text
        return CheckResult(NAME, False, summary, counts, examples, table=table)
    if lost:
        summary = f"{lost} of {due} messages lost with their sessions: expected in memory mode"
        return CheckResult(
            NAME, False, summary + late_text, counts, examples, expected=True, table=table
        )
    if due < min_messages:
        summary = (
            f"only {due} messages were due (fewer than {min_messages}): cannot decide"
            if counts["notifies"]
            else "no notify call: nothing to decide"
        )
        return CheckResult(NAME, "unknown", summary, counts, examples, table=table)
    summary = f"all {due} messages due were delivered once" + late_text
    if after_fail:
        summary += f"; {after_fail} failed notifies were delivered anyway"
    return CheckResult(NAME, True, summary, counts, examples, table=table)
