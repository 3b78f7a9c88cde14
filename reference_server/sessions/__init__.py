"""Session metadata stores: where a session's negotiated state lives."""

from reference_server.sessions.base import SessionRecord, SessionStore
from reference_server.sessions.memory import InMemorySessionStore
from reference_server.sessions.redis import RedisSessionStore

__all__ = ["InMemorySessionStore", "RedisSessionStore", "SessionRecord", "SessionStore"]
