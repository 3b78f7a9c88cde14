"""isolation: a message meant for session A is never seen on session B (G8).

A nonce belongs to the session its invoke ran on (every invoke whose value has a ``nonce``,
except broadcasts, which are meant for everyone). A message carrying that nonce (a notify's
``params.data.nonce``, a sampling request's ``params._meta.nonce``) received on another
session is ``crossed``. A nonce with no invoke in the history is checked by its prefix
instead: nonces start with the process name of the user that made them (``w0-u3-<hex>``),
so it must be the receiving user's. ``notifications/resources/updated`` for a uri the session
never asked to subscribe to is ``unsubscribed``. Both fail the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.checkers._common import Interned, add_example, nonce_in, user_of
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.history import NOT_CLIENTS, Record
from harness.history.fanout import Reads

NAME = "isolation"
COUNTS = ("checked", "crossed", "by_prefix", "unsubscribed", "updates_checked")
UPDATED = "notifications/resources/updated"
NOTIFY = "notifications/message"
_NO_OWNER = object()


def reads(ctx: CheckContext) -> Reads | None:
    """Messages and invokes only (harness.history.fanout.Selective)."""
    return lambda f, kind: f == "message" or kind == "invoke"


def check(history: Iterable[Record], ctx: CheckContext) -> CheckResult:
    if ctx.sessionless:
        # No session to cross: a listen stream's resource update (session null, no subscribe
        # op: its filter subscribes) would read as one sent to a non-subscriber.
        return CheckResult(NAME, "unknown", f"not applicable: {ctx.protocol} has no sessions")
    broadcast_f = ctx.tool_f("broadcast")
    owner: dict[str, Any] = {}  # nonce -> session
    subscribed: set[tuple[Any, Any]] = set()  # (session, uri) ever asked for
    counts = dict.fromkeys(COUNTS, 0.0)
    examples: list[dict[str, Any]] = []
    interned = Interned()  # session ids, one object each for a soak's many nonces
    for record in history:
        f = record["f"]
        if f == "message":
            _message(record, owner, subscribed, counts, examples)
        elif record["type"] == "invoke" and record["process"] not in NOT_CLIENTS:
            value = record.get("value")
            if not isinstance(value, dict):
                continue
            if f == "subscribe":
                subscribed.add((record.get("session"), value.get("uri")))
            elif f != broadcast_f:
                nonce = value.get("nonce")
                if isinstance(nonce, str):
                    owner[nonce] = interned(record.get("session"))
    return _verdict(counts, examples)


def _message(
    record: Record,
    owner: dict[str, Any],
    subscribed: set[tuple[Any, Any]],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> None:
    message: Any = record.get("value")
    try:
        # A notify's message (most of a soak's records): its nonce by subscripts under one
        # try, without the checks of each step that nonce_in makes, seconds over millions.
        nonce = message["params"]["data"]["nonce"] if message["method"] == NOTIFY else None
    except (KeyError, TypeError):
        nonce = None
    if type(nonce) is not str:
        nonce = _other_nonce(record, message, subscribed, counts, examples)
        if nonce is None:
            return
    counts["checked"] += 1
    meant_for = owner.get(nonce, _NO_OWNER)
    if meant_for is not _NO_OWNER:
        if meant_for != record.get("session"):
            counts["crossed"] += 1
            add_example(examples, record, meant_for=meant_for, why="another session's message")
        return
    counts["by_prefix"] += 1
    if not nonce.startswith(user_of(record["process"]) + "-"):
        counts["crossed"] += 1
        add_example(examples, record, why="another user's nonce")


def _other_nonce(
    record: Record,
    message: Any,
    subscribed: set[tuple[Any, Any]],
    counts: dict[str, float],
    examples: list[dict[str, Any]],
) -> str | None:
    """The nonce of a message other than a notify's, to check; a resource update is checked
    here against the subscriptions instead."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    if not isinstance(method, str) or method.endswith("/list_changed"):
        return None
    if method == UPDATED:
        params = message.get("params")
        uri = params.get("uri") if isinstance(params, dict) else None
        counts["updates_checked"] += 1
        if (record.get("session"), uri) not in subscribed:
            counts["unsubscribed"] += 1
            add_example(examples, record, uri=uri, why="update for a uri it never subscribed to")
        return None
    return nonce_in(message)


def _verdict(counts: dict[str, float], examples: list[dict[str, Any]]) -> CheckResult:
    checked, updates = int(counts["checked"]), int(counts["updates_checked"])
    crossed, unsubscribed = int(counts["crossed"]), int(counts["unsubscribed"])
    if checked == 0 and updates == 0:
        return CheckResult(NAME, "unknown", "no message carried a nonce or a resource", counts)
    if crossed or unsubscribed:
        parts = []
        if crossed:
            parts.append(f"{crossed} of {checked} messages seen on another session")
        if unsubscribed:
            parts.append(f"{unsubscribed} of {updates} updates sent to a non-subscriber")
        return CheckResult(NAME, False, "; ".join(parts), counts, examples)
    summary = f"{checked} messages stayed on their session"
    if updates:
        summary += f", {updates} resource updates only to subscribers"
    return CheckResult(NAME, True, summary, counts, examples)
