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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.checkers._common import INF, Interned, add_example, nonce_in, text_of, user_of
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import Record
from harness.history.fanout import Reads

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


def reads(ctx: CheckContext) -> Reads | None:
    """Every record (harness.history.fanout.Selective)."""
    return None


def check(history: Iterable[Record], ctx: CheckContext) -> CheckResult:
    if ACTION in ctx.untested_actions:
        return CheckResult(NAME, "unknown", "not tested (no tool for sample)")
    tool_f = ctx.tool_f(ACTION)
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    requests: dict[tuple[Any, Any], _Request] = {}  # by (session, id)
    answers: dict[tuple[Any, Any], _Answer] = {}  # recorded before their request
    interned = Interned()
    pending: dict[str, Record] = {}
    stopped: dict[str, float] = {}  # user -> when the run's end stopped it mid-operation
    for record in history:
        f = record["f"]
        if record.get("interrupted"):
            stopped.setdefault(user_of(record["process"]), record["time"])
        if f == "message":
            _request(record, requests, answers, interned, counts, examples)
        elif f == "answer":
            value = record.get("value")
            if isinstance(value, dict) and value.get("method") == SAMPLING:
                key = (interned(record.get("session")), _key(value.get("id")))
                request = requests.get(key)
                if request is None:
                    answers.setdefault(key, _answer(record))
                elif request.answer is None:
                    # On the request, not in answers: a soak's 300,000 answers each kept a key
                    # of its own, objects that fragment the heap (see KeptRecords).
                    request.answer, request.record = _answer(record), None  # never an example
        elif f == tool_f:
            if record["type"] == "invoke":
                pending[record["process"]] = record
            else:
                _sample(pending.pop(record["process"], None), record, counts, examples)
    _tally_answers(requests, stopped, counts, examples)
    return _verdict(counts, examples)


@dataclass(slots=True)
class _Request:
    """A sampling request received: what the checks read of it, its record while it may
    still be an example (until its answer arrives), and the first answer to it."""

    process: str
    time: float
    nonce: str | None
    record: Record | None
    answer: _Answer | None = None


# An answer: its type; the record itself where it is an example (refused with a status).
_Answer = str | Record


def _answer(record: Record) -> _Answer:
    kind = record["type"]
    return record if kind not in ("ok", "info") and "status" in record else kind


def _key(request_id: Any) -> Any:
    return request_id if isinstance(request_id, str | int | float) else repr(request_id)


def _request(
    record: Record,
    requests: dict[tuple[Any, Any], _Request],
    answers: dict[tuple[Any, Any], _Answer],
    interned: Interned,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    message = record.get("value")
    if not isinstance(message, dict) or message.get("method") != SAMPLING or "id" not in message:
        return
    key = (interned(record.get("session")), _key(message["id"]))
    nonce = nonce_in(message)
    first = requests.get(key)
    if first is not None:
        if first.nonce == nonce:
            counts["replayed"] += 1
            return
        counts["requests"] += 1
        counts["reused_ids"] += 1
        add_example(examples, record, first=first.nonce, why="request id reused on session")
        return
    answer = answers.pop(key, None)
    kept = record if answer is None else None
    requests[key] = _Request(interned(record["process"]), record["time"], nonce, kept, answer)
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
    elif not _stands_in(text, ANSWER_PREFIX + nonce):
        counts["crossed"] += 1
        add_example(examples, done, nonce=nonce, got=text, why="crossed answer")


def _stands_in(text: str, answer: str) -> bool:
    r"""Whether ``answer`` stands in ``text`` as a whole (``re.search(answer + r"(?![\w-])")``,
    without compiling a pattern for each of a soak's nonces)."""
    at = text.find(answer)
    while at >= 0:
        after = at + len(answer)
        if after == len(text) or not (text[after].isalnum() or text[after] in "_-"):
            return True
        at = text.find(answer, at + 1)
    return False


def _tally_answers(
    requests: dict[tuple[Any, Any], _Request],
    stopped: dict[str, float],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    for request in requests.values():
        answer = request.answer
        if answer is None and stopped.get(user_of(request.process), -INF) >= request.time:
            # The run's end stopped the client before it could answer: censored, not lost.
            counts["stopped"] += 1
        elif answer is None:
            counts["unanswered"] += 1
            assert request.record is not None  # kept while unanswered
            add_example(examples, request.record, why="never answered by the client")
        elif answer == "ok":
            counts["answered"] += 1
        elif answer == "info":
            counts["unsure"] += 1
        elif isinstance(answer, dict):  # refused with a status: kept by _answer
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
