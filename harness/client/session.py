"""What the client knows about its current MCP session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON_ACCEPT = "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
SSE_ACCEPT = "Accept: text/event-stream\r\n"
# A client that cannot take SSE: the server answers in plain JSON and keeps no session.
STATELESS_ACCEPT = "Content-Type: application/json\r\nAccept: application/json\r\n"


@dataclass
class Session:
    id: str | None  # Mcp-Session-Id; None when the server does not keep sessions
    protocol_version: str
    node: str  # endpoint URL that created it
    server_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0  # epoch seconds
    accept: str = JSON_ACCEPT  # the POST header block: JSON_ACCEPT, or STATELESS_ACCEPT
    static: str = ""  # the run's static headers (headers.header_block), on every request
    # Preformatted header blocks (see Transport.open) for each kind of request.
    session_headers: str = field(init=False, repr=False)
    post_headers: str = field(init=False, repr=False)
    get_headers: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ident = f"Mcp-Session-Id: {self.id}\r\n" if self.id else ""
        version = f"MCP-Protocol-Version: {self.protocol_version}\r\n"
        self.session_headers = f"{ident}{version}{self.static}"
        self.post_headers = self.accept + self.session_headers
        self.get_headers = SSE_ACCEPT + self.session_headers
