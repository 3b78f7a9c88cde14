"""The SessionStore interface and the serializable session record it keeps."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class SessionRecord:
    """Everything a node needs to serve a session that another node created."""

    session_id: str
    protocol_version: str
    client_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    log_level: str = "debug"
    subscriptions: list[str] = field(default_factory=list)
    created_at: float = 0.0
    last_seen: float = 0.0

    def to_fields(self) -> dict[str, str]:
        """Flat string fields, one per attribute, for a Redis hash."""
        return {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> SessionRecord:
        return cls(
            session_id=fields["session_id"],
            protocol_version=fields["protocol_version"],
            client_info=json.loads(fields.get("client_info", "{}")),
            capabilities=json.loads(fields.get("capabilities", "{}")),
            log_level=fields.get("log_level", "debug"),
            subscriptions=json.loads(fields.get("subscriptions", "[]")),
            created_at=float(fields.get("created_at", "0")),
            last_seen=float(fields.get("last_seen", "0")),
        )


class SessionStore(Protocol):
    """Session metadata with sliding idle expiry.

    Implementations raise ``StoreUnavailable`` when their backend does not answer in bounded
    time, so that a request fails fast instead of hanging.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: str) -> SessionRecord | None:
        """The session, with its idle expiry pushed back; None if unknown or expired."""
        ...

    async def set_log_level(self, session_id: str, level: str) -> None: ...

    async def subscribe(self, session_id: str, uri: str) -> None: ...

    async def unsubscribe(self, session_id: str, uri: str) -> None: ...

    async def subscribers(self, uri: str) -> list[str]: ...

    async def live_sessions(self) -> list[str]: ...

    async def live_count(self) -> int: ...

    async def delete(self, session_id: str) -> bool:
        """Forget the session; True if it existed."""
        ...

    async def sweep(self) -> list[str]:
        """Drop sessions past their idle expiry; returns their ids (so that their stream
        state can be dropped too)."""
        ...
