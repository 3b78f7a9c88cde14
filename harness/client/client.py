"""McpClient: a synchronous MCP Streamable HTTP client for gevent (no Locust in here).

Every operation records an ``invoke`` and then one completion (``ok``, ``fail`` or ``info``)
through the hook, and returns the completion record: ``op["type"]``, ``op["value"]``. Messages
the server sends (on a POST's SSE answer or on the listening stream) are recorded as
``message`` events; server->client requests among them are answered (``answer`` events).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.lock
from gevent import GreenletExit

from harness.client import answers, jsonrpc
from harness.client.config import ClientConfig
from harness.client.errors import (
    HttpStatusError,
    SessionNotFound,
    StreamEnded,
    describe,
    is_connect_failure,
    is_link_failure,
    outcome,
)
from harness.client.headers import header_block
from harness.client.jsonrpc import JsonDict
from harness.client.listen import ListenStream
from harness.client.recorder import Hook, Recorder
from harness.client.responses import (
    check_stream_response,
    error_body,
    header,
    read_answer,
    read_sse_answer,
)
from harness.client.routing import make_router
from harness.client.session import JSON_ACCEPT, STATELESS_ACCEPT, Session
from harness.client.sse import SseParser
from harness.client.stream import ListeningStream
from harness.client.transport import Exchange, Response, Transport
from harness.client.wire import make_wire
from harness.history import OpType, Record

# What an operation's body returns: (type, value, extra record fields).
Outcome = tuple[OpType, Any, dict[str, Any]]
Action = Callable[[Exchange], Outcome]
_NOT_GIVEN: Any = object()


class McpClient:
    """One MCP session at a time, its listening stream, and its record of everything.

    It is the ``StreamHost`` of its listening stream (``open_get``, ``reinitialize``,
    ``deliver``): the stream calls nothing else of it.
    """

    def __init__(
        self,
        config: ClientConfig,
        process: str = "p0",
        hook: Hook | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.config = config
        self.process = process
        self.stream_process = f"{process}/stream"
        self.router = make_router(config.routing, config.urls, config.start, config.seed)
        self.recorder = Recorder(hook, config.node_names)
        self.session: Session | None = None
        # The GET stream of a session (2025-11-25), or subscriptions/listen (2026-07-28).
        self.stream: ListeningStream | ListenStream | None = None
        self._transport = transport or Transport()
        self._own_transport = transport is None
        self._ids = itertools.count(1)
        self._static = header_block(config.headers)
        self._session_accept = STATELESS_ACCEPT if config.stateless else JSON_ACCEPT
        self._accept = self._session_accept + self._static  # a POST outside any session
        self.wire = make_wire(config, self._ids, self._accept)
        self._reinit_lock = gevent.lock.Semaphore()
        self._want_stream = False  # keep a listening stream open (restarted when it gave up)

    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session else None

    # ---- operations -------------------------------------------------------------------

    @property
    def needs_initialize(self) -> bool:
        """Whether a request needs ``initialize`` first (never in the stateless revision)."""
        return self.session is None and self.wire.stateful

    def initialize(self, timeout: float | None = None) -> Record:
        """initialize + notifications/initialized; on ok the client has a new session.

        The stateless revision has no handshake: this asks ``server/discover`` instead."""
        if not self.wire.stateful:
            return self.request("server/discover", {}, f="discover", timeout=timeout)
        value = {"protocolVersion": self.config.protocol_version}
        record = self._initialize("initialize", value, self.process, timeout)
        if record["type"] == "ok" and self._want_stream and self.stream is not None:
            self.stream.restart()  # the open stream belonged to the previous session
        return record

    def call_tool(
        self,
        name: str,
        arguments: JsonDict | None = None,
        timeout: float | None = None,
        progress_token: str | int | None = None,
        scheduled: float | None = None,
    ) -> Record:
        """tools/call, recorded as f="call:<name>" with the arguments as value (``scheduled``:
        see :meth:`request`)."""
        params: JsonDict = {"name": name, "arguments": arguments or {}}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        return self.request(
            "tools/call",
            params,
            f=f"call:{name}",
            value=arguments or {},
            timeout=timeout,
            scheduled=scheduled,
        )

    def set_level(self, level: str, timeout: float | None = None) -> Record:
        return self.request("logging/setLevel", {"level": level}, f="set_level", timeout=timeout)

    def subscribe(self, uri: str, timeout: float | None = None) -> Record:
        return self.request("resources/subscribe", {"uri": uri}, f="subscribe", timeout=timeout)

    def unsubscribe(self, uri: str, timeout: float | None = None) -> Record:
        params = {"uri": uri}
        return self.request("resources/unsubscribe", params, f="unsubscribe", timeout=timeout)

    def ping(self, timeout: float | None = None) -> Record:
        return self.request("ping", None, f="ping", timeout=timeout)

    def list_tools(self, timeout: float | None = None) -> Record:
        return self.request("tools/list", {}, f="list_tools", timeout=timeout)

    def request(
        self,
        method: str,
        params: JsonDict | None = None,
        *,
        f: str | None = None,
        value: Any = _NOT_GIVEN,
        timeout: float | None = None,
        scheduled: float | None = None,
        process: str | None = None,
    ) -> Record:
        """Any JSON-RPC request; a JSON-RPC error answer is a ``fail``. The wire decides
        what goes out, and how many rounds it takes (wire.py).

        ``scheduled``: the request's intended start (``time.monotonic()``) in an open model
        (requests at an arrival rate). Its latency then counts from that time, not from the
        send, so a request that waited for a free user is not measured as fast (no
        coordinated omission); the record's ``queued`` says how long it waited."""
        tool = method == "tools/call"
        process = process or self.process

        def action(exchange: Exchange) -> Outcome:
            session = self.session

            def post(body: bytes, rpc_id: int, headers: str | None) -> JsonDict | None:
                return self._post(body, rpc_id, exchange, process, session, headers)

            def note(f: str, value: Any) -> None:
                failed = isinstance(value, dict) and "error" in value
                self.recorder.complete(
                    "fail" if failed else "ok",
                    process,
                    f,
                    value,
                    started=time.monotonic(),
                    session=None,
                    url=exchange.node,
                )

            message, extras = self.wire.call(post, note, method, params)
            return _interpret(message, tool, extras)

        value = params if value is _NOT_GIVEN else value
        return self._run(process, f or method, value, timeout, action, scheduled=scheduled)

    def notify(self, method: str, params: JsonDict | None = None) -> Record:
        """A client notification (answered 202), recorded with f=<method>."""
        body = jsonrpc.notification(method, params)

        def action(exchange: Exchange) -> Outcome:
            self._post(body, None, exchange, self.process, self.session)
            return "ok", None, {}

        return self._run(self.process, method, params, None, action)

    def delete(self, timeout: float | None = None) -> Record:
        """DELETE the session (after stopping its stream); ok on any 2xx."""
        self.close_stream()
        session = self.session

        def action(exchange: Exchange) -> Outcome:
            if session is None or session.id is None:
                return "fail", None, {"error": "no session to delete"}
            url = exchange.node = self.router.pick()
            response = self._transport.open("DELETE", url, session.session_headers, b"", exchange)
            try:
                status = response.status_code
                if status >= 400:
                    raise HttpStatusError(status, error_body(response))
            finally:
                response.release()
            self.session = None
            return "ok", None, {"status": status}

        value = {"session": self.session_id}
        return self._run(self.process, "delete", value, timeout, action, reinit=False)

    def open_stream(self) -> ListeningStream | ListenStream:
        """Starts the listening stream in its own greenlet (idempotent): the session's GET
        stream, or in the stateless revision a subscriptions/listen stream."""
        if self.stream is None:
            if self.wire.stateful:
                self.stream = ListeningStream(self, self.config, self.recorder, self.stream_process)
            else:
                self.stream = ListenStream(
                    self, self.config, self.recorder, self.stream_process, self.config.listen_filter
                )
        self._want_stream = True
        self.stream.start()
        return self.stream

    def close_stream(self) -> None:
        self._want_stream = False
        if self.stream is not None:
            self.stream.stop()

    def close(self, delete: bool = False) -> None:
        """Kills the stream greenlet first, then (optionally) deletes, then closes sockets."""
        self.close_stream()
        if delete and self.session is not None and self.session.id is not None:
            self.delete()
        if self._own_transport:
            self._transport.close()

    # ---- the operation skeleton: invoke, bounded action, completion -------------------

    def _run(
        self,
        process: str,
        f: str,
        value: Any,
        timeout: float | None,
        action: Action,
        *,
        reinit: bool = True,
        event: bool = False,
        scheduled: float | None = None,
        idempotent: bool = False,
    ) -> Record:
        session_id = self.session_id
        started = time.monotonic() if event else self.recorder.invoke(process, f, value, session_id)
        queued: dict[str, float] = {}
        if scheduled is not None and scheduled < started:
            queued["queued"] = started - scheduled
            started = scheduled
        timer = gevent.Timeout.start_new(self.config.timeout if timeout is None else timeout)
        refused: list[str] = []
        try:
            while True:  # bounded: one attempt per node at most
                exchange = Exchange()
                try:
                    type_, result, extras = action(exchange)
                    break
                except BaseException as exc:
                    if not self._may_fail_over(exc, exchange, refused, idempotent):
                        raise
        except BaseException as exc:
            timer.close()
            if _foreign(exc, timer):
                self.recorder.complete(
                    "info",
                    process,
                    f,
                    value,
                    started=started,
                    session=session_id,
                    url=exchange.node,
                    error=f"interrupted: {describe(exc)}",
                    interrupted=True,
                    **queued,
                )
                raise
            record = self._failed(exc, exchange, process, f, value, started, session_id, queued)
            if reinit and isinstance(exc, SessionNotFound) and self.config.reinit_on_404:
                self._reinit(session_id, process)
            return record
        timer.close()
        session_id = extras.pop("session", session_id)
        if refused:
            extras["failed_over"] = [self.recorder.node(url) for url in refused]
        extras.update(queued)
        record = self.recorder.complete(
            type_,
            process,
            f,
            result,
            started=started,
            session=session_id,
            url=exchange.node,
            **extras,
        )
        if self._want_stream and process == self.process and type_ == "ok":
            self._revive_stream()
        return record

    def _may_fail_over(
        self, exc: BaseException, exchange: Exchange, refused: list[str], idempotent: bool
    ) -> bool:
        """Whether to send again to another node: when this one refused the connection, so
        the request surely never arrived (what a load balancer does for a dead backend), or,
        for an idempotent request, when the connection broke before any answer."""
        node = exchange.node
        if node is None or isinstance(exc, gevent.Timeout | GreenletExit):
            return False  # the op's time is up (or the op was killed): no second try
        cut = idempotent and is_link_failure(exc)
        if not (cut or is_connect_failure(exc, exchange.stage)):
            return False
        if self.config.routing == "single" or len(refused) + 1 >= len(self.router.urls):
            return False
        refused.append(node)
        self.router.failed(node)
        return True

    def _revive_stream(self) -> None:
        """Starts the stream again if it gave up (all nodes were down for a while)."""
        stream = self.stream
        if stream is not None and not stream.running and self.session is not None:
            stream.start()

    def _failed(
        self,
        exc: BaseException,
        exchange: Exchange,
        process: str,
        f: str,
        value: Any,
        started: float,
        session_id: str | None,
        queued: dict[str, float] | None = None,
    ) -> Record:
        type_, error = outcome(exc, exchange.stage)
        extras: dict[str, Any] = {"error": error, **(queued or {})}
        if isinstance(exc, HttpStatusError):
            extras["status"] = exc.status
        if exchange.node is not None and is_connect_failure(exc, exchange.stage):
            self.router.failed(exchange.node)
        return self.recorder.complete(
            type_,
            process,
            f,
            value,
            started=started,
            session=session_id,
            url=exchange.node,
            **extras,
        )

    # ---- sessions -----------------------------------------------------------------------

    def _initialize(
        self, f: str, value: JsonDict, process: str, timeout: float | None = None
    ) -> Record:
        config = self.config
        params = {
            "protocolVersion": config.protocol_version,
            "capabilities": config.capabilities,
            "clientInfo": {"name": config.client_name, "version": config.client_version},
        }
        rpc_id = next(self._ids)
        body = jsonrpc.request(rpc_id, "initialize", params)

        def action(exchange: Exchange) -> Outcome:
            url = exchange.node = self.router.pick()
            response = self._transport.open("POST", url, self._accept, body, exchange)

            def on_message(message: Any, event_id: str | None) -> None:
                self._received(message, "post", url, event_id, process, None)

            try:
                session_id = header(response, "mcp-session-id") or None
                message = read_answer(response, rpc_id, False, on_message)
            finally:
                response.release()
            if message is None or "error" in message:
                error = message.get("error") if message else None
                return "fail", error, {"error": jsonrpc.error_text(error)}
            result = message.get("result") or {}
            version = str(result.get("protocolVersion") or config.protocol_version)
            session = Session(
                session_id,
                version,
                url,
                result.get("serverInfo") or {},
                result.get("capabilities") or {},
                time.time(),
                self._session_accept,
                self._static,
            )
            initialized = jsonrpc.notification("notifications/initialized")
            self._post(initialized, None, exchange, process, session)
            exchange.node = url
            self.session = session
            done = {**value, "session": session_id, "protocolVersion": version}
            return "ok", done, {"session": session_id}

        return self._run(process, f, value, timeout, action, reinit=False)

    def reinitialize(self, stale: str, process: str) -> None:
        """StreamHost: the listening stream got a 404 (it goes on with the new session)."""
        self._reinit(stale, process, from_stream=True)

    def _reinit(self, stale: str | None, process: str, from_stream: bool = False) -> None:
        """A new session after a 404 for ``stale``, unless another greenlet made one already."""
        with self._reinit_lock:
            if stale is None or self.session_id != stale:
                return
            record = self._initialize("reinit", {"old_session": stale}, process)
        stream = self.stream
        if record["type"] == "ok" and not from_stream and stream is not None and self._want_stream:
            stream.restart()

    # ---- one POST and its answer ------------------------------------------------------

    def _post(
        self,
        body: bytes,
        rpc_id: int | None,
        exchange: Exchange,
        process: str,
        session: Session | None,
        headers: str | None = None,
    ) -> JsonDict | None:
        """POSTs one message; returns the response to ``rpc_id`` (None for a notification).

        ``headers`` replaces the session's header block (the stateless wire's own)."""
        url = exchange.node = self.router.pick()
        if headers is None:
            headers = session.post_headers if session else self._accept
        response = self._transport.open("POST", url, headers, body, exchange)

        def on_message(message: Any, event_id: str | None) -> None:
            self._received(message, "post", url, event_id, process, session)

        parser = SseParser()
        try:
            return read_answer(response, rpc_id, bool(session and session.id), on_message, parser)
        except StreamEnded:
            if rpc_id is None or session is None or not session.id or not parser.last_event_id:
                raise
        finally:
            response.release()
        return self._resume(rpc_id, parser, exchange, process, session)

    def _resume(
        self, rpc_id: int, parser: SseParser, exchange: Exchange, process: str, session: Session
    ) -> JsonDict:
        """2025-11-25: an SSE answer that ended before its response (the server closed it to
        be polled, or its node died) is resumed with GET + Last-Event-ID after the server's
        ``retry``, on the node the router picks.

        The request was sent: however a resumption fails, the outcome stays unknown. So the
        GETs have their own exchange (the request's stays at BODY, never a connect failure
        that would send the request again elsewhere), and any refusal is a StreamEnded."""
        for attempt in range(1, self.config.resume_max + 1):
            gevent.sleep((parser.retry_ms or 0) / 1000)
            last = parser.last_event_id
            url = self.router.pick()
            headers = f"{session.get_headers}Last-Event-ID: {last}\r\n"
            value = {"id": rpc_id, "last_event_id": last, "attempt": attempt}
            self.recorder.complete(
                "ok", process, "resume", value, started=time.monotonic(), session=session.id,
                url=url,
            )  # fmt: skip

            def on_message(message: Any, event_id: str | None, url: str = url) -> None:
                self._received(message, "post", url, event_id, process, session)

            resumed = SseParser(last)
            resumed.retry_ms = parser.retry_ms
            try:
                response = self._transport.open("GET", url, headers, b"", Exchange(), stream=True)
            except Exception as exc:
                raise StreamEnded(f"resuming the answer to {rpc_id}: {describe(exc)}") from exc
            try:
                check_stream_response(response, True)
                message = read_sse_answer(response, rpc_id, on_message, resumed)
                exchange.node = url
                return message
            except StreamEnded:
                parser = resumed
            except Exception as exc:
                raise StreamEnded(f"resuming the answer to {rpc_id}: {describe(exc)}") from exc
            finally:
                response.release()
        raise StreamEnded(
            f"the answer to request {rpc_id} did not come in {self.config.resume_max} resumptions"
        )

    # ---- messages from the server -----------------------------------------------------

    def deliver(
        self, message: Any, url: str, event_id: str | None, process: str, session: Session
    ) -> None:
        """StreamHost: a message received on the listening stream."""
        self._received(message, "get", url, event_id, process, session)

    def _received(
        self,
        message: Any,
        stream: str,
        url: str,
        event_id: str | None,
        process: str,
        session: Session | None,
    ) -> None:
        """Records a received message; answers it when it is a server->client request."""
        session_id = session.id if session else None
        self.recorder.message(process, message, session_id, url, stream, event_id)
        if jsonrpc.is_request(message) and self.wire.stateful:
            # The stateless revision forbids both the request and a POSTed answer to it.
            self._answer(message, process, session)

    def _answer(self, request: JsonDict, process: str, session: Session | None) -> Record:
        reply = answers.reply_to(request)
        body = jsonrpc.dumps(reply)
        value: JsonDict = {"id": request.get("id"), "method": request.get("method")}
        result = reply.get("result")
        if isinstance(result, dict) and isinstance(result.get("content"), dict):
            value["text"] = result["content"].get("text")

        def action(exchange: Exchange) -> Outcome:
            self._post(body, None, exchange, process, session)
            return "ok", value, {}

        # Idempotent: a server ignores a second answer to an id already answered, so an
        # answer cut by a dying node is sent to another, where the waiting node hears it.
        return self._run(
            process, "answer", value, None, action, reinit=False, event=True, idempotent=True
        )

    def open_get(
        self, process: str, session: Session, last_event_id: str | None
    ) -> tuple[Record, Response | None, str | None]:
        """StreamHost: GET the listening stream (op "stream_open"); the response is open on ok."""
        opened: list[tuple[Response, str]] = []
        headers = session.get_headers
        if last_event_id:
            headers += f"Last-Event-ID: {last_event_id}\r\n"

        def action(exchange: Exchange) -> Outcome:
            url = exchange.node = self.router.pick()
            response = self._transport.open("GET", url, headers, b"", exchange, stream=True)
            try:
                check_stream_response(response, bool(session.id))
            except BaseException:
                response.release()
                raise
            opened.append((response, url))
            return "ok", {"last_event_id": last_event_id}, {"session": session.id}

        value = {"last_event_id": last_event_id}
        record = self._run(process, "stream_open", value, None, action, reinit=False)
        if not opened:
            return record, None, None
        return record, opened[0][0], opened[0][1]

    # ---- the subscriptions/listen stream (ListenHost, 2026-07-28) ----------------------

    def open_listen(
        self, process: str, notifications: dict[str, Any]
    ) -> tuple[Record, Response | None, str | None, int | None]:
        """ListenHost: POST subscriptions/listen (op "listen_open"); open on ok."""
        rpc_id = next(self._ids)
        body, headers = self.wire.encode(
            rpc_id, "subscriptions/listen", {"notifications": notifications}
        )
        opened: list[tuple[Response, str]] = []

        def action(exchange: Exchange) -> Outcome:
            url = exchange.node = self.router.pick()
            response = self._transport.open(
                "POST", url, headers or self._accept, body, exchange, stream=True
            )
            try:
                check_stream_response(response, False)
            except BaseException:
                response.release()
                raise
            opened.append((response, url))
            return "ok", {"subscription": rpc_id}, {}

        value = {"notifications": notifications}
        record = self._run(process, "listen_open", value, None, action, reinit=False)
        if not opened:
            return record, None, None, None
        return record, opened[0][0], opened[0][1], rpc_id

    def relist(self, process: str, method: str) -> Record:
        """ListenHost: a list read again after the listen stream broke (op "relist")."""
        return self.request(method, {}, f="relist", value={"method": method}, process=process)

    def deliver_listen(self, message: Any, url: str, process: str) -> None:
        """ListenHost: a message of the listen stream (recorded; nothing to answer)."""
        self.recorder.message(process, message, None, url, "listen", None)


def _interpret(message: JsonDict | None, tool: bool, extras: dict[str, Any]) -> Outcome:
    """The outcome of a request's final response; ``extras`` (from the wire) go along."""
    if message is None:
        return "ok", None, extras
    if "error" in message:
        return "fail", message["error"], {**extras, "error": jsonrpc.error_text(message["error"])}
    result = message.get("result")
    if "error" in extras:
        return "fail", result, extras
    if not tool:
        return "ok", result, extras
    value = jsonrpc.tool_value(result)
    if isinstance(result, dict) and result.get("isError"):
        return "fail", value, {**extras, "error": f"tool error: {str(value)[:200]}"}
    return "ok", value, extras


def _foreign(exc: BaseException, timer: gevent.Timeout) -> bool:
    """Not ours to turn into an outcome: a kill, an interrupt, or someone else's timeout."""
    if isinstance(exc, gevent.Timeout):
        return exc is not timer
    return isinstance(exc, (GreenletExit, KeyboardInterrupt, SystemExit))
