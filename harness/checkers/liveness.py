"""liveness: no request hangs, and every fault is followed by bounded stalls (G6).

- A ``hang`` is an operation that completed ``info`` with a timeout: the server never
  answered. Hangs fail the check, except ``hangs_expected`` (served by a node that a
  ``pause-node``/``stop-node``/``isolate-node`` held while the operation was in flight, or
  whose clients' link a ``blackhole-node``/``delay-node``/``bandwidth-node`` held or slowed
  then: the fault is a hang) and
  ``hangs_explained`` (a sample call whose sampling answer the client could not deliver, or
  may not have: its POST failed or its outcome is unknown).
- During a Redis outage (``kill-redis`` until ``restart-redis`` completes; or, for the node
  it names, ``partition-redis``, ``blackhole-redis``, ``reset-redis`` or ``delay-redis``
  until its heal) requests must fail fast or stay fast: an operation
  invoked in the outage that took longer than ``fail_fast`` seconds, whatever its outcome (a
  request that blocked until Redis came back is no better than a hang), is
  ``slow_in_outage`` (fails).
- ``unfinished``: invokes with no completion at the end of the history (a crashed client).
- Stalls: for each fault, the users it affected (an operation failed after it started) and how
  long until each had an ``ok`` operation again, from the fault's start. ``stall_max_ms`` is
  the longest; ``stalled`` counts users that never recovered. Reported, and gated by
  thresholds; they do not fail the check by themselves (survival judges lost sessions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from harness.checkers._common import Faults, Recovery, add_example, ms, user_of
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import LivenessTable, RecoveryRow, StallRow
from harness.history import EVENT_FS, NEMESIS, NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "liveness"
COUNTS = (
    "operations",
    "hangs",
    "hangs_expected",
    "hangs_explained",
    "slow_in_outage",
    "unfinished",
    "faults",
    "stalled",
    "stall_max_ms",
)
FAIL_FAST = 3.0  # the reference server bounds Redis calls to 1 s (and retries once)
# Faults that make a node hold requests unanswered: a timeout there is the fault, not a hang.
HOLDING_FAULTS = frozenset(
    ("pause-node", "stop-node", "isolate-node", "blackhole-node", "delay-node", "bandwidth-node")
)
# Redis out of reach, or slow to reach: for every node (kill-redis) or for the node whose
# Redis link is cut, black-holed, reset or delayed (a delay must stay within the bound too).
OUTAGE_FAULTS = frozenset(
    ("kill-redis", "partition-redis", "blackhole-redis", "reset-redis", "delay-redis")
)


def reads(ctx: CheckContext) -> Reads | None:
    """Not the messages received (most of a history), which it skips
    (harness.history.fanout.Selective)."""
    return _not_a_message


def _not_a_message(f: str, kind: str) -> bool:
    return f != "message" or kind == "invoke"


def check(
    history: Iterable[Record], ctx: CheckContext, *, fail_fast: float = FAIL_FAST
) -> CheckResult:
    faults = Faults()
    recovery = Recovery(faults)
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    pending: dict[str, Record] = {}
    answer_lost: set[str] = set()  # users whose sampling answer never left the client
    for record in history:
        process, kind, f = record["process"], record["type"], record["f"]
        if process in NOT_CLIENTS:
            if process == NEMESIS:
                faults.feed(record)
            continue
        if kind == "invoke":
            pending[process] = record
            continue
        if f in EVENT_FS:
            if f == "answer" and kind in ("fail", "info") and "status" not in record:
                # The answer may never have reached the server (a connection refused, or
                # reset by a dying node): a hang of its call is then not the server's.
                answer_lost.add(user_of(process))
            if f != "message" and not (f == "stream_break" and kind == "ok"):
                (recovery.succeeded if kind == "ok" else recovery.failed)(record)
            continue
        invoke = pending.pop(process, None)
        counts["operations"] += 1
        if kind == "ok":
            recovery.succeeded(record)
        elif not record.get("interrupted"):
            recovery.failed(record)
            if kind == "info" and str(record.get("error", "")).startswith("timeout"):
                _hang(record, faults, answer_lost, counts, examples)
                answer_lost.discard(process)
                continue
        # Only the user's own next operation shows that its call no longer waits for the
        # lost answer; its stream re-opening (process "<user>/stream") does not.
        answer_lost.discard(process)
        if invoke is not None and record.get("latency", 0.0) > fail_fast:
            _slow(record, invoke, faults, fail_fast, counts, examples)
    counts["unfinished"] = float(len(pending))
    return _verdict(counts, examples, recovery, faults, fail_fast)


def _slow(
    record: Record,
    invoke: Record,
    faults: Faults,
    fail_fast: float,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    """Counts an operation invoked while its node could not reach Redis that took too long."""
    node = record.get("node")
    if any(
        e.name in OUTAGE_FAULTS
        and e.holds(e.target, invoke["time"])
        and (e.target is None or e.target == node)
        for e in faults.episodes
    ):
        counts["slow_in_outage"] += 1
        add_example(examples, record, why=f"took over {fail_fast:g}s in a Redis outage")


def _hang(
    record: Record,
    faults: Faults,
    answer_lost: set[str],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    node = record.get("node")
    started = record["time"] - record.get("latency", 0.0)
    if node is not None and faults.active_during(node, started, record["time"], HOLDING_FAULTS):
        counts["hangs_expected"] += 1
    elif user_of(record["process"]) in answer_lost:
        counts["hangs_explained"] += 1
    else:
        counts["hangs"] += 1
        add_example(examples, record, why="no answer before the client's timeout")


def _verdict(
    counts: dict[str, float],
    examples: list[dict[str, Any]],
    recovery: Recovery,
    faults: Faults,
    fail_fast: float,
) -> CheckResult:
    table = recovery.table()
    stalls = [row.recovered_after for row in table if row.recovered_after is not None]
    counts["faults"] = float(sum(1 for e in faults.episodes if e.applied))
    counts["stalled"] = float(len(table) - len(stalls))
    counts["stall_max_ms"] = ms(max(stalls, default=math.nan))
    stall_table = LivenessTable(_per_fault(table))
    n = int(counts["operations"])
    if n == 0:
        return CheckResult(NAME, "unknown", "no client operation completed", counts)
    hangs, slow = int(counts["hangs"]), int(counts["slow_in_outage"])
    stall_text = ""
    if stalls:
        stall_text = f"; longest stall after a fault {counts['stall_max_ms'] / 1000:.2f}s"
    if counts["stalled"]:
        stall_text += f", {int(counts['stalled'])} users never recovered"
    if hangs or slow:
        parts = [f"{hangs} of {n} operations hung" if hangs else ""]
        if slow:
            parts.append(f"{slow} took over {fail_fast:g}s during a Redis outage")
        summary = "; ".join(p for p in parts if p) + stall_text
        return CheckResult(NAME, False, summary, counts, examples, table=stall_table)
    summary = f"no hang in {n} operations" + stall_text
    return CheckResult(NAME, True, summary, counts, examples, table=stall_table)


def _per_fault(table: list[RecoveryRow]) -> list[StallRow]:
    """The longest stall after each fault, and how many users it affected."""
    faults: dict[tuple[str, float], list[RecoveryRow]] = {}
    for row in table:
        faults.setdefault((row.fault, row.fault_start), []).append(row)
    stalls = []
    for (fault, start), rows in faults.items():
        times = [row.recovered_after for row in rows if row.recovered_after is not None]
        stalls.append(
            StallRow(fault, start, len(rows), max(times, default=0.0), len(rows) - len(times))
        )
    return stalls
