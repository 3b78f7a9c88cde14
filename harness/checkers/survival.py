"""survival: did every session outlive the faults (G1), or was it honestly lost (G7)?

Each session (an ``initialize`` or ``reinit`` that returned an id) ends up:

- ``lost`` when a ``reinit`` names it as the old session, when the server answered 404 for it
  (before the client deleted it), or when it became unusable: its last UNUSABLE_AFTER or more
  operations, after a fault had started, all failed and none succeeded later;
- ``survived`` when the client deleted it (or may have: a DELETE whose outcome is unknown,
  after which a 404 says nothing of the server), or when its last operation succeeded;
- ``unknown`` otherwise (its last one or two operations failed and the run ended).

Lost sessions fail the check with Redis (G1); in memory mode (``ctx.store == "memory"``) the
sessions lost after a fault are ``expected`` (G7: reported, not failing).

Recovery, as the sessions saw it (harness.checkers.recovery): per affected session, the
``outage`` from its first failed operation or broken stream after the fault until both work
again, the users' think time left out, and the ``stream_gap`` of each broken stream until it
was reopened. Also ``next_success``: from the fault's start to the user's next ``ok``
operation (think time included), one RecoveryRow per affected user and fault for the chart.

``table`` (a SurvivalTable): one SessionRow per session for a Kaplan-Meier curve, and one
RecoveryRow per affected user and fault (see :class:`harness.checkers._common.Recovery`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.checkers._common import Faults, Recovery, add_example, ms, percentile
from harness.checkers.context import CheckContext
from harness.checkers.recovery import OutageMeter, RecoveryReport
from harness.checkers.result import CheckResult
from harness.checkers.tables import SessionRow, SurvivalTable
from harness.history import EVENT_FS, NEMESIS, NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "survival"
COUNTS = (
    "sessions",
    "survived",
    "lost",
    "lost_expected",
    "unknown",
    "affected",
    "recovered",
    "unrecovered",
    "outage_p50_ms",
    "outage_p99_ms",
    "outage_max_ms",
    "stream_gap_p99_ms",
    "next_success_p50_ms",
    "next_success_p99_ms",
    "next_success_max_ms",
)
UNUSABLE_AFTER = 3  # failed operations in a row, after a fault, that make a session lost
_CREATE = frozenset(("initialize", "reinit"))


@dataclass(slots=True)
class _Session:
    session: str
    start: float
    group: str | None
    record: Record
    last: float = 0.0  # time of its last operation
    deleted: float | None = None
    lost: float | None = None  # when it was known lost
    lost_by: Record | None = None
    streak: int = 0  # failed operations since its last ok one
    streak_start: Record | None = None
    faults_seen: int = 0  # faults started before its first failure of the streak


def reads(ctx: CheckContext) -> Reads | None:
    """Not the messages received (most of a history), which it skips
    (harness.history.fanout.Selective)."""
    return _not_a_message


def _not_a_message(f: str, kind: str) -> bool:
    return f != "message" or kind == "invoke"


def check(history: Iterable[Record], ctx: CheckContext) -> CheckResult:
    if ctx.sessionless:
        # Every record of a sessionless run has session None: "no session was created" would
        # read as a client that failed to start. Liveness judges these users' recovery.
        return CheckResult(NAME, "unknown", f"not applicable: {ctx.protocol} has no sessions")
    sessions: dict[str, _Session] = {}
    faults = Faults()
    recovery = Recovery(faults)
    outages = OutageMeter()
    examples: list[dict[str, Any]] = []
    end = 0.0
    for record in history:
        outages.feed(record)
        process, time = record["process"], record["time"]
        end = time if time > end else end
        if process in NOT_CLIENTS:
            if process == NEMESIS:
                faults.feed(record)
            continue
        kind, f = record["type"], record["f"]
        if kind == "invoke":
            if f == "reinit":
                _lost(sessions, (record.get("value") or {}).get("old_session"), record)
            continue
        if f in EVENT_FS and f != "stream_break" and f != "answer":
            continue
        session = record.get("session")
        if kind == "ok":
            if f == "stream_break":
                continue
            recovery.succeeded(record)
            if f in _CREATE and session:
                sessions[session] = _Session(session, time, record.get("node"), record, time)
                continue
            state = sessions.get(session) if session else None
            if state is not None:
                state.last, state.streak, state.streak_start = time, 0, None
                if f == "delete":
                    state.deleted = time
            continue
        if record.get("interrupted"):
            continue  # a user stopped at the end of the run: says nothing about the server
        recovery.failed(record)
        state = sessions.get(session) if session else None
        if state is None:
            continue
        state.last = time
        if f == "delete" and kind == "info":
            # It may have been deleted: a 404 after it is the client's doing, not a loss.
            state.deleted = time
            continue
        if record.get("status") == 404 and state.deleted is None:
            _lost(sessions, session, record)
        if state.streak == 0:
            state.streak_start, state.faults_seen = record, len(faults.episodes)
        state.streak += 1
    return _result(sessions, faults, recovery, outages.report(), examples, end, ctx)


def _lost(sessions: dict[str, _Session], session: Any, record: Record) -> None:
    state = sessions.get(session) if isinstance(session, str) else None
    if state is not None and state.lost is None and state.deleted is None:
        state.lost, state.lost_by = record["time"], record


def _classify(state: _Session, end: float) -> tuple[str, float]:
    """(outcome, end time) of one session."""
    if state.lost is not None:
        return "lost", state.lost
    if state.deleted is not None:
        return "survived", state.deleted
    if state.streak >= UNUSABLE_AFTER and state.faults_seen and state.streak_start is not None:
        state.lost_by = state.streak_start
        return "lost", state.streak_start["time"]
    if state.streak == 0:
        return "survived", end
    return "unknown", state.last


def _result(
    sessions: dict[str, _Session],
    faults: Faults,
    recovery: Recovery,
    outages: RecoveryReport,
    examples: list[dict[str, Any]],
    end: float,
    ctx: CheckContext,
) -> CheckResult:
    applied = [e for e in faults.episodes if e.applied]
    first_fault = min((e.start for e in applied), default=math.inf)
    memory = ctx.store == "memory"
    rows: list[SessionRow] = []
    counts = dict.fromkeys(("sessions", "survived", "lost", "lost_expected", "unknown"), 0.0)
    for state in sessions.values():
        outcome, until = _classify(state, end)
        counts["sessions"] += 1
        counts[outcome] += 1
        if outcome == "lost":
            expected = memory and until >= first_fault
            counts["lost_expected"] += expected
            if not expected or len(examples) < 2:
                why = "lost after a fault (memory mode: expected)" if expected else "lost"
                add_example(examples, state.lost_by or state.record, session=state.session, why=why)
        lost = outcome == "lost"
        rows.append(SessionRow(state.session, state.start, until, lost, outcome, state.group))
    table = recovery.table()
    times = [row.recovered_after for row in table if row.recovered_after is not None]
    counts.update(
        affected=float(len(table)),
        recovered=float(len(times)),
        unrecovered=float(len(table) - len(times)),
        outage_p50_ms=ms(outages.outage.p50),
        outage_p99_ms=ms(outages.outage.p99),
        outage_max_ms=ms(outages.outage.max),
        stream_gap_p99_ms=ms(outages.stream_gap.p99),
        next_success_p50_ms=ms(percentile(times, 50)),
        next_success_p99_ms=ms(percentile(times, 99)),
        next_success_max_ms=ms(max(times, default=math.nan)),
    )
    return _verdict(counts, examples, SurvivalTable(rows, table), memory)


def _verdict(
    counts: dict[str, float],
    examples: list[dict[str, Any]],
    table: SurvivalTable,
    memory: bool,
) -> CheckResult:
    lost, expected = int(counts["lost"]), int(counts["lost_expected"])
    n = int(counts["sessions"])
    recovered = _recovery_text(counts)
    if n == 0:
        return CheckResult(NAME, "unknown", "no session was created", counts, [], table=table)
    if lost > expected:
        summary = f"{lost - expected} of {n} sessions lost" + (
            f" ({expected} more expected in memory mode)" if expected else ""
        )
        return CheckResult(NAME, False, summary + recovered, counts, examples, table=table)
    if lost:
        summary = f"{lost} of {n} sessions lost after a fault: expected in memory mode (G7)"
        return CheckResult(
            NAME, False, summary + recovered, counts, examples, expected=True, table=table
        )
    unknown = int(counts["unknown"])
    if unknown == n:
        summary = f"no session's fate is known ({n} ended on failed operations)"
        return CheckResult(NAME, "unknown", summary, counts, examples, table=table)
    summary = f"{n - unknown} of {n} sessions survived" + (
        f", {unknown} unknown" if unknown else ""
    )
    return CheckResult(NAME, True, summary + recovered, counts, examples, table=table)


def _recovery_text(counts: dict[str, float]) -> str:
    if not counts["affected"]:
        return ""
    text = f"; {int(counts['affected'])} affected by faults"
    if counts["recovered"]:
        text += (
            f", outage p99 {counts['outage_p99_ms']:.0f} ms (next success after the fault p99 "
            f"{counts['next_success_p99_ms']:.0f} ms)"
        )
    if counts["unrecovered"]:
        text += f", {int(counts['unrecovered'])} never recovered"
    return text
