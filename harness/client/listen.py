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

from typing import Any, Protocol

import gevent

from harness.client import jsonrpc
from harness.client.config import ClientConfig
from harness.client.recorder import Recorder
from harness.client.sse import SseEvent, SseParser
from harness.client.stream import StreamGreenlet
from harness.client.transport import Response
from harness.history import Record

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

    kind = "listen"

    def __init__(
        self,
        host: ListenHost,
        config: ClientConfig,
        recorder: Recorder,
        process: str,
        notifications: dict[str, Any],
    ) -> None:
        super().__init__(config, recorder, process)
        self._host = host
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
        self._gave_up(failures, None, stream=self.kind)

    def _consume(self, response: Response, url: str, subscription: int | None) -> bool:
        """Reads one listen stream to its end; whether it was healthy."""

        def take(event: SseEvent, message: Any) -> bool:
            self._host.deliver_listen(message, url, self.process)
            # The listen request's result is the server's graceful end of the subscription.
            return subscription is not None and jsonrpc.is_response_to(message, subscription)

        def value(reason: str) -> dict[str, Any]:
            return {"reason": reason, "subscription": subscription}

        healthy, _ = self._read(response, url, None, SseParser(), take, value, stream=self.kind)
        return healthy
