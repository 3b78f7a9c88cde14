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

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.checkers._common import Interned, Listening, Span, add_example, ms, percentile
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import DeliveryTable
from harness.history import NOT_CLIENTS, Record
from harness.history.fanout import Reads

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


@dataclass(frozen=True, slots=True)
class _Notify:
    """One notify invoke and its completion, as the tally reads it (_Notifies.done_one)."""

    time: float  # of the invoke
    session: Any
    count: Any  # the invoke's value.count
    done: str  # the completion's type
    done_time: float
    emitted: Any  # the completion's value.emitted
    # The completion record, kept only while it may become an example: a fail, or an ok
    # whose messages had not all arrived on its session (so some may be lost).
    record: Record | None


class _Notifies:
    """Every notify invoke and its completion, a column per field, by its serial (its place
    among the invokes): tens of bytes a notify, where an object each held twice as much of
    a soak's million notifies."""

    def __init__(self) -> None:
        self.serial: dict[str, int] = {}  # by nonce; a nonce used again names the later one
        self.time, self.done_time = array("d"), array("d")
        # shared objects: interned session ids and types, small ints
        self.session: list[Any] = []
        self.count: list[Any] = []  # the invoke's value.count
        self.done: list[str | None] = []  # the completion's type; None while in flight
        self.emitted: list[Any] = []  # the completion's value.emitted
        self.seen = array("Q")  # bit ``seq``: a copy of message ``seq`` (1..62) arrived
        self.copies: dict[int, dict[int, int]] = {}  # serial -> seq -> copies: repeats, big seqs
        self.record: dict[int, Record] = {}  # serial -> completion record, see _Notify.record

    def __len__(self) -> int:
        return len(self.session)

    def invoked(self, nonce: str, time: float, session: Any, count: Any) -> int:
        serial = self.serial[nonce] = len(self.session)
        self.time.append(time)
        self.session.append(session)
        self.count.append(count)
        self.done.append(None)
        self.done_time.append(0.0)
        self.emitted.append(None)
        self.seen.append(0)
        return serial

    def completed(self, serial: int, record: Record, kind: str) -> None:
        self.done[serial], self.done_time[serial] = kind, record["time"]
        value = record.get("value")
        self.emitted[serial] = value.get("emitted") if isinstance(value, dict) else None
        self.record[serial] = record
        self._drop_record_if_complete(serial)

    def arrived(self, serial: int, seq: int) -> int:
        """Counts a copy of ``seq`` on the notify's session; how many came before it."""
        if 0 < seq < _MASK_SEQS:
            bit, seen = 1 << seq, self.seen[serial]
            if not seen & bit:
                self.seen[serial] = seen | bit
                self._drop_record_if_complete(serial)
                return 0
            first = 1
        else:
            first = 0
        copies = self.copies.setdefault(serial, {})
        before = copies.get(seq, first)
        copies[seq] = before + 1
        return before

    def done_one(self, serial: int) -> _Notify | None:
        """The notify as the tally reads it, None while it is in flight."""
        done = self.done[serial]
        if done is None:
            return None
        return _Notify(
            self.time[serial],
            self.session[serial],
            self.count[serial],
            done,
            self.done_time[serial],
            self.emitted[serial],
            self.record.get(serial),
        )

    def _drop_record_if_complete(self, serial: int) -> None:
        if serial not in self.record or self.done[serial] != "ok":
            return
        emitted = _emitted(self.count[serial], self.emitted[serial])
        if 0 <= emitted < _MASK_SEQS:
            wanted = (1 << (emitted + 1)) - 2  # bits 1..emitted
            if self.seen[serial] & wanted == wanted:
                del self.record[serial]  # every message arrived: it cannot be lost


_MASK_SEQS = 63  # seqs 1..62 are tracked as bits of _Notifies.seen


class _Messages:
    """Every message of a notify in arrival order, in flat columns (tens of bytes a message,
    not a record): its notify's serial, seq, delay since sent_at, and whether it arrived on
    the notify's session. A record is kept only where it may be an example (a repeat, a late
    first copy)."""

    def __init__(self) -> None:
        self.serial = array("i")
        self.seq: list[int] = []
        self.delay = array("d")
        self.own = array("b")
        self.kept: dict[int, Record] = {}

    def add(self, serial: int, seq: int, delay: float, own: bool, kept: Record | None) -> None:
        if kept is not None:
            self.kept[len(self.seq)] = kept
        self.serial.append(serial)
        self.seq.append(seq)
        self.delay.append(delay)
        self.own.append(own)

    def by_notify(self, serials: int) -> Callable[[int], dict[int, list[int]]]:
        """For a notify's serial (below ``serials``): its seqs in order of first arrival (on
        any session), each with the positions of the copies that arrived on its session."""
        notify_of = np.frombuffer(self.serial, dtype=np.intc)
        order = np.argsort(notify_of, kind="stable")
        # where each serial's messages start in ``order``, found for all at once (kept as an
        # array: as a list, a soak's million notifies would add a Python int each)
        bounds = np.searchsorted(notify_of[order], np.arange(serials + 1, dtype=np.intc))

        def received(serial: int) -> dict[int, list[int]]:
            mine: dict[int, list[int]] = {}
            for at in order[bounds[serial] : bounds[serial + 1]].tolist():
                entries = mine.setdefault(self.seq[at], [])
                if self.own[at]:
                    entries.append(at)
            return mine

        return received


def reads(ctx: CheckContext) -> Reads | None:
    """Every record (harness.history.fanout.Selective)."""
    return None


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
    notifies = _Notifies()
    pending: dict[str, int] = {}  # process -> serial of its notify in flight
    messages = _Messages()
    interned = Interned()  # session ids and types, one object each for a soak's many notifies
    unattributed = [0]
    listening = Listening()
    gone: dict[str, float] = {}  # sessions known lost: when
    end = 0.0
    for record in history:
        f, time = record["f"], record["time"]
        end = time if time > end else end
        if f == "message":
            _message(record, notifies, messages, unattributed, late_after)
        elif f == tool_f:
            if record["type"] == "invoke":
                value = record.get("value")
                nonce = _nonce(value)
                if nonce is not None and isinstance(value, dict):
                    count = value.get("count")
                    session = interned(record.get("session"))
                    pending[record["process"]] = notifies.invoked(nonce, time, session, count)
            else:
                done = pending.pop(record["process"], None)
                if done is not None:
                    notifies.completed(done, record, interned(record["type"]))
            _gone(record, gone)
        elif f == "stream_open":
            listening.feed_open(record)
            _gone(record, gone)
        elif f == "stream_break":
            listening.feed_break(record)
        elif record["process"] not in NOT_CLIENTS:
            _gone(record, gone)
    counts = _tally(notifies, messages, listening, gone, end, ctx, late_after)
    counts.counts["unattributed"] = float(unattributed[0])
    return _verdict(counts.counts, counts.examples, counts.table, min_messages, late_after)


def _nonce(value: Any) -> str | None:
    nonce = value.get("nonce") if isinstance(value, dict) else None
    return nonce if isinstance(nonce, str) else None


def _message(
    record: Record,
    notifies: _Notifies,
    messages: _Messages,
    unattributed: list[int],
    late_after: float,
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
    serial = notifies.serial.get(nonce)
    if serial is None:  # no notify invoke carried this nonce
        unattributed[0] += 1
        return
    sent = data.get("sent_at")
    sent_at = float(sent) if isinstance(sent, int | float) else record["time"]
    delay = record["time"] - sent_at
    own = record.get("session") == notifies.session[serial]
    kept = None
    if own:
        # _one_notify's examples: the second copy on the notify's session, or a late first one
        copies = notifies.arrived(serial, seq)
        kept = record if copies == 1 or (copies == 0 and delay > late_after) else None
    messages.add(serial, seq, delay, own, kept)


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
    latencies: array[float] = field(default_factory=lambda: array("d"))
    lost_nonces: set[str] = field(default_factory=set)
    table: DeliveryTable = field(default_factory=DeliveryTable)

    def bump(self, name: str, by: float = 1.0) -> None:
        self.counts[name] += by


def _tally(
    notifies: _Notifies,
    messages: _Messages,
    listening: Listening,
    gone: dict[str, float],
    end: float,
    ctx: CheckContext,
    late_after: float,
) -> _Tally:
    tally = _Tally()
    memory = ctx.store == "memory"
    received = messages.by_notify(len(notifies))
    for nonce, serial in notifies.serial.items():
        notify = notifies.done_one(serial)
        if notify is not None:
            mine = received(serial)
            _one_notify(
                nonce, notify, mine, messages, listening, gone, end, memory, late_after, tally
            )
    counts = tally.counts
    counts["latency_p50_ms"] = ms(percentile(tally.latencies, 50))
    counts["latency_p99_ms"] = ms(percentile(tally.latencies, 99))
    counts["latency_max_ms"] = ms(max(tally.latencies, default=float("nan")))
    return tally


def _one_notify(
    nonce: str,
    notify: _Notify,
    mine: dict[int, list[int]],
    messages: _Messages,
    listening: Listening,
    gone: dict[str, float],
    end: float,
    memory: bool,
    late_after: float,
    tally: _Tally,
) -> None:
    session = notify.session
    tally.bump("notifies")
    for seq, entries in mine.items():
        if len(entries) > 1:
            tally.bump("duplicated", len(entries) - 1)
            add_example(
                tally.examples, messages.kept[entries[1]], nonce=nonce, seq=seq, why="duplicate"
            )
    if notify.done != "ok":
        if notify.done == "fail" and any(mine.values()):
            tally.bump("delivered_after_fail")
            assert notify.record is not None  # a fail's record is always kept
            add_example(tally.examples, notify.record, nonce=nonce, why="failed, yet delivered")
        return
    emitted = _emitted(notify.count, notify.emitted)
    tally.bump("emitted", emitted)
    span = listening.span(session)
    listened = span is not None and span.start <= notify.time
    due = notify.done_time + late_after
    delivered_before, lost_before = tally.counts["delivered"], tally.counts["lost"]
    for seq in range(1, emitted + 1):
        received = mine.get(seq)
        if received:
            _delivered(received[0], messages, late_after, tally)
            tally.bump("due")
        elif span is None or not listened:
            tally.bump("unlistened")
        elif _censored(span, due, end, session in gone):
            tally.bump("censored")
        else:
            tally.bump("due")
            _lost(nonce, seq, session, notify, gone, memory, tally)
    delivered = int(tally.counts["delivered"] - delivered_before)
    lost = int(tally.counts["lost"] - lost_before)
    tally.table.add(notify.done_time, emitted, delivered, lost)


def _emitted(count: Any, emitted: Any) -> int:
    """The completion's value.emitted, else the invoke's value.count."""
    for number in (emitted, count):
        if isinstance(number, int):
            return number
    return 0


def _delivered(at: int, messages: _Messages, late_after: float, tally: _Tally) -> None:
    tally.bump("delivered")
    delay = messages.delay[at]
    tally.latencies.append(delay)
    if delay > late_after:
        tally.bump("late")
        # _message kept every late first copy
        add_example(tally.examples, messages.kept[at], delay=round(delay, 3), why="late")


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
    notify: _Notify,
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
        assert notify.record is not None  # kept while a message may be missing
        add_example(tally.examples, notify.record, nonce=nonce, first_missing_seq=seq, why=why)


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
