"""HTTP answers shared by both protocol eras: JSON-RPC error bodies, JSON and SSE framing."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from reference_server.protocol import JsonDict, error_response

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# Seconds of silence on a long SSE stream (2025 GET stream, 2026 listen) before a keep-alive.
SSE_KEEPALIVE = 15.0


class HttpError(Exception):
    """Ends a request with ``status`` and a JSON-RPC error body."""

    def __init__(
        self, status: int, code: int, message: str, request_id: Any = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.data = data

    def response(self) -> Response:
        return json_response(
            error_response(self.request_id, self.code, self.message, self.data), self.status
        )


def dumps(message: JsonDict) -> str:
    return json.dumps(message, separators=(",", ":"))


def json_response(
    message: JsonDict, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(message), status, headers, media_type="application/json")


def sse_event(data: str, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: message\ndata: {data}\n\n"


def media_types(header: str) -> set[str]:
    """The media types a header lists: lower case, without parameters ("; q=0.9")."""
    return {part.split(";", 1)[0].strip().lower() for part in header.split(",")}
