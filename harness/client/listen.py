"""2026-07-28: the ``subscriptions/listen`` stream of a client, in its own greenlet.

The revision has no GET stream and no replay: change notifications come on the SSE answer of a
long ``subscriptions/listen`` POST (first ``notifications/subscriptions/acknowledged``, then
what the filter asked for, each tagged with the subscription id, the listen request's id). A
stream that drops lost whatever was sent meanwhile, so after every reopen the client lists
again what it listens to (tools, prompts, resources): a ``relist`` op per list.

The loop reopens after every end: at once after a healthy stream, with jittered exponential
backoff after failed attempts, giving up after ``stream_max_failures`` in a row; a server that
answers the listen request with 404 -32601 (no subscriptions) or 405 ends it.
"""

from __future__ import annotations

import random
import time
from typing import Any, Protocol

import gevent
from gevent import GreenletExit

from harness.client import jsonrpc
from harness.client.config import ClientConfig
from harness.client.errors import describe
from harness.client.recorder import Recorder
from harness.client.sse import SseParser
from harness.client.stream import StreamGreenlet
from harness.client.transport import Response
from harness.history import Record

HEALTHY_AFTER = 1.0  # a stream that ends sooner without a message is a failed attempt
# The list to read again after a break, for each filter field.
RELISTS = {
    "toolsListChanged": "tools/list",
    "promptsListChanged": "prompts/list",
    "resourcesListChanged": "resources/list",
}


class ListenHost(Protocol):
    """What a ListenStream needs from its client (McpClient implements it)."""

    def open_listen(
        self, process: str, notifications: dict[str, Any]
    ) -> tuple[Record, Response | None, str | None, int | None]:
        """POSTs subscriptions/listen (op ``listen_open``): its record, and on ok the open
        response, its URL and the request id (the subscription id)."""
        ...

    def relist(self, process: str, method: str) -> Record:
        """Lists again after a break (op ``relist``)."""
        ...

    def deliver_listen(self, message: Any, url: str, process: str) -> None:
        """Takes one message received on the stream."""
        ...


class ListenStream(StreamGreenlet):
    """Listens with ``notifications`` as the filter; ``connected`` is set while open."""

    def __init__(
        self,
        host: ListenHost,
        config: ClientConfig,
        recorder: Recorder,
        process: str,
        notifications: dict[str, Any],
    ) -> None:
        super().__init__()
        self._host = host
        self._config = config
        self._recorder = recorder
        self.process = process
        self.notifications = notifications
        self.opened = 0

    def _run(self) -> None:
        failures = 0
        config = self._config
        while failures <= config.stream_max_failures:
            record, response, url, subscription = self._host.open_listen(
                self.process, self.notifications
            )
            if response is None or url is None:
                if record.get("status") in (404, 405):
                    self.offered = False  # the server offers no subscriptions
                    return
                failures += 1
                gevent.sleep(self._backoff(failures))
                continue
            self.opened += 1
            if self.opened > 1:
                for field, method in RELISTS.items():
                    if self.notifications.get(field):
                        self._host.relist(self.process, method)
            healthy = self._consume(response, url, subscription)
            failures = 0 if healthy else failures + 1
            if failures:
                gevent.sleep(self._backoff(failures))
        self._recorder.complete(
            "fail",
            self.process,
            "stream_break",
            {"reason": "gave up", "failures": failures},
            started=time.monotonic(),
            session=None,
            error=f"gave up after {failures} failed attempts",
            stream="listen",
        )

    def _consume(self, response: Response, url: str, subscription: int | None) -> bool:
        """Reads one listen stream to its end; whether it was healthy."""
        parser = SseParser()
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
                message = jsonrpc.loads(event.data)
                self._host.deliver_listen(message, url, self.process)
                if subscription is not None and jsonrpc.is_response_to(message, subscription):
                    reason = "complete"  # the server ended the subscription gracefully
                    break
        except GreenletExit:
            reason = "closed by client"
            raise
        except Exception as exc:
            reason, error = "error", describe(exc)
        finally:
            response.release()
            self.connected.clear()
            value = {"reason": reason, "subscription": subscription}
            extras = {"error": error} if error else {}
            self._recorder.complete(
                "fail" if error else "ok",
                self.process,
                "stream_break",
                value,
                started=started,
                session=None,
                url=url,
                stream="listen",
                **extras,
            )
        return got or time.monotonic() - started >= HEALTHY_AFTER

    def _backoff(self, failures: int) -> float:
        config = self._config
        delay = min(config.stream_backoff * 2.0 ** (failures - 1), config.stream_backoff_max)
        return delay * (0.5 + random.random() / 2)
