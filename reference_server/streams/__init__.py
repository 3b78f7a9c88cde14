"""Stream managers: delivery of server messages to whichever node holds a session's stream."""

from reference_server.streams.base import OpenStream, StreamManager
from reference_server.streams.memory import InMemoryStreamManager
from reference_server.streams.redis import RedisStreamManager

__all__ = ["InMemoryStreamManager", "OpenStream", "RedisStreamManager", "StreamManager"]
