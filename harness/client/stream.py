"""The listening GET stream of a session, in its own greenlet: read, record, answer, resume.

The stream knows its owner only as a ``StreamHost``: something that holds the current session,
opens the GET, re-initializes a session the server no longer knows, and takes in each message
the stream receives (McpClient is one).

The loop reconnects after every end of the stream: at once after a healthy stream broke, after
the server's ``retry`` when the server closed it cleanly, and with jittered exponential
backoff after failed attempts, giving up after ``stream_max_failures`` in a row. A reconnect
to the same session sends Last-Event-ID (the priming event's id counts), so the server can
replay what was missed; a 404 re-initializes the session and starts afresh.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import gevent
import gevent.event
from gevent import GreenletExit

from harness.client import jsonrpc
from harness.client.config import ClientConfig
from harness.client.errors import describe
from harness.client.recorder import Recorder
from harness.client.session import Session
from harness.client.sse import SseEvent, SseParser
from harness.client.transport import Response
from harness.history import Record

# A stream that ends sooner than this without one data event counts as a failed attempt.
HEALTHY_AFTER = 1.0


class StreamHost(Protocol):
    """What a ListeningStream needs from the client that owns it (McpClient implements it).

    Each call records its own history: ``open_get`` a ``stream_open`` operation,
    ``reinitialize`` a ``reinit``, ``deliver`` a ``message`` event (and the answer to a
    server->client request). The stream records its own ``stream_break`` events.
    """

    @property
    def session(self) -> Session | None:
        """The session the stream should listen to now (None: stop listening)."""
        ...

    def open_get(
        self, process: str, session: Session, last_event_id: str | None
    ) -> tuple[Record, Response | None, str | None]:
        """GETs the listening stream: (its record, the open response and its URL on ok)."""
        ...

    def reinitialize(self, stale: str, process: str) -> None:
        """A new session after the server answered 404 for ``stale`` (unless one exists)."""
        ...

    def deliver(
        self, message: Any, url: str, event_id: str | None, process: str, session: Session
    ) -> None:
        """Takes one message received on the stream (and answers it if it is a request)."""
        ...


class StreamGreenlet:
    """The greenlet that holds a stream and reopens it (``_run``): started at most once at a
    time, killed by ``stop``. ``connected`` is set while a stream is open; ``offered`` turns
    false when the server says it has no such stream (then ``start`` does nothing).

    What both kinds of stream do alike is here: reading one stream to its end, recording
    each end, a bad event and giving up, the backoff. ``kind`` is the ``stream`` tag of the
    messages it records (``get``, ``listen``)."""

    kind = "get"

    def __init__(self, config: ClientConfig, recorder: Recorder, process: str) -> None:
        self.connected = gevent.event.Event()
        self.offered = True
        self.process = process
        self._config = config
        self._recorder = recorder
        self._greenlet: gevent.Greenlet[[], None] | None = None

    def _run(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._greenlet is not None and not self._greenlet.dead

    def start(self) -> None:
        """Starts the stream, or starts it again after it gave up."""
        if self.offered and not self.running:
            self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Kills the greenlet (its socket is closed as it unwinds) and waits for it."""
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=True, timeout=timeout)
        self.connected.clear()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _backoff(self, failures: int) -> float:
        """Jittered exponential backoff after ``failures`` failed attempts in a row."""
        config = self._config
        delay = min(config.stream_backoff * 2.0 ** (failures - 1), config.stream_backoff_max)
        return delay * (0.5 + random.random() / 2)

    def _read(
        self,
        response: Response,
        url: str,
        session: str | None,
        parser: SseParser,
        take: Callable[[SseEvent, Any], bool],
        value: Callable[[str], dict[str, Any]],
        **tags: Any,
    ) -> tuple[bool, str]:
        """Reads one open stream to its end and records that end: a ``stream_break`` valued
        ``value(reason)``, ``fail`` if the stream broke on an error. Each JSON message goes to
        ``take(event, message)``, which says whether it was the stream's last (the server's
        graceful end, ``complete``); an event that is not JSON is recorded as a failed
        ``message`` and skipped, as one bad event says nothing of the next. Returns (healthy,
        reason); a stream is healthy if it brought data or stayed open ``HEALTHY_AFTER``."""
        started = time.monotonic()
        got = False
        reason, error = "eof", ""
        self.connected.set()
        try:
            readline = response.readline
            while True:
                line = readline(b"\n")
                if not line:
                    reason = "eof" if response.message_complete else "truncated"
                    break
                event = parser.feed(line)
                if event is None:
                    continue
                got = True
                try:
                    message = jsonrpc.loads(event.data)
                except ValueError as exc:
                    self._bad_message(event.data, url, session, exc)
                    continue
                if take(event, message):
                    reason = "complete"
                    break
        except GreenletExit:
            reason = "closed by client"
            raise
        except Exception as exc:
            reason, error = "error", describe(exc)
        finally:
            response.release()
            self.connected.clear()
            extras = {"error": error} if error else {}
            self._recorder.complete(
                "fail" if error else "ok",
                self.process,
                "stream_break",
                value(reason),
                started=started,
                session=session,
                url=url,
                **tags,
                **extras,
            )
        return got or time.monotonic() - started >= HEALTHY_AFTER, reason

    def _gave_up(self, failures: int, session: str | None, **tags: Any) -> None:
        """The loop's end after ``failures`` failed attempts in a row."""
        self._recorder.complete(
            "fail",
            self.process,
            "stream_break",
            {"reason": "gave up", "failures": failures},
            started=time.monotonic(),
            session=session,
            error=f"gave up after {failures} failed attempts",
            **tags,
        )

    def _bad_message(self, data: bytes, url: str, session: str | None, exc: Exception) -> None:
        """An event whose data is not JSON, as a failed ``message``."""
        self._recorder.complete(
            "fail",
            self.process,
            "message",
            data[:200].decode("utf-8", "replace"),
            started=time.monotonic(),
            session=session,
            url=url,
            stream=self.kind,
            error=describe(exc),
        )


class ListeningStream(StreamGreenlet):
    """Listens for ``host``'s session; ``connected`` is set while a stream is open."""

    def __init__(
        self, host: StreamHost, config: ClientConfig, recorder: Recorder, process: str
    ) -> None:
        super().__init__(config, recorder, process)
        self._host = host
        # The parser of the stream open now, or of the last one: its last event id is what a
        # reconnect sends, and it moves with every event read.
        self._parser = SseParser()
        self.retry_ms: int | None = None
        self.opened = 0  # streams opened so far
        self._session_id: str | None = None

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event received for the current session (None: none yet)."""
        return self._parser.last_event_id

    def _run(self) -> None:
        host, config = self._host, self._config
        failures = 0
        while failures <= config.stream_max_failures:
            session = host.session
            if session is None:
                return
            if session.id != self._session_id:
                self._session_id, self._parser = session.id, SseParser()
            record, response, url = host.open_get(self.process, session, self.last_event_id)
            if response is None or url is None:
                status = record.get("status")
                if status == 405:
                    self.offered = False  # the server offers no listening stream
                    return
                failures += 1
                if status == 404 and session.id and config.reinit_on_404:
                    host.reinitialize(session.id, self.process)
                    current = host.session
                    if current is None or current.id != session.id:
                        continue  # a new session: open its stream at once
                gevent.sleep(self._backoff(failures))
                continue
            self.opened += 1
            healthy, clean = self._consume(response, url, session)
            failures = 0 if healthy else failures + 1
            if failures:
                gevent.sleep(self._backoff(failures))
            elif clean and self.retry_ms:
                gevent.sleep(self.retry_ms / 1000)
        self._gave_up(failures, self._session_id)

    def _consume(self, response: Response, url: str, session: Session) -> tuple[bool, bool]:
        """Reads one open stream to its end; returns (healthy, ended cleanly by the server)."""
        parser = self._parser = SseParser(self.last_event_id)

        def take(event: SseEvent, message: Any) -> bool:
            self._host.deliver(message, url, event.id, self.process, session)
            return False

        def value(reason: str) -> dict[str, Any]:
            return {"reason": reason, "last_event_id": parser.last_event_id}

        try:
            healthy, reason = self._read(response, url, session.id, parser, take, value)
        finally:
            self.retry_ms = parser.retry_ms or self.retry_ms
        return healthy, reason == "eof"
