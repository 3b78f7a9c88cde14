"""JSON-RPC 2.0 and MCP protocol constants and message builders (no I/O here)."""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]
RequestId = str | int

SUPPORTED_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION = "2025-11-25"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined server error range: the backing store is unreachable.
STORE_UNAVAILABLE = -32001
REQUEST_TIMEOUT = -32002

# 2026-07-28 (basic/index.mdx, "Error Codes").
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class RpcError(Exception):
    """A JSON-RPC error to send back to the client as is."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def error_response(
    request_id: RequestId | None, code: int, message: str, data: Any = None
) -> JsonDict:
    error: JsonDict = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def result_response(request_id: RequestId, result: JsonDict) -> JsonDict:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def notification(method: str, params: JsonDict | None = None) -> JsonDict:
    message: JsonDict = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def request(request_id: RequestId, method: str, params: JsonDict | None = None) -> JsonDict:
    message = notification(method, params)
    message["id"] = request_id
    return message


def is_request(message: JsonDict) -> bool:
    return "method" in message and "id" in message


def is_notification(message: JsonDict) -> bool:
    return "method" in message and "id" not in message


def is_response(message: JsonDict) -> bool:
    return (
        "method" not in message and "id" in message and ("result" in message or "error" in message)
    )


def validate_message(message: Any) -> str | None:
    """Why ``message`` is not a valid JSON-RPC 2.0 message, or None when it is."""
    if not isinstance(message, dict):
        return "a JSON-RPC message must be an object"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in message:
        if not isinstance(message["method"], str):
            return "method must be a string"
        if "params" in message and not isinstance(message["params"], dict):
            return "params must be an object"
        if "id" in message and not is_valid_id(message["id"]):
            return "id must be a string or an integer"
        return None
    if "id" not in message or not is_valid_id(message["id"]):
        return "a response needs a string or integer id"
    if ("result" in message) == ("error" in message):
        return "a response carries exactly one of result and error"
    if "error" in message and not _valid_error(message["error"]):
        return "error must be an object with an integer code and a string message"
    return None


def _valid_error(error: Any) -> bool:
    code = error.get("code") if isinstance(error, dict) else None
    return (
        isinstance(code, int)
        and not isinstance(code, bool)
        and isinstance(error.get("message"), str)
    )


def is_valid_id(value: Any) -> bool:
    """A JSON-RPC id as MCP has it: a string or an integer (not null, not a fraction)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def log_level_allows(message_level: str, session_level: str) -> bool:
    return LOG_LEVELS.index(message_level) >= LOG_LEVELS.index(session_level)
