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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.checkers._common import (
    MAX_EXAMPLES,
    FloatArray,
    Interned,
    KeptRecords,
    Listening,
    Span,
    add_example,
    ms,
    percentile,
)
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
IntArray = np.ndarray[Any, np.dtype[np.integer[Any]]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


class _Notifies:
    """Every notify invoke and its completion, a column per field, by its serial (its place
    among the invokes): tens of bytes a notify, where an object each held twice as much of
    a soak's million notifies."""

    def __init__(self) -> None:
        self.serial: dict[str, int] = {}  # by nonce; a nonce used again names the later one
        self.time, self.done_time = array("d"), array("d")
        self.session: list[Any] = []  # interned session ids
        self.done: list[str | None] = []  # the completion's type (interned); None in flight
        # what the notify owes: the messages an ok completion emitted (_emitted), NOT_OK
        # for another completion, IN_FLIGHT before one
        self.owed = array("q")
        self.seen = array("Q")  # bit ``seq``: a copy of message ``seq`` (1..62) arrived
        self.copies: dict[int, dict[int, int]] = {}  # serial -> seq -> copies: repeats, big seqs
        # serial -> completion record, kept only while it may become an example: a fail, or
        # an ok whose messages had not all arrived on its session (so some may be lost)
        self.record: dict[int, Record] = {}

    def __len__(self) -> int:
        return len(self.session)

    def invoked(self, nonce: str, time: float, session: Any) -> int:
        serial = self.serial[nonce] = len(self.session)
        self.time.append(time)
        self.session.append(session)
        self.done.append(None)
        self.done_time.append(0.0)
        self.owed.append(_IN_FLIGHT)
        self.seen.append(0)
        return serial

    def completed(self, serial: int, count: Any, record: Record, kind: str) -> None:
        self.done[serial], self.done_time[serial] = kind, record["time"]
        value = record.get("value")
        emitted = value.get("emitted") if isinstance(value, dict) else None
        owed = min(max(_emitted(count, emitted), 0), _MAX_SEQ)
        self.owed[serial] = owed if kind == "ok" else _NOT_OK
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

    def any_arrived(self, serial: int) -> bool:
        return bool(self.seen[serial]) or serial in self.copies

    def _drop_record_if_complete(self, serial: int) -> None:
        owed = self.owed[serial]
        if serial in self.record and 0 <= owed < _MASK_SEQS:
            wanted = (1 << (owed + 1)) - 2  # bits 1..owed
            if self.seen[serial] & wanted == wanted:
                del self.record[serial]  # every message arrived: it cannot be lost


_MASK_SEQS = 63  # seqs 1..62 are tracked as bits of _Notifies.seen
_BLOCK = 1 << 20  # arrivals tallied at a time (_tally)
_MAX_SEQ = (1 << 63) - 1  # the largest seq a column holds: none that a server sends
_IN_FLIGHT, _NOT_OK = -2, -1  # _Notifies.owed of a notify not completed ok


class _Arrivals:
    """The first copy of each message on its notify's session, in flat columns (20 bytes
    a message, not a record): its notify's serial, seq and delay since sent_at. Copies on
    another session are the isolation checker's business; repeats are counted by
    _Notifies.copies. A record is kept only where it may be an example (a late first copy,
    a second copy)."""

    def __init__(self) -> None:
        self.serial = array("i")
        self.seq = array("q")
        self.delay = array("d")
        # Kept pickled (KeptRecords), and unpickled only to be shown: a server that repeats or
        # delays every message makes them millions, which as records held five times the
        # memory and fragmented the heap.
        self.kept = KeptRecords()
        self.late: dict[int, int] = {}  # position -> the late first copy there (kept number)
        self.repeat: dict[tuple[int, int], int] = {}  # (serial, seq) -> its second copy (kept)
        self.unattributed = 0  # messages of a nonce that no notify invoke carried

    def add(self, serial: int, seq: int, delay: float, late: Record | None) -> None:
        if 0 < seq <= _MAX_SEQ:  # only seqs 1..owed can be delivered
            if late is not None:
                self.late[len(self.seq)] = self.kept.add(late)
            self.serial.append(serial)
            self.seq.append(seq)
            self.delay.append(delay)


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
    pending: dict[str, tuple[int, Any]] = {}  # process -> its notify in flight: serial, count
    arrivals = _Arrivals()
    interned = Interned()  # session ids and types, one object each for a soak's many notifies
    listening = Listening()
    gone: dict[str, float] = {}  # sessions known lost: when
    end = 0.0
    for record in history:
        f, time = record["f"], record["time"]
        end = time if time > end else end
        if f == "message":
            _message(record, notifies, arrivals, late_after)
        elif f == tool_f:
            if record["type"] == "invoke":
                value = record.get("value")
                nonce = _nonce(value)
                if nonce is not None and isinstance(value, dict):
                    session = interned(record.get("session"))
                    serial = notifies.invoked(nonce, time, session)
                    pending[record["process"]] = (serial, value.get("count"))
            else:
                done = pending.pop(record["process"], None)
                if done is not None:
                    notifies.completed(done[0], done[1], record, interned(record["type"]))
            _gone(record, gone)
        elif f == "stream_open":
            listening.feed_open(record)
            _gone(record, gone)
        elif f == "stream_break":
            listening.feed_break(record)
        elif record["process"] not in NOT_CLIENTS:
            _gone(record, gone)
    tally = _tally(notifies, arrivals, listening, gone, end, ctx, late_after)
    tally.counts["unattributed"] = float(arrivals.unattributed)
    return _verdict(tally.counts, tally.examples, tally.table, min_messages, late_after)


def _nonce(value: Any) -> str | None:
    nonce = value.get("nonce") if isinstance(value, dict) else None
    return nonce if isinstance(nonce, str) else None


def _message(record: Record, notifies: _Notifies, arrivals: _Arrivals, late_after: float) -> None:
    # Subscripts under one try: most of a soak's records are messages, and each .get and
    # isinstance of the fields on the way to data.seq cost a second over millions of them.
    try:
        message = record["value"]
        if message["method"] != NOTIFY_METHOD:
            return
        data = message["params"]["data"]
        nonce, seq = data["nonce"], data["seq"]
    except (KeyError, TypeError):
        return  # not a notify's message
    if not isinstance(nonce, str) or not isinstance(seq, int):
        return
    serial = notifies.serial.get(nonce)
    if serial is None:
        arrivals.unattributed += 1
        return
    if record.get("session") != notifies.session[serial]:
        return
    time = record["time"]
    sent = data.get("sent_at")
    delay = time - float(sent) if isinstance(sent, int | float) else 0.0
    before = notifies.arrived(serial, seq)
    if not before:
        arrivals.add(serial, seq, delay, record if delay > late_after else None)
    elif before == 1:
        arrivals.repeat[(serial, seq)] = arrivals.kept.add(record)  # a duplicate's example


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
    table: DeliveryTable = field(default_factory=DeliveryTable)

    def bump(self, name: str, by: float = 1.0) -> None:
        self.counts[name] += by


def _tally(
    notifies: _Notifies,
    arrivals: _Arrivals,
    listening: Listening,
    gone: dict[str, float],
    end: float,
    ctx: CheckContext,
    late_after: float,
) -> _Tally:
    """Counts every message owed, by arrays over all of them at once; only the notifies
    with something to report (a message missing, late or repeated, a completion not ok)
    are then looked at one by one, for their counts and examples."""
    tally = _Tally()
    counts = tally.counts
    live = np.fromiter(notifies.serial.values(), dtype=np.int64, count=len(notifies.serial))
    owed = np.frombuffer(notifies.owed, dtype=np.int64)
    serial = np.frombuffer(arrivals.serial, dtype=np.intc)
    delivered, delivered_of, on_time = _delivered(arrivals, live, owed, late_after)
    _latencies(np.frombuffer(arrivals.delay, dtype=np.float64)[delivered], late_after, counts)
    repeated = np.zeros(len(owed), dtype=bool)
    repeated[[s for s, seqs in notifies.copies.items() if max(seqs.values()) > 1]] = True
    live_owed = owed[live]
    clean = (live_owed >= 0) & (on_time[live] == live_owed) & ~repeated[live]
    looked_at = set(live[(live_owed != _IN_FLIGHT) & ~clean].tolist())
    counts["notifies"] = float(np.count_nonzero(live_owed != _IN_FLIGHT))
    counts["emitted"] = float(live_owed[live_owed >= 0].sum())
    lost = np.zeros(len(owed), dtype=np.int64)
    if looked_at:
        seqs = _delivered_seqs(arrivals, serial, delivered, looked_at)
        memory = ctx.store == "memory"
        for nonce, one in notifies.serial.items():
            if one in looked_at:
                args = (listening, gone, end, memory, late_after, tally)
                lost[one] = _one_notify(nonce, one, notifies, arrivals, seqs.get(one, {}), *args)
    ok = live[live_owed >= 0]
    tally.table = DeliveryTable(
        _column("d", np.frombuffer(notifies.done_time)[ok]),
        *(
            _column("l", column[ok].astype(np.int_, copy=False))
            for column in (owed, delivered_of, lost)
        ),
    )
    return tally


def _delivered(
    arrivals: _Arrivals, live: IntArray, owed: IntArray, late_after: float
) -> tuple[BoolArray, IntArray, IntArray]:
    """Whether each arrival was delivered (the first copy of a seq that its live, ok notify
    owes), and for each notify, how many of its messages were, and how many in time. A
    block of arrivals at a time (and the temporaries gone on return): at the end of a
    soak's pass, its peak of memory, masks and gathers of all at once took 100 MB more."""
    serial = np.frombuffer(arrivals.serial, dtype=np.intc)
    seq = np.frombuffer(arrivals.seq, dtype=np.int64)
    delay = np.frombuffer(arrivals.delay, dtype=np.float64)
    is_live = np.zeros(len(owed), dtype=bool)
    is_live[live] = True
    delivered = np.empty(len(serial), dtype=bool)
    delivered_of = np.zeros(len(owed), dtype=np.int64)
    on_time = np.zeros(len(owed), dtype=np.int64)
    for start in range(0, len(serial), _BLOCK):
        part = slice(start, start + _BLOCK)
        of = serial[part]
        mask = np.logical_and(is_live[of], seq[part] <= owed[of], out=delivered[part])
        delivered_of += np.bincount(of[mask], minlength=len(owed))
        on_time += np.bincount(of[mask & ~(delay[part] > late_after)], minlength=len(owed))
    return delivered, delivered_of, on_time


def _latencies(latencies: FloatArray, late_after: float, counts: dict[str, float]) -> None:
    """The counts of the delivered messages' ``latencies`` (an array of them all, which
    this reorders)."""
    counts["delivered"] = counts["due"] = float(latencies.size)
    counts["late"] = float(np.count_nonzero(latencies > late_after))
    counts["latency_p50_ms"] = ms(percentile(latencies, 50))
    counts["latency_p99_ms"] = ms(percentile(latencies, 99))
    counts["latency_max_ms"] = ms(float(latencies.max()) if latencies.size else float("nan"))


def _column(typecode: str, values: np.ndarray[Any, Any]) -> array[Any]:
    """An array of ``values``, copied once (not through bytes): a column of a million rows."""
    column = array(typecode)
    column.frombytes(np.ascontiguousarray(values).data.cast("B"))
    return column


def _delivered_seqs(
    arrivals: _Arrivals, serial: IntArray, delivered: BoolArray, of: set[int]
) -> dict[int, dict[int, int]]:
    """For each notify of ``of``: the seqs delivered, each with its first copy's position."""
    wanted = delivered & np.isin(serial, np.fromiter(of, dtype=np.intc, count=len(of)))
    seqs: dict[int, dict[int, int]] = {}
    for at in np.flatnonzero(wanted).tolist():
        seqs.setdefault(arrivals.serial[at], {})[arrivals.seq[at]] = at
    return seqs


def _one_notify(
    nonce: str,
    serial: int,
    notifies: _Notifies,
    arrivals: _Arrivals,
    delivered: dict[int, int],
    listening: Listening,
    gone: dict[str, float],
    end: float,
    memory: bool,
    late_after: float,
    tally: _Tally,
) -> int:
    """The counts and examples of a notify with something to report; how many it lost."""
    for seq, copies in notifies.copies.get(serial, {}).items():
        if copies > 1:
            tally.bump("duplicated", copies - 1)
            if len(tally.examples) < MAX_EXAMPLES:
                second = arrivals.kept[arrivals.repeat[(serial, seq)]]
                add_example(tally.examples, second, nonce=nonce, seq=seq, why="duplicate")
    owed = notifies.owed[serial]
    if owed < 0:
        if notifies.done[serial] == "fail" and notifies.any_arrived(serial):
            tally.bump("delivered_after_fail")
            record = notifies.record[serial]  # a fail's record is always kept
            add_example(tally.examples, record, nonce=nonce, why="failed, yet delivered")
        return 0
    for at in delivered.values():
        if at in arrivals.late and len(tally.examples) < MAX_EXAMPLES:  # all late ones kept
            delay = round(arrivals.delay[at], 3)
            add_example(tally.examples, arrivals.kept[arrivals.late[at]], delay=delay, why="late")
    missing = owed - len(delivered)
    if not missing:
        return 0
    session = notifies.session[serial]
    span = listening.span(session)
    due = notifies.done_time[serial] + late_after
    if span is None or span.start > notifies.time[serial]:
        tally.bump("unlistened", missing)
        return 0
    if _censored(span, due, end, session in gone):
        tally.bump("censored", missing)
        return 0
    tally.bump("lost", missing)
    tally.bump("due", missing)
    expected = memory and session in gone
    if expected:
        tally.bump("lost_expected", missing)
    if not expected or len(tally.examples) < 2:
        first = next(seq for seq in range(1, owed + 1) if seq not in delivered)
        why = "lost with its session (memory mode: expected)" if expected else "lost"
        record = notifies.record[serial]  # kept while a message may be missing
        add_example(tally.examples, record, nonce=nonce, first_missing_seq=first, why=why)
    return missing


def _emitted(count: Any, emitted: Any) -> int:
    """The completion's value.emitted, else the invoke's value.count."""
    for number in (emitted, count):
        if isinstance(number, int):
            return number
    return 0


def _censored(span: Span, due: float, end: float, gone: bool) -> bool:
    """The client stopped listening before the message was due, or the history stopped then
    (unless the session was gone: then the message can never arrive)."""
    if span.end < due and span.client_closed():
        return True
    return end < due and not gone


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
