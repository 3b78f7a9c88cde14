"""metadata: a session's negotiated state holds on every node (G1): the log level a client
set through one node is the level every node applies.

Each ``set_level`` that completed ok sets the session's expected level (the invoke's value
names it). Each ``call:log`` that completed ok afterwards on the same session reports in its
structured result the level it applied (``level``) and whether it sent the message
(``sent``); both must agree with the expected level. A log call before any set_level, or on a
session whose level is unknown (a set_level that failed or timed out), is not judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.checkers._common import add_example
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "metadata"
COUNTS = ("levels_set", "checked", "wrong_level", "unjudged")
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def reads(ctx: CheckContext) -> Reads | None:
    """set_level and log calls only (harness.history.fanout.Selective)."""
    wanted = ("set_level", ctx.tool_f("log"))
    return lambda f, kind: f in wanted


def check(history: Iterable[Record], ctx: CheckContext) -> CheckResult:
    log_f = ctx.tool_f("log")
    invoked: dict[str, Any] = {}  # process -> the value of its op in flight
    expected: dict[Any, str | None] = {}  # session -> level it set (None: unknown)
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    for record in history:
        f = record["f"]
        if f not in ("set_level", log_f) or record["process"] in NOT_CLIENTS:
            continue
        process, session = record["process"], record.get("session")
        if record["type"] == "invoke":
            invoked[process] = record.get("value")
            continue
        value = invoked.pop(process, None)
        if f == "set_level":
            level = value.get("level") if isinstance(value, dict) else None
            ok = record["type"] == "ok" and level in LEVELS
            expected[session] = level if ok else None
            counts["levels_set"] += ok
        elif record["type"] == "ok" and session in expected:
            _judge(record, value, expected[session], counts, examples)
    return _verdict(counts, examples)


def _judge(
    record: Record,
    asked: Any,
    level: str | None,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    result = record.get("value")
    message_level = asked.get("level") if isinstance(asked, dict) else None
    if level is None or not isinstance(result, dict) or message_level not in LEVELS:
        counts["unjudged"] += 1
        return
    counts["checked"] += 1
    should_send = LEVELS.index(message_level) >= LEVELS.index(level)
    applied = result.get("level", level)
    if applied != level or result.get("sent") != should_send:
        counts["wrong_level"] += 1
        add_example(examples, record, expected_level=level, why="the node applied another level")


def _verdict(counts: dict[str, float], examples: list[dict[str, Any]]) -> CheckResult:
    checked, wrong = int(counts["checked"]), int(counts["wrong_level"])
    if checked == 0:
        return CheckResult(NAME, "unknown", "no log call after a set_level to judge", counts)
    if wrong:
        summary = f"{wrong} of {checked} log calls applied a level the session did not set"
        return CheckResult(NAME, False, summary, counts, examples)
    return CheckResult(NAME, True, f"{checked} log calls applied the session's level", counts)
