"""Sessions in this node's memory: honest about being lost when the node dies (G7)."""

from __future__ import annotations

import time

from reference_server.sessions.base import SessionRecord


class InMemorySessionStore:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._sessions: dict[str, SessionRecord] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._sessions.clear()

    async def create(self, record: SessionRecord) -> None:
        self._sessions[record.session_id] = record

    async def get(self, session_id: str) -> SessionRecord | None:
        record = self._sessions.get(session_id)
        if record is None:
            return None
        now = time.time()
        if now - record.last_seen > self._ttl:
            del self._sessions[session_id]
            return None
        record.last_seen = now
        return record

    async def set_log_level(self, session_id: str, level: str) -> None:
        if record := self._sessions.get(session_id):
            record.log_level = level

    async def subscribe(self, session_id: str, uri: str) -> None:
        record = self._sessions.get(session_id)
        if record is not None and uri not in record.subscriptions:
            record.subscriptions.append(uri)

    async def unsubscribe(self, session_id: str, uri: str) -> None:
        record = self._sessions.get(session_id)
        if record is not None and uri in record.subscriptions:
            record.subscriptions.remove(uri)

    async def subscribers(self, uri: str) -> list[str]:
        cutoff = time.time() - self._ttl
        return [
            sid
            for sid, rec in self._sessions.items()
            if uri in rec.subscriptions and rec.last_seen >= cutoff
        ]

    async def live_sessions(self) -> list[str]:
        cutoff = time.time() - self._ttl
        return [sid for sid, rec in self._sessions.items() if rec.last_seen >= cutoff]

    async def live_count(self) -> int:
        return len(await self.live_sessions())

    async def delete(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    async def sweep(self) -> list[str]:
        cutoff = time.time() - self._ttl
        expired = [sid for sid, rec in self._sessions.items() if rec.last_seen < cutoff]
        for sid in expired:
            del self._sessions[sid]
        return expired
