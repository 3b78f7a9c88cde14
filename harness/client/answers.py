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


def input_response(method: str | None, params: Any) -> JsonDict | None:
    """This client's result for a server->client request (None: not one it answers).

    The same answers serve 2025-11-25's requests on a stream and 2026-07-28's MRTR
    ``inputRequests``: sampling from the nonce, no roots, elicitation accepted with the
    schema's defaults (SEP-1034).
    """
    if method == "sampling/createMessage":
        return {
            "role": "assistant",
            "content": {"type": "text", "text": sampling_text(params)},
            "model": "mcp-scale",
            "stopReason": "endTurn",
        }
    if method == "roots/list":
        return {"roots": []}
    if method == "ping":
        return {}
    if method == "elicitation/create":
        schema = params.get("requestedSchema") if isinstance(params, dict) else None
        return {"action": "accept", "content": elicitation_defaults(schema)}
    return None


def elicitation_defaults(schema: Any) -> JsonDict:
    """Each field's ``default``; a required field without one gets a plain value of its type."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required") or []
    content: JsonDict = {}
    for name, field in properties.items():
        if not isinstance(field, dict):
            continue
        if "default" in field:
            content[name] = field["default"]
        elif name in required:
            content[name] = _plain(field)
    return content


def _plain(field: JsonDict) -> Any:
    choices = field.get("enum") or [c.get("const") for c in field.get("oneOf") or [] if c]
    if choices:
        return choices[0]
    return {"boolean": False, "integer": 0, "number": 0}.get(str(field.get("type")), "")


def text_of(response: JsonDict) -> str | None:
    """The text of a sampling answer (what a checker matches against the nonce)."""
    content = response.get("content")
    return content.get("text") if isinstance(content, dict) else None


def reply_to(request: JsonDict) -> JsonDict:
    """The JSON-RPC response this client sends for a server->client request."""
    method = request.get("method")
    answer = input_response(method if isinstance(method, str) else None, request.get("params"))
    if answer is None:
        return error(request["id"], METHOD_NOT_FOUND, f"method not supported: {method}")
    return result(request["id"], answer)
