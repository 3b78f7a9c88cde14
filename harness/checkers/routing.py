"""routing: server->client requests are answered, and each answer reaches its own waiter (G4).

- Every ``sampling/createMessage`` the client received must have an ``answer`` record,
  unless the run's end stopped the client mid-operation after it arrived (``stopped``). An
  answer the server refused with an HTTP status is ``rejected`` (fails); one that never left
  the client (``fail`` without a status: connection refused...) is ``undelivered`` and one whose
  fate is unknown (``info``) is ``unsure``: both are the client's side, reported only.
- A request id may be used once per session (JSON-RPC, MCP): the same id on one session for a
  request with another nonce is ``reused_ids`` (fails). The same id with the same nonce again is
  a replay (``replayed``).
- Every ``call:sample`` that completed ``ok`` must return ``answer:<its own nonce>`` (within
  the target's text: a tool may wrap it); another nonce is ``crossed`` (fails): an answer
  delivered to the wrong waiter. A call whose arguments or result carry no nonce cannot be
  matched: ``samples_unverified``, never counted as its own answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from harness.checkers._common import INF, add_example, nonce_in, text_of, user_of
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import Record

NAME = "routing"
ACTION = "sample"
COUNTS = (
    "requests",
    "answered",
    "unanswered",
    "rejected",
    "undelivered",
    "unsure",
    "reused_ids",
    "replayed",
    "samples",
    "samples_ok",
    "samples_unverified",
    "crossed",
    "stopped",
)
SAMPLING = "sampling/createMessage"
ANSWER_PREFIX = "answer:"


def check(history: Iterable[Record], ctx: CheckContext) -> CheckResult:
    if ACTION in ctx.untested_actions:
        return CheckResult(NAME, "unknown", "not tested (no tool for sample)")
    tool_f = ctx.tool_f(ACTION)
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    requests: dict[tuple[Any, Any], Record] = {}  # (session, id) -> the request's message
    nonces: dict[tuple[Any, Any], str | None] = {}
    answers: dict[tuple[Any, Any], Record] = {}
    pending: dict[str, Record] = {}
    stopped: dict[str, float] = {}  # user -> when the run's end stopped it mid-operation
    for record in history:
        f = record["f"]
        if record.get("interrupted"):
            stopped.setdefault(user_of(record["process"]), record["time"])
        if f == "message":
            _request(record, requests, nonces, counts, examples)
        elif f == "answer":
            value = record.get("value")
            if isinstance(value, dict) and value.get("method") == SAMPLING:
                answers.setdefault((record.get("session"), _key(value.get("id"))), record)
        elif f == tool_f:
            if record["type"] == "invoke":
                pending[record["process"]] = record
            else:
                _sample(pending.pop(record["process"], None), record, counts, examples)
    _answers(requests, answers, stopped, counts, examples)
    return _verdict(counts, examples)


def _key(request_id: Any) -> Any:
    return request_id if isinstance(request_id, str | int | float) else repr(request_id)


def _request(
    record: Record,
    requests: dict[tuple[Any, Any], Record],
    nonces: dict[tuple[Any, Any], str | None],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    message = record.get("value")
    if not isinstance(message, dict) or message.get("method") != SAMPLING or "id" not in message:
        return
    key = (record.get("session"), _key(message["id"]))
    nonce = nonce_in(message)
    if key in requests:
        if nonces[key] == nonce:
            counts["replayed"] += 1
            return
        counts["requests"] += 1
        counts["reused_ids"] += 1
        add_example(examples, record, first=nonces[key], why="request id reused on session")
        return
    requests[key] = record
    nonces[key] = nonce
    counts["requests"] += 1


def _sample(
    invoke: Record | None,
    done: Record,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    counts["samples"] += 1
    if done["type"] != "ok" or invoke is None:
        return
    counts["samples_ok"] += 1
    value = invoke.get("value")
    nonce = value.get("nonce") if isinstance(value, dict) else None
    text = text_of(done.get("value")) or ""
    if not isinstance(nonce, str) or ANSWER_PREFIX not in text:
        # The call's arguments or the target's result carry no nonce: nothing to match.
        counts["samples_unverified"] += 1
    elif not re.search(re.escape(ANSWER_PREFIX + nonce) + r"(?![\w-])", text):
        counts["crossed"] += 1
        add_example(examples, done, nonce=nonce, got=text, why="crossed answer")


def _answers(
    requests: dict[tuple[Any, Any], Record],
    answers: dict[tuple[Any, Any], Record],
    stopped: dict[str, float],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    for key, request in requests.items():
        answer = answers.get(key)
        if answer is None and stopped.get(user_of(request["process"]), -INF) >= request["time"]:
            # The run's end stopped the client before it could answer: censored, not lost.
            counts["stopped"] += 1
        elif answer is None:
            counts["unanswered"] += 1
            add_example(examples, request, why="never answered by the client")
        elif answer["type"] == "ok":
            counts["answered"] += 1
        elif answer["type"] == "info":
            counts["unsure"] += 1
        elif "status" in answer:
            counts["rejected"] += 1
            add_example(examples, answer, why="the server refused the answer")
        else:
            counts["undelivered"] += 1


def _verdict(counts: dict[str, float], examples: list[dict[str, Any]]) -> CheckResult:
    n, samples = int(counts["requests"]), int(counts["samples_ok"])
    if n == 0 and samples == 0:
        return CheckResult(NAME, "unknown", "no sampling request and no sample call", counts)
    bad = {
        "crossed answers": int(counts["crossed"]),
        "reused request ids": int(counts["reused_ids"]),
        "unanswered requests": int(counts["unanswered"]),
        "answers refused by the server": int(counts["rejected"]),
    }
    wrong = [f"{number} {what}" for what, number in bad.items() if number]
    if wrong:
        summary = ", ".join(wrong) + f" ({n} requests, {samples} sample calls ok)"
        return CheckResult(NAME, False, summary, counts, examples)
    unverified = int(counts["samples_unverified"])
    if n == 0 and unverified == samples:
        summary = f"{samples} sample calls, none with a nonce in its answer: not tested"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    summary = f"{n} requests answered, {samples - unverified} sample calls got their own answer"
    if unverified:
        summary += f" ({unverified} more could not be matched: no nonce in their answer)"
    undelivered = int(counts["undelivered"])
    if undelivered:
        summary += f"; {undelivered} answers never left the client"
    return CheckResult(NAME, True, summary, counts, examples)
