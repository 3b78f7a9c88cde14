"""JSON-RPC 2.0 encoding for the client: compact JSON bytes and message predicates."""

from __future__ import annotations

import json
from typing import Any

JsonDict = dict[str, Any]
METHOD_NOT_FOUND = -32601

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.loads


def encode(value: Any) -> str:
    """Compact JSON text of ``value`` (what ``dumps`` encodes to UTF-8)."""
    return _encode(value)


def dumps(message: JsonDict) -> bytes:
    return _encode(message).encode("utf-8")


def request(request_id: int | str, method: str, params: JsonDict | None) -> bytes:
    message: JsonDict = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return dumps(message)


def notification(method: str, params: JsonDict | None = None) -> bytes:
    message: JsonDict = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return dumps(message)


def result(request_id: Any, value: JsonDict) -> JsonDict:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def error(request_id: Any, code: int, message: str) -> JsonDict:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def is_request(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" in message


def is_response_to(message: Any, request_id: int | str) -> bool:
    return isinstance(message, dict) and "method" not in message and message.get("id") == request_id


def error_text(error_object: Any) -> str:
    if isinstance(error_object, dict):
        return f"{error_object.get('code')}: {error_object.get('message')}"
    return str(error_object)


def tool_value(result_object: Any) -> Any:
    """What a tools/call result is recorded as: its structuredContent, else its text."""
    if not isinstance(result_object, dict):
        return result_object
    if "structuredContent" in result_object:
        return result_object["structuredContent"]
    content = result_object.get("content")
    if isinstance(content, list):
        texts = [c.get("text", "") for c in content if isinstance(c, dict) and "text" in c]
        return texts[0] if len(texts) == 1 else texts
    return result_object
