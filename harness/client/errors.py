"""The client's errors, and the one boundary that turns any exception into an outcome.

Hierarchy::

    ClientError
    ├── HttpStatusError        the server answered with an HTTP error status (fail)
    │   └── SessionNotFound    404 for our Mcp-Session-Id: re-initialize (fail)
    ├── ProtocolError          the answer broke the protocol (info: it may have happened)
    └── StreamEnded            an SSE answer ended before its JSON-RPC response (info)

Every operation ends in ``ok``, ``fail`` (it surely did not happen) or ``info`` (unknown: it
may have happened). ``outcome`` is the only place that decides between fail and info; it
looks at the exception and at the stage the HTTP exchange had reached when it was raised.
"""

from __future__ import annotations

import enum
import errno
import json
import socket
import ssl
from typing import Any

import gevent
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError

from harness.history import OpType


class ClientError(Exception):
    """Root of the errors this client raises itself."""


class HttpStatusError(ClientError):
    def __init__(self, status: int, body: str = "", error: dict[str, Any] | None = None) -> None:
        super().__init__(f"HTTP {status}" + (f": {body}" if body else ""))
        self.status = status
        self.body = body
        self.error = error  # the JSON-RPC error object of the answer, when it had one


class SessionNotFound(HttpStatusError):
    """404 for a request that carried a session id: the session is gone."""


class ProtocolError(ClientError):
    """An answer that does not follow the Streamable HTTP or JSON-RPC rules."""


class StreamEnded(ClientError):
    """An SSE answer to a POST ended before the JSON-RPC response arrived."""


class Stage(enum.IntEnum):
    """How far one HTTP exchange got; errors before SEND_DONE mean nothing reached the server."""

    CONNECT = 0  # getting a connection (new or pooled)
    SEND = 1  # writing the request
    RESPONSE = 2  # request written; waiting for the status line and headers
    BODY = 3  # reading the answer's body or SSE stream


# Exceptions a transport raises, each with the outcome it has once the request may have been
# sent. Before that (CONNECT, SEND) every exception is a fail: the server never read a whole
# request. A subclass is looked up through its MRO, so the order here does not matter.
TRANSPORT_EXCEPTIONS: dict[type[BaseException], OpType] = {
    gevent.Timeout: "info",
    TimeoutError: "info",  # also socket.timeout
    ConnectionRefusedError: "fail",  # only ever raised by connect()
    socket.gaierror: "fail",  # name resolution, before connect()
    ConnectionResetError: "info",
    ConnectionAbortedError: "info",
    BrokenPipeError: "info",
    HTTPConnectionClosed: "info",
    HTTPParseError: "info",
    ssl.SSLError: "info",
    OSError: "info",
    json.JSONDecodeError: "info",
    UnicodeDecodeError: "info",
    ProtocolError: "info",
    StreamEnded: "info",
    ClientError: "info",
    HttpStatusError: "fail",  # the server answered: it refused the request
}

_UNSENT = (Stage.CONNECT, Stage.SEND)


def outcome(exc: BaseException, stage: Stage) -> tuple[OpType, str]:
    """(``fail`` or ``info``, a short error text) for ``exc`` raised at ``stage``.

    Before the request is fully written, nothing can have happened: ``fail``. After that, an
    exception of a type missing from TRANSPORT_EXCEPTIONS is unknown (``info``), as in Jepsen:
    a crash in the middle of an operation may have let it happen.
    """
    if isinstance(exc, HttpStatusError):
        return "fail", str(exc)
    if stage in _UNSENT:
        return "fail", describe(exc)
    return (_lookup(exc) or "info"), describe(exc)


def is_mapped(exc_type: type[BaseException]) -> bool:
    """Whether ``exc_type`` has an explicit entry (itself or a base) in the mapping."""
    return any(base in TRANSPORT_EXCEPTIONS for base in exc_type.__mro__)


def describe(exc: BaseException) -> str:
    """A short, stable error text: the type name, the errno name and the message."""
    if isinstance(exc, gevent.Timeout):
        return f"timeout after {exc.seconds}s"
    name = type(exc).__name__
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number in errno.errorcode:
        name += f"({errno.errorcode[number]})"
    text = str(exc)
    return f"{name}: {text}" if text else name


def is_connect_failure(exc: BaseException, stage: Stage) -> bool:
    """A failure of the node itself (no connection), which makes a sticky router move on."""
    return stage == Stage.CONNECT and isinstance(exc, (OSError, gevent.Timeout))


def is_link_failure(exc: BaseException) -> bool:
    """The connection to the node failed or broke, at any stage, without an answer from it
    (a node killed mid-request): what an idempotent request may be sent elsewhere after."""
    if isinstance(exc, ClientError | TimeoutError):
        return False  # the node answered (badly), or the op's time is up
    return isinstance(exc, OSError | HTTPConnectionClosed)


def _lookup(exc: BaseException) -> OpType | None:
    for base in type(exc).__mro__:
        kind = TRANSPORT_EXCEPTIONS.get(base)
        if kind is not None:
            return kind
    return None
