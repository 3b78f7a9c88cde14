"""A thin Locust User over McpClient: a shared transport and history file per process, and
Locust's request event fired for every operation, stream connect and received message.

Settings come from class attributes of a subclass (or MCP_SCALE_RUN_DIR for the run dir)::

    class Notifications(McpUser):
        routing = "round_robin"
        wait_time = constant(1)

        @task
        def notify(self) -> None:
            self.client.call_tool("notify", {"count": 1, "nonce": self.nonce()})

``host`` (``--host``) may list several endpoint URLs separated by commas.
"""

from __future__ import annotations

import itertools
import os
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from locust import User
from locust.env import Environment
from locust.runners import WorkerRunner

from harness.client.client import McpClient
from harness.client.config import LATEST_VERSION, ClientConfig
from harness.client.transport import Transport
from harness.history import HistoryWriter, Record, history_path
from harness.run.directory import RUN_DIR_ENV


class OperationFailed(Exception):
    """What Locust counts for a ``fail`` record (its text groups failures in the stats)."""


class OperationUnknown(Exception):
    """What Locust counts for an ``info`` record: the outcome is unknown (a timeout, ...)."""


def worker_name(environment: Environment) -> str:
    """``w<index>`` of a Locust worker process, ``w0`` when Locust runs in one process."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return f"w{runner.worker_index}"
    return "w0"


class LocustHook:
    """A client hook: appends the record to the history, then fires Locust's request event."""

    def __init__(self, environment: Environment, writer: HistoryWriter | None) -> None:
        self._fire: Callable[..., Any] = environment.events.request.fire
        self._writer = writer

    def __call__(self, record: Record) -> None:
        if self._writer is not None:
            self._writer.write(record)
        kind = record["type"]
        if kind == "invoke" or "interrupted" in record:
            return  # a user stopped mid-call is in the history (info), not a Locust failure
        f = record["f"]
        context = {"process": record["process"], "session": record.get("session")}
        if f == "message":
            message = record.get("value")
            method = message.get("method") if isinstance(message, dict) else None
            self._fire(
                request_type="SSE",
                name=str(method or "response"),
                response_time=_delay_ms(record),
                response_length=0,
                exception=None if kind == "ok" else OperationFailed(record.get("error")),
                context=context,
            )
            return
        exception: Exception | None = None
        if kind == "fail":
            exception = OperationFailed(record.get("error"))
        elif kind == "info":
            exception = OperationUnknown(f"unknown: {record.get('error')}")
        self._fire(
            request_type="SSE" if f.startswith("stream") else "MCP",
            name=f,
            response_time=record.get("latency", 0.0) * 1000,
            response_length=0,
            exception=exception,
            context=context,
        )


def _delay_ms(record: Record) -> float:
    """How long a message took from its send time (params.data or params._meta) to us."""
    message = record.get("value")
    params = message.get("params") if isinstance(message, dict) else None
    if not isinstance(params, dict):
        return 0.0
    for holder in (params.get("data"), params.get("_meta")):
        if isinstance(holder, dict) and isinstance(holder.get("sent_at"), int | float):
            return max(0.0, (record["time"] - float(holder["sent_at"])) * 1000)
    return 0.0


@dataclass
class ProcessState:
    """What every McpUser of one Locust process shares."""

    worker: str
    transport: Transport
    hook: LocustHook
    writer: HistoryWriter | None
    users: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


_states: weakref.WeakKeyDictionary[Environment, ProcessState] = weakref.WeakKeyDictionary()


def process_state(environment: Environment, run_dir: str | None = None) -> ProcessState:
    """The process's shared transport and history writer, made on first use."""
    state = _states.get(environment)
    if state is None:
        worker = worker_name(environment)
        run_dir = run_dir or os.environ.get(RUN_DIR_ENV)
        writer = HistoryWriter(history_path(run_dir, worker)) if run_dir else None
        state = ProcessState(worker, Transport(), LocustHook(environment, writer), writer)
        _states[environment] = state
        on_stop: Callable[..., Any] = environment.events.test_stop.add_listener
        on_quit: Callable[..., Any] = environment.events.quitting.add_listener
        if writer is not None:
            on_stop(lambda **_: writer.flush())
        on_quit(lambda **_: _close(environment))
    return state


def _close(environment: Environment) -> None:
    """At quitting: the users stopped first (as at a timed end: each finishes its task
    within --stop-timeout, else is interrupted), then the history closed. Sent SIGTERM (how
    a run ends on --until-requests), Locust fires quitting before it stops the users, so
    the records of the operations in flight then (a call, the answer it was sending) were
    written to a closed history and lost."""
    state = _states.pop(environment, None)
    if state is not None:
        if environment.runner is not None:
            environment.runner.stop()  # returns at once if the users already stopped
        if state.writer is not None:
            state.writer.close()
        state.transport.close()


class McpUser(User):
    """An MCP session per simulated user: initialized (and listening) on start."""

    abstract = True
    urls: ClassVar[list[str] | None] = None  # endpoint URLs; default: host split on commas
    routing: ClassVar[str] = "round_robin"
    protocol_version: ClassVar[str] = LATEST_VERSION
    timeout: ClassVar[float] = 10.0
    listen: ClassVar[bool] = True  # open the listening stream after initialize
    delete_on_stop: ClassVar[bool] = True
    run_dir: ClassVar[str | None] = None  # else MCP_SCALE_RUN_DIR; none: no history file
    client_options: ClassVar[dict[str, Any]] = {}  # more ClientConfig fields

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        state = process_state(environment, self.run_dir)
        number = next(state.users)
        self.process_name = f"{state.worker}-u{number}"
        urls = self.urls or [url.strip() for url in (self.host or "").split(",") if url.strip()]
        config = ClientConfig(
            urls=urls,
            routing=self.routing,
            start=number,
            protocol_version=self.protocol_version,
            timeout=self.timeout,
            **self.client_options,
        )
        self.client = McpClient(config, self.process_name, state.hook, state.transport)

    def on_start(self) -> None:
        self.ensure_session()

    def on_stop(self) -> None:
        self.client.close(delete=self.delete_on_stop)

    def ensure_session(self) -> bool:
        """Initializes when the client has no session, and opens the listening stream.

        Waits (up to ``timeout``) until the stream is open: a message sent before that is not
        on any stream, and a checker would count it lost. True if the client has a session.
        """
        if self.client.needs_initialize and self.client.initialize()["type"] != "ok":
            return False
        if self.listen:
            # Idempotent; it also starts again a stream that gave up, which would otherwise
            # leave every later action waiting its whole timeout below.
            stream = self.client.open_stream()
            # Also after a reinit or a broken stream: a new session's stream must be open
            # before anything is sent to it (unless the server offers none).
            if stream.offered and not stream.connected.is_set():
                stream.connected.wait(self.timeout)
        return True

    def nonce(self) -> str:
        """A fresh nonce naming this user, for arguments that checkers attribute."""
        return f"{self.process_name}-{uuid.uuid4().hex[:12]}"
