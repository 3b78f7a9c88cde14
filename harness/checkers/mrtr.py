"""mrtr: a multi round-trip request finishes on any node, with its own answer, once (G10,
2026-07-28).

A ``call:sample`` in this revision answers ``input_required`` with a sealed ``requestState``;
the client answers and sends the request again, routed like any request, so the retry often
lands on another node. For every sample call that got at least one round (``input_required``
events between its invoke and its completion, FORMAT.md):

- each round's retry must be served: the call completes ``ok``. A retry the server refused
  (a JSON-RPC error or an HTTP status: a state that failed verification on another node...)
  is ``refused`` (fails), unless a fault held the cluster then (``refused_in_fault``: a Redis
  outage makes the retry a fast 503; a node killed mid-round may have used the state).
  A retry that never reached a server (connection refused) is ``failed_transport`` and one of
  unknown outcome ``unsure``: the client's side, reported only (liveness judges hangs).
  ``cross_node`` counts retries served by another node than the round that asked;
- the answer must be the call's own: the result's text holds ``answer:<its nonce>``,
  otherwise ``crossed`` (fails).

Single use: only what the run tried is judged. The mrtr scenario sends a few used states
again on purpose (op ``mrtr_replay``: ``replay`` unchanged, ``tamper`` with a character
changed); each must be refused with a JSON-RPC error (``replays_rejected``). A tampered state
accepted is ``replays_accepted`` (fails: the spec's MUST on integrity). An unchanged state
accepted again fails too where single use is promised (the reference server:
``CheckContext.single_use_states``); of another server the spec asks single use only for
one-time operations, so there it is ``replays_reused``, reported as a finding. A run without
such ops says it did not judge replays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.checkers._common import Faults, add_example, text_of
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import NEMESIS, NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "mrtr"
ACTION = "sample"
REPLAY = "mrtr_replay"  # scenarios/mrtr.py
COUNTS = (
    "calls",
    "rounds",
    "completed",
    "cross_node",
    "refused",
    "refused_in_fault",
    "failed_transport",
    "unsure",
    "crossed",
    "unverified",
    "direct",
    "replays",
    "replays_rejected",
    "replays_accepted",
    "replays_reused",
    "replays_unsure",
)
ANSWER_PREFIX = "answer:"
FAULT_GRACE = 5.0  # seconds after a fault's heal during which a refusal is put down to it
_RPC_ERROR = re.compile(r"-32\d{3}")


@dataclass
class _Call:
    invoke: Record
    nodes: list[Any] = field(default_factory=list)  # the node of each input_required round


def reads(ctx: CheckContext) -> Reads | None:
    """Every record (not narrowed yet for harness.history.fanout.Selective)."""
    return None


def check(
    history: Iterable[Record], ctx: CheckContext, *, fault_grace: float = FAULT_GRACE
) -> CheckResult:
    if ACTION in ctx.untested_actions:
        return CheckResult(NAME, "unknown", "not tested (no tool for sample)")
    tool_f = ctx.tool_f(ACTION)
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    faults = Faults()
    calls: dict[str, _Call] = {}
    replays: dict[str, Record] = {}
    for record in history:
        f, process = record["f"], record["process"]
        if process == NEMESIS:
            faults.feed(record)
            continue
        if process in NOT_CLIENTS:
            continue
        if f == "input_required":
            call = calls.get(process)
            if call is not None:
                call.nodes.append(record.get("node"))
        elif f == tool_f:
            if record["type"] == "invoke":
                calls[process] = _Call(record)
            else:
                call = calls.pop(process, None)
                if call is not None:
                    _done(call, record, faults, fault_grace, counts, examples)
        elif f == REPLAY:
            if record["type"] == "invoke":
                replays[process] = record
            else:
                invoke = replays.pop(process, None)
                if invoke is not None:
                    _replayed(invoke, record, ctx.single_use_states, counts, examples)
    return _verdict(counts, examples)


def _done(
    call: _Call,
    done: Record,
    faults: Faults,
    fault_grace: float,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    if not call.nodes:
        counts["direct"] += done["type"] == "ok"
        return
    if done.get("interrupted"):
        return  # the run's end stopped it mid-round: nothing to judge
    counts["calls"] += 1
    counts["rounds"] += len(call.nodes)
    served_by = [*call.nodes[1:], done.get("node")]
    if done["type"] == "ok":
        counts["completed"] += 1
        counts["cross_node"] += sum(a != b for a, b in zip(call.nodes, served_by, strict=True))
        _answer(call.invoke, done, counts, examples)
        return
    # The rounds before the last one were served (each asked again); the last one was not.
    counts["cross_node"] += sum(
        a != b for a, b in zip(call.nodes[:-1], served_by[:-1], strict=True)
    )
    if done["type"] == "info":
        counts["unsure"] += 1
    elif not _server_answered(done):
        counts["failed_transport"] += 1
    elif _in_fault(faults, done["time"], fault_grace):
        counts["refused_in_fault"] += 1
    else:
        counts["refused"] += 1
        add_example(
            examples,
            done,
            "a retry was refused",
            asked_by=call.nodes[-1],
            retried_on=done.get("node"),
            round=len(call.nodes),
        )


def _answer(
    invoke: Record, done: Record, counts: dict[str, float], examples: list[dict[str, Any]]
) -> None:
    value = invoke.get("value")
    nonce = value.get("nonce") if isinstance(value, dict) else None
    text = text_of(done.get("value")) or ""
    if not isinstance(nonce, str) or ANSWER_PREFIX not in text:
        counts["unverified"] += 1
    elif not re.search(re.escape(ANSWER_PREFIX + nonce) + r"(?![\w-])", text):
        counts["crossed"] += 1
        add_example(examples, done, "another request's answer", nonce=nonce, got=text)


def _replayed(
    invoke: Record,
    done: Record,
    single_use: bool,
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    if done.get("interrupted"):
        return
    counts["replays"] += 1
    value = invoke.get("value")
    kind = value.get("kind") if isinstance(value, dict) else None
    if done["type"] == "ok" and kind == "replay" and not single_use:
        counts["replays_reused"] += 1
    elif done["type"] == "ok":
        counts["replays_accepted"] += 1
        add_example(examples, done, f"a {kind} requestState was accepted", kind=kind)
    elif done["type"] == "fail" and _server_answered(done):
        counts["replays_rejected"] += 1
    else:
        counts["replays_unsure"] += 1


def _server_answered(record: Record) -> bool:
    """Whether a failure is the server's answer (an HTTP status or a JSON-RPC error), not a
    request that never reached one."""
    return "status" in record or bool(_RPC_ERROR.search(str(record.get("error", ""))))


def _in_fault(faults: Faults, time: float, grace: float) -> bool:
    return any(e.applied and e.start <= time <= e.until + grace for e in faults.episodes)


def _verdict(counts: dict[str, float], examples: list[dict[str, Any]]) -> CheckResult:
    calls, replays = int(counts["calls"]), int(counts["replays"])
    if calls == 0 and replays == 0:
        summary = "no sample call went through an input_required round"
        if counts["direct"]:
            summary += f" ({int(counts['direct'])} completed without one)"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    bad = {
        "retries refused": int(counts["refused"]),
        "answers to another request": int(counts["crossed"]),
        "used or tampered requestStates accepted": int(counts["replays_accepted"]),
    }
    wrong = [f"{number} {what}" for what, number in bad.items() if number]
    rounds, cross = int(counts["rounds"]), int(counts["cross_node"])
    if wrong:
        summary = ", ".join(wrong) + f" ({calls} calls in {rounds} rounds)"
        return CheckResult(NAME, False, summary, counts, examples)
    if cross == 0:
        summary = f"{calls} calls, but no retry was served by another node: cross-node not tested"
        return CheckResult(NAME, "unknown", summary, counts, examples)
    summary = (
        f"{int(counts['completed'])} of {calls} calls completed their {rounds} rounds "
        f"({cross} retries on another node)"
    )
    if counts["unverified"]:
        summary += f", {int(counts['unverified'])} answers could not be matched (no nonce)"
    if replays:
        summary += f"; {int(counts['replays_rejected'])} of {replays} replayed states refused"
    if counts["replays_reused"]:
        summary += (
            f" ({int(counts['replays_reused'])} used states accepted again: allowed by the spec"
            " unless the operation is one-time)"
        )
    else:
        summary += "; replays not judged (the run sent no used state again)"
    other = int(counts["refused_in_fault"] + counts["failed_transport"] + counts["unsure"])
    if other:
        summary += f"; {other} calls failed in faults or on the way"
    return CheckResult(NAME, True, summary, counts, examples)
