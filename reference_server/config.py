"""How one node is configured: identity, backends, limits and injected defects."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_server.defects import Defect
from reference_server.streams.base import EventLogLimits


@dataclass(frozen=True)
class ServerConfig:
    node_id: str = "n1"
    session_store: str = "memory"
    stream_manager: str = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    defects: frozenset[Defect] = field(default_factory=frozenset)
    session_ttl: float = 1800.0
    max_body_bytes: int = 4 * 1024 * 1024
    # Bound on every Redis command: an outage becomes a 503 in about this time.
    redis_timeout: float = 1.0
    # Bound on a server->client request (sampling) waiting for the client's answer.
    client_request_timeout: float = 30.0
    event_log: EventLogLimits = field(default_factory=EventLogLimits)
    allowed_origins: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
    # The key every node of a cluster seals requestState (2026-07-28 MRTR) with; None: a random
    # key of this node's own, so only this node accepts the states it issues.
    state_key: bytes | None = None
    # How long a requestState is accepted after it was issued, seconds.
    request_state_ttl: float = 300.0
