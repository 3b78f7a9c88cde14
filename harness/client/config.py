"""Settings of one MCP client: endpoints, routing, protocol, timeouts and stream retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LATEST_VERSION = "2025-11-25"  # the default revision a run speaks
STATELESS_VERSION = "2026-07-28"
# Every revision the client speaks: the session revisions, then the stateless one (wire.py).
SESSION_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
VERSIONS = (*SESSION_VERSIONS, STATELESS_VERSION)


@dataclass
class ClientConfig:
    urls: list[str]  # endpoint URLs, e.g. ["http://127.0.0.1:8001/mcp", ...]
    routing: str = "round_robin"  # round_robin | sticky | random | single (routing.POLICIES)
    start: int = 0  # index of the first node (spread clients over nodes with it)
    seed: int | None = None  # for random routing
    protocol_version: str = LATEST_VERSION
    client_name: str = "mcp-scale"
    client_version: str = "0.1.0"
    capabilities: dict[str, Any] = field(
        default_factory=lambda: {"sampling": {}, "roots": {"listChanged": True}}
    )
    timeout: float = 10.0  # bound on every request, from send to the end of its answer
    stateless: bool = False  # Accept only application/json: no session, no stream
    reinit_on_404: bool = True  # a 404 for our session starts a new one (op "reinit")
    stream_max_failures: int = 10  # failed reconnects in a row before a stream gives up
    stream_backoff: float = 0.05  # first reconnect delay after a failure, doubled each time
    stream_backoff_max: float = 2.0
    node_names: dict[str, str] = field(default_factory=dict)  # url -> name in records
    # Static headers on every request and stream (credentials); never recorded (headers.py).
    headers: dict[str, str] = field(default_factory=dict)
    # 2026-07-28: the filter of the client's subscriptions/listen stream (open_stream).
    listen_filter: dict[str, Any] = field(
        default_factory=lambda: {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
        }
    )
    mrtr_max_rounds: int = 8  # 2026-07-28: input_required rounds of one request at most
    resume_max: int = 5  # 2025-11-25: resumptions (GET + Last-Event-ID) of one POST answer

    def __post_init__(self) -> None:
        if self.protocol_version not in VERSIONS:
            raise ValueError(
                f"protocol version {self.protocol_version!r} is not spoken by this client; "
                f"choose one of {', '.join(VERSIONS)}"
            )
