"""Reading the server's answer to one POST: HTTP status, then JSON or an SSE stream.

An SSE answer may carry related notifications and server->client requests before the
JSON-RPC response; each of them is handed to ``on_message`` (which records and answers it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.client import jsonrpc
from harness.client.errors import HttpStatusError, ProtocolError, SessionNotFound, StreamEnded
from harness.client.jsonrpc import JsonDict
from harness.client.sse import SseParser
from harness.client.transport import Response

# on_message(message, SSE event id): a message that arrived before the response.
OnMessage = Callable[[Any, "str | None"], None]


def read_answer(
    response: Response,
    rpc_id: int | None,
    has_session: bool,
    on_message: OnMessage,
    parser: SseParser | None = None,
) -> JsonDict | None:
    """The JSON-RPC response to ``rpc_id`` (None when ``rpc_id`` is None: a notification).

    Raises SessionNotFound for a 404 when the request carried a session id, HttpStatusError
    for any other status >= 400, ProtocolError or StreamEnded for a broken answer. An SSE
    answer is read with ``parser`` (whose last event id and retry a resumption needs).
    """
    status = response.status_code
    if status >= 400:
        body, error = error_answer(response)
        if status == 404 and has_session:
            raise SessionNotFound(status, body, error)
        raise HttpStatusError(status, body, error)
    if rpc_id is None:
        return None
    if status == 202:
        raise ProtocolError("202 Accepted for a request")
    if header(response, "content-type").startswith("text/event-stream"):
        return read_sse_answer(response, rpc_id, on_message, parser or SseParser())
    message = jsonrpc.loads(response.read())
    if not jsonrpc.is_response_to(message, rpc_id):
        raise ProtocolError(f"not the response to request {rpc_id}: {str(message)[:200]}")
    return dict(message)


def read_sse_answer(
    response: Response, rpc_id: int, on_message: OnMessage, parser: SseParser
) -> JsonDict:
    readline = response.readline
    while True:
        line = readline(b"\n")
        if not line:
            raise StreamEnded(f"SSE answer ended before the response to request {rpc_id}")
        event = parser.feed(line)
        if event is None:
            continue
        message = jsonrpc.loads(event.data)
        if jsonrpc.is_response_to(message, rpc_id):
            return dict(message)
        on_message(message, event.id)


def check_stream_response(response: Response, has_session: bool) -> None:
    """A GET's answer must be 200 text/event-stream; raises like read_answer otherwise."""
    status = response.status_code
    if status >= 400:
        body = error_body(response)
        if status == 404 and has_session:
            raise SessionNotFound(status, body)
        raise HttpStatusError(status, body)
    kind = header(response, "content-type")
    if not kind.startswith("text/event-stream"):
        raise ProtocolError(f"GET answered {status} {kind!r}, not an SSE stream")


def header(response: Response, name: str) -> str:
    value = response.get(name)
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""


def error_body(response: Response) -> str:
    """A short text of an error answer: its JSON-RPC error message, else its first bytes."""
    return error_answer(response)[0]


def error_answer(response: Response) -> tuple[str, JsonDict | None]:
    """An error answer's short text, and its JSON-RPC error object when it has one."""
    try:
        data = response.read()
    except Exception:  # the status alone is the error; the body is a courtesy
        return "", None
    try:
        error = jsonrpc.loads(data)["error"]
        return jsonrpc.error_text(error), error if isinstance(error, dict) else None
    except Exception:
        return data[:200].decode("utf-8", "replace"), None
