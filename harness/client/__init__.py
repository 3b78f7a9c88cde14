"""The load client: a synchronous MCP Streamable HTTP client for gevent, free of Locust.

``locust_user`` (imported on its own) puts a thin Locust User on top of it.
"""

from harness.client.answers import ANSWER_PREFIX, nonce_of, reply_to, sampling_text
from harness.client.client import McpClient
from harness.client.config import LATEST_VERSION, STATELESS_VERSION, VERSIONS, ClientConfig
from harness.client.errors import (
    TRANSPORT_EXCEPTIONS,
    ClientError,
    HttpStatusError,
    ProtocolError,
    SessionNotFound,
    Stage,
    StreamEnded,
    outcome,
)
from harness.client.listen import ListenStream
from harness.client.recorder import Hook, Recorder
from harness.client.routing import POLICIES, Router, make_router
from harness.client.session import Session
from harness.client.sse import SseEvent, SseParser
from harness.client.stream import ListeningStream, StreamHost
from harness.client.transport import Exchange, Transport
from harness.client.wire import SessionWire, StatelessWire, Wire, make_wire

__all__ = [
    "ANSWER_PREFIX",
    "LATEST_VERSION",
    "POLICIES",
    "STATELESS_VERSION",
    "TRANSPORT_EXCEPTIONS",
    "VERSIONS",
    "ClientConfig",
    "ClientError",
    "Exchange",
    "Hook",
    "HttpStatusError",
    "ListenStream",
    "ListeningStream",
    "McpClient",
    "ProtocolError",
    "Recorder",
    "Router",
    "Session",
    "SessionNotFound",
    "SessionWire",
    "SseEvent",
    "SseParser",
    "Stage",
    "StatelessWire",
    "StreamEnded",
    "StreamHost",
    "Transport",
    "Wire",
    "make_router",
    "make_wire",
    "nonce_of",
    "outcome",
    "reply_to",
    "sampling_text",
]
