"""The Streamable HTTP endpoint: header rules, sessions, and JSON or SSE answers.

Every store failure is turned into HTTP 503 here, in one place, so a Redis outage is a fast,
clear error and never a hang or a 500.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from reference_server.defects import Defect
from reference_server.dispatcher import Call, Dispatcher, initialize_result, negotiate_version
from reference_server.errors import StoreUnavailable
from reference_server.http_wire import (
    SSE_HEADERS,
    SSE_KEEPALIVE,
    HttpError,
    dumps,
    json_response,
    media_types,
    sse_event,
)
from reference_server.modern import ModernTransport, is_modern
from reference_server.node import Node
from reference_server.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    STORE_UNAVAILABLE,
    SUPPORTED_VERSIONS,
    JsonDict,
    RequestId,
    RpcError,
    error_response,
    is_notification,
    is_response,
    is_valid_id,
    request,
    result_response,
    validate_message,
)
from reference_server.sessions.base import SessionRecord

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
# Clients of 2025-11-25 reconnect this soon (ms) after the server ends a stream.
SSE_RETRY_MS = 1000
# Far deeper than any MCP message, far shallower than what overflows a serializer's stack
# when a message is echoed, stored or forwarded.
MAX_NESTING = 128
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


class McpTransport:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._dispatcher = Dispatcher(node)
        self._modern = ModernTransport(node, self._dispatcher)

    async def handle(self, request: Request) -> Response:
        self._node.stats.requests += 1
        try:
            _check_origin(request, self._node.config.allowed_origins)
            if request.method != "POST" and is_modern(request.headers, None):
                # 2026-07-28 has no GET stream and no sessions to DELETE.
                raise HttpError(405, INVALID_REQUEST, f"{request.method} is not used in 2026-07-28")
            if request.method == "POST":
                return await self._post(request)
            if request.method == "GET":
                return await self._get(request)
            if request.method == "DELETE":
                return await self._delete(request)
            raise HttpError(405, INVALID_REQUEST, f"method {request.method} not allowed")
        except HttpError as exc:
            return exc.response()
        except StoreUnavailable as exc:
            return json_response(
                error_response(None, STORE_UNAVAILABLE, f"session store unavailable: {exc}"), 503
            )

    async def _post(self, request: Request) -> Response:
        accept = media_types(request.headers.get("accept", ""))
        wants_json = bool(accept & {"application/json", "application/*", "*/*"})
        wants_sse = bool(accept & {"text/event-stream", "text/*", "*/*"})
        if not wants_json:
            raise HttpError(
                406, INVALID_REQUEST, "Accept must list application/json and text/event-stream"
            )
        if media_types(request.headers.get("content-type", "")) != {"application/json"}:
            raise HttpError(415, INVALID_REQUEST, "Content-Type must be application/json")
        message = await self._read_message(request)
        if is_modern(request.headers, message):
            return await self._modern.post(request, message, wants_sse)
        # A client that cannot take SSE at all is served statelessly: plain JSON, no session.
        stateful = "text/event-stream" in accept
        if message.get("method") == "initialize" and "id" in message:
            return await self._initialize(message, stateful)
        session = await self._session(request) if stateful else None
        if is_response(message):
            if session is not None:
                await self._node.streams.route_response(session.session_id, message)
            return Response(status_code=202)
        if is_notification(message):
            return Response(status_code=202)
        if wants_sse and self._dispatcher.tool_streams(message):
            return self._answer_as_stream(message, session)
        return await self._answer_as_json(message, session)

    async def _read_message(self, request: Request) -> JsonDict:
        limit = self._node.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, INVALID_REQUEST, f"body larger than {limit} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HttpError(413, INVALID_REQUEST, f"body larger than {limit} bytes")
        except ClientDisconnect as exc:
            raise HttpError(400, INVALID_REQUEST, "client disconnected mid-body") from exc
        message = parse_json(body)
        if isinstance(message, list):
            raise HttpError(400, INVALID_REQUEST, "JSON-RPC batches are not supported")
        problem = validate_message(message)
        if problem is not None:
            request_id = message.get("id") if isinstance(message, dict) else None
            request_id = request_id if is_valid_id(request_id) else None
            raise HttpError(400, INVALID_REQUEST, f"invalid request: {problem}", request_id)
        assert isinstance(message, dict)
        return message

    async def _initialize(self, message: JsonDict, stateful: bool) -> Response:
        params = message.get("params") or {}
        for name, kind in (("protocolVersion", str), ("capabilities", dict), ("clientInfo", dict)):
            if name in params and not isinstance(params[name], kind):
                must = "a string" if kind is str else "an object"
                error = error_response(message["id"], INVALID_PARAMS, f"{name} must be {must}")
                return json_response(error, 400)
        version = negotiate_version(params)
        result = result_response(
            message["id"], initialize_result(version, self._node.config.node_id)
        )
        if not stateful:
            return json_response(result)
        now = time.time()
        record = SessionRecord(
            session_id=secrets.token_hex(16),
            protocol_version=version,
            client_info=params.get("clientInfo") or {},
            capabilities=params.get("capabilities") or {},
            created_at=now,
            last_seen=now,
        )
        await self._node.store.create(record)
        return json_response(result, headers={"Mcp-Session-Id": record.session_id})

    async def _session(self, request: Request) -> SessionRecord:
        session_id = request.headers.get(SESSION_HEADER)
        if not session_id:
            raise HttpError(400, INVALID_REQUEST, "Mcp-Session-Id header is required")
        version = request.headers.get(VERSION_HEADER)
        if version is not None and version not in SUPPORTED_VERSIONS:
            raise HttpError(
                400,
                INVALID_REQUEST,
                f"unsupported MCP-Protocol-Version {version!r}; "
                f"supported: {', '.join(SUPPORTED_VERSIONS)}",
            )
        session = await self._node.store.get(session_id)
        if session is None:
            raise HttpError(404, INVALID_REQUEST, "session not found: initialize a new one")
        if Defect.FORGET_LOG_LEVEL in self._node.config.defects:
            session.log_level = self._node.local_log_levels.get(session_id, session.log_level)
        return session

    async def _answer_as_json(self, message: JsonDict, session: SessionRecord | None) -> Response:
        async def no_stream(_: JsonDict) -> None:
            return None

        async def no_requests(method: str, params: JsonDict) -> JsonDict:
            raise RpcError(
                INVALID_REQUEST, f"{method} needs an SSE answer: accept text/event-stream"
            )

        call = Call(message["id"], session, no_stream, no_requests)
        return json_response(await self._run(message, call))

    def _answer_as_stream(self, message: JsonDict, session: SessionRecord | None) -> Response:
        outbox: asyncio.Queue[JsonDict] = asyncio.Queue()
        call = Call(message["id"], session, outbox.put, self._asker(session, outbox.put))

        async def events() -> AsyncIterator[str]:
            task = asyncio.create_task(self._run(message, call))
            try:
                while True:
                    getter = asyncio.ensure_future(outbox.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield sse_event(dumps(getter.result()))
                        continue
                    getter.cancel()
                    while not outbox.empty():
                        yield sse_event(dumps(outbox.get_nowait()))
                    yield sse_event(dumps(task.result()))
                    return
            finally:
                task.cancel()

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    def _asker(
        self, session: SessionRecord | None, send: Callable[[JsonDict], Awaitable[None]]
    ) -> Callable[[str, JsonDict], Awaitable[JsonDict]]:
        streams = self._node.streams
        timeout = self._node.config.client_request_timeout

        async def ask_client(method: str, params: JsonDict) -> JsonDict:
            if session is None:
                raise RpcError(INVALID_REQUEST, f"{method} needs a session")
            request_id: RequestId = streams.next_request_id(session.session_id)
            waiter = await streams.expect_response(session.session_id, request_id)
            try:
                await send(request(request_id, method, params))
                answer = await asyncio.wait_for(waiter, timeout)
            except TimeoutError as exc:
                raise RpcError(REQUEST_TIMEOUT, f"no answer to {method} in {timeout}s") from exc
            finally:
                if not waiter.done():
                    await streams.cancel_response(session.session_id, request_id)
            if "error" in answer:
                error = answer["error"]
                raise RpcError(int(error.get("code", INTERNAL_ERROR)), str(error.get("message")))
            result = answer.get("result")
            return result if isinstance(result, dict) else {}

        return ask_client

    async def _run(self, message: JsonDict, call: Call) -> JsonDict:
        try:
            return result_response(message["id"], await self._dispatcher.handle(message, call))
        except RpcError as exc:
            return error_response(message["id"], exc.code, exc.message, exc.data)
        except StoreUnavailable as exc:
            return error_response(
                message["id"], STORE_UNAVAILABLE, f"session store unavailable: {exc}"
            )

    async def _get(self, request: Request) -> Response:
        accept = media_types(request.headers.get("accept", ""))
        if not accept & {"text/event-stream", "text/*", "*/*"}:
            raise HttpError(406, INVALID_REQUEST, "GET needs Accept: text/event-stream")
        session = await self._session(request)
        last_event_id = request.headers.get("last-event-id")
        stream = await self._node.streams.open_stream(session.session_id, last_event_id)
        prime = session.protocol_version >= "2025-11-25"
        streams = self._node.streams

        async def events() -> AsyncIterator[str]:
            try:
                if prime:
                    # Priming event: a client whose stream breaks before any message resumes
                    # from here, and so still gets what was sent meanwhile.
                    yield f"id: {stream.cursor}\nretry: {SSE_RETRY_MS}\ndata: \n\n"
                async for event in stream.events(SSE_KEEPALIVE):
                    if event is None:
                        yield ": keepalive\n\n"
                    else:
                        yield sse_event(event[1], event[0])
            finally:
                # A client that goes away cancels this generator: shielded, the release still
                # reaches Redis instead of being cut off mid-call (which left the owner key
                # until its TTL and dropped the pooled connection).
                await asyncio.shield(streams.release_stream(stream))

        headers = {**SSE_HEADERS, "Mcp-Session-Id": session.session_id}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def _delete(self, request: Request) -> Response:
        session = await self._session(request)
        await self._node.store.delete(session.session_id)
        await self._node.streams.forget_session(session.session_id)
        return Response(status_code=200)


def parse_json(body: bytes | bytearray) -> Any:
    """A body as strict JSON (RFC 8259: UTF-8, no NaN or Infinity, no lone surrogates), nested
    at most MAX_NESTING deep; anything else is a parse error."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, PARSE_ERROR, f"parse error: {exc}") from exc
    # Only a body with that many brackets can be that deep: most are not even looked at.
    if body.count(b"[") + body.count(b"{") > MAX_NESTING and _nested_deeper(value, MAX_NESTING):
        raise HttpError(400, PARSE_ERROR, f"parse error: nested deeper than {MAX_NESTING}")
    if _LONG_NUMBER.search(body):
        # orjson reads an integer past 64 bits as a float (an id 2**64 would stop being an
        # integer): read the body, known to be strict JSON by now, again for exact integers.
        try:
            value = json.loads(body)
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise HttpError(400, PARSE_ERROR, f"parse error: {exc}") from exc
    return value


def _nested_deeper(value: Any, limit: int) -> bool:
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _check_origin(request: Request, allowed_hosts: tuple[str, ...]) -> None:
    """Reject cross-site browser requests (DNS rebinding): only loopback origins may call."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    try:
        host = urlsplit(origin).hostname
    except ValueError:  # not even a URL ("http://[")
        host = None
    if host is None or (host not in allowed_hosts and f"[{host}]" not in allowed_hosts):
        raise HttpError(403, INVALID_REQUEST, f"origin {origin!r} is not allowed")
