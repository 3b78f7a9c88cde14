"""Answers to server->client requests: sampling is answered from the request's nonce.

The reference server's ``sample`` tool puts a nonce in ``params.metadata`` and ``_meta``; the
answer text ``answer:<nonce>`` lets a checker see when an answer reached the wrong waiter.
"""

from __future__ import annotations

import re
from typing import Any

from harness.client.jsonrpc import METHOD_NOT_FOUND, JsonDict, error, result

ANSWER_PREFIX = "answer:"
_NONCE_IN_TEXT = re.compile(r"nonce[=: ]+([\w.:-]+)")


def nonce_of(params: Any) -> str | None:
    """The nonce a server->client request carries: _meta, metadata, or 'nonce=X' in a text."""
    if not isinstance(params, dict):
        return None
    for key in ("_meta", "metadata"):
        holder = params.get(key)
        if isinstance(holder, dict) and isinstance(holder.get("nonce"), str):
            return str(holder["nonce"])
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        text = content.get("text") if isinstance(content, dict) else None
        found = _NONCE_IN_TEXT.search(text) if isinstance(text, str) else None
        if found:
            return found.group(1)
    return None


def sampling_text(params: Any) -> str:
    """The deterministic answer text: ``answer:<nonce>``, or ``answer:`` + the first prompt."""
    nonce = nonce_of(params)
    if nonce is None and isinstance(params, dict):
        messages = params.get("messages") or [{}]
        content = messages[0].get("content") if isinstance(messages[0], dict) else None
        nonce = str(content.get("text", "")) if isinstance(content, dict) else ""
    return ANSWER_PREFIX + (nonce or "")


def reply_to(request: JsonDict) -> JsonDict:
    """The JSON-RPC response this client sends for a server->client request."""
    method = request.get("method")
    params = request.get("params")
    if method == "sampling/createMessage":
        return result(
            request["id"],
            {
                "role": "assistant",
                "content": {"type": "text", "text": sampling_text(params)},
                "model": "mcp-scale",
                "stopReason": "endTurn",
            },
        )
    if method == "roots/list":
        return result(request["id"], {"roots": []})
    if method == "ping":
        return result(request["id"], {})
    if method == "elicitation/create":
        return result(request["id"], {"action": "decline"})
    return error(request["id"], METHOD_NOT_FOUND, f"method not supported: {method}")
