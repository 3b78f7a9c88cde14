"""The 2026-07-28 half of the /mcp endpoint: stateless requests, each validated on its own
headers and ``_meta``, answered as JSON or as an SSE stream scoped to the request.

Multi round-trip requests: a handler that needs client input raises InputRequired; the answer
is an ``input_required`` result whose requestState is sealed with the cluster's key (any node
opens it) and, when retried, verified, bound to its request and used up in the
RequestStateStore (a replay is refused on every node) before the handler runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from reference_server.defects import Defect
from reference_server.dispatcher import Call, Dispatcher
from reference_server.errors import StoreUnavailable
from reference_server.http_wire import (
    SSE_HEADERS,
    SSE_KEEPALIVE,
    HttpError,
    dumps,
    json_response,
    sse_event,
)
from reference_server.modern.discover import complete_result, discover_result, with_server_info
from reference_server.modern.meta import RequestMeta, validate_request
from reference_server.mrtr import Binding, InputRequired, InputRound, InvalidState
from reference_server.node import Node
from reference_server.protocol import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_CLIENT_CAPABILITY,
    STORE_UNAVAILABLE,
    JsonDict,
    RpcError,
    error_response,
    is_notification,
    is_response,
    result_response,
)
from reference_server.subscriptions import listen

# What 2026-07-28 removed (ping, logging/setLevel, resources/(un)subscribe, initialize) is not
# here, so it is answered 404 / -32601 like any unknown method.
METHODS = frozenset(
    {
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "subscriptions/listen",
    }
)
# The requests that may answer input_required (mrtr.mdx, "Supported Requests").
MRTR_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
# Errors the revision wants as HTTP 400 even when the request itself was well formed.
_BAD_REQUEST_CODES = frozenset({MISSING_CLIENT_CAPABILITY})


class ModernTransport:
    def __init__(self, node: Node, dispatcher: Dispatcher) -> None:
        self._node = node
        self._dispatcher = dispatcher

    async def post(self, request: Request, message: JsonDict, wants_sse: bool) -> Response:
        if is_response(message):
            raise HttpError(
                400,
                INVALID_REQUEST,
                "in 2026-07-28 clients send no JSON-RPC responses: answer input requests in "
                "the retry's inputResponses",
                message.get("id"),
            )
        if is_notification(message):
            return Response(status_code=202)
        meta = validate_request(request.headers, message)
        method, request_id = message["method"], message["id"]
        if method not in METHODS:
            raise HttpError(404, METHOD_NOT_FOUND, f"method not found: {method}", request_id)
        if method == "server/discover":
            result = complete_result(method, discover_result(self._node.config.node_id))
            return json_response(result_response(request_id, result))
        if method == "subscriptions/listen":
            return await self._listen(message)
        try:
            input_round = await self._input_round(method, message.get("params") or {})
        except RpcError as exc:
            return json_response(error_response(request_id, exc.code, exc.message, exc.data))
        if wants_sse and self._dispatcher.tool_streams(message):
            return await self._stream(message, meta, input_round)
        call = Call(request_id, None, _no_stream, _no_requests, meta, input_round)
        answer, status = await self._run(message, call)
        return json_response(answer, status)

    async def _listen(self, message: JsonDict) -> Response:
        """A subscriptions/listen stream from the node's SubscriptionBus: what can fail does
        so at the first message, answered as JSON; then the stream runs until the client
        leaves, the node shuts down (the completion) or the bus may have lost a change (ended
        without one, so that the client lists again)."""
        request_id = message["id"]
        stream = listen(request_id, message.get("params"), self._node.bus, keepalive=SSE_KEEPALIVE)
        try:
            first = await anext(stream)
        except RpcError as exc:
            await stream.aclose()
            return json_response(error_response(request_id, exc.code, exc.message, exc.data))
        except StoreUnavailable:
            await stream.aclose()
            raise
        assert first is not None  # the acknowledgement always comes first

        async def events() -> AsyncIterator[str]:
            try:
                yield sse_event(dumps(first))
                async for item in stream:
                    yield ": keepalive\n\n" if item is None else sse_event(dumps(item))
            finally:
                await stream.aclose()

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)

    async def _input_round(self, method: str, params: JsonDict) -> InputRound | None:
        """The verified round a retry brings, or None for methods without MRTR."""
        if method not in MRTR_METHODS:
            return None
        responses = params.get("inputResponses", {})
        if not isinstance(responses, dict):
            raise RpcError(INVALID_PARAMS, "inputResponses must be an object")
        token = params.get("requestState")
        if token is None:
            return InputRound(responses, None)
        if not isinstance(token, str):
            raise RpcError(INVALID_PARAMS, "requestState must be a string")
        try:
            opened = self._node.state_sealer.open(token, Binding.of(method, params))
        except InvalidState as exc:
            raise RpcError(INVALID_PARAMS, f"requestState rejected: {exc}") from exc
        replayable = Defect.REPLAYABLE_STATE in self._node.config.defects
        if not replayable and not await self._node.state_store.consume(
            opened.state_id, opened.expires_at
        ):
            raise RpcError(
                INVALID_PARAMS,
                "requestState rejected: already used (each is accepted once in the cluster); "
                "start the request again without it",
            )
        return InputRound(responses, opened.data)

    async def _run(self, message: JsonDict, call: Call) -> tuple[JsonDict, int]:
        method, request_id = message["method"], message["id"]
        try:
            result = await self._dispatcher.handle(message, call)
            return result_response(request_id, complete_result(method, result)), 200
        except InputRequired as need:
            binding = Binding.of(method, message.get("params") or {})
            interim = {
                "resultType": "input_required",
                "inputRequests": need.requests,
                "requestState": self._node.state_sealer.seal(binding, need.state),
            }
            return result_response(request_id, with_server_info(interim)), 200
        except RpcError as exc:
            status = 400 if exc.code in _BAD_REQUEST_CODES else 200
            return error_response(request_id, exc.code, exc.message, exc.data), status
        except StoreUnavailable as exc:
            message_text = f"store unavailable: {exc}"
            return error_response(request_id, STORE_UNAVAILABLE, message_text), 503

    async def _stream(
        self, message: JsonDict, meta: RequestMeta, input_round: InputRound | None
    ) -> Response:
        """Progress and log messages of this request, then its answer, on an SSE stream;
        closing the stream cancels the request (streamable-http.mdx, "Cancellation"). A call
        that ends before sending anything is answered as plain JSON, with its own status
        (an input_required round, a -32021 with its 400)."""
        outbox: asyncio.Queue[JsonDict] = asyncio.Queue()
        call = Call(message["id"], None, outbox.put, _no_requests, meta, input_round)
        task = asyncio.create_task(self._run(message, call))
        getter = asyncio.ensure_future(outbox.get())
        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done() and outbox.empty():
            getter.cancel()
            answer, status = task.result()
            return json_response(answer, status)

        async def events() -> AsyncIterator[str]:
            try:
                first = await getter
                yield sse_event(dumps(first))
                while True:
                    pending = asyncio.ensure_future(outbox.get())
                    await asyncio.wait({pending, task}, return_when=asyncio.FIRST_COMPLETED)
                    if pending.done():
                        yield sse_event(dumps(pending.result()))
                        continue
                    pending.cancel()
                    while not outbox.empty():
                        yield sse_event(dumps(outbox.get_nowait()))
                    yield sse_event(dumps(task.result()[0]))
                    return
            finally:
                task.cancel()

        return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _no_stream(_: JsonDict) -> None:
    return None


async def _no_requests(method: str, params: JsonDict) -> JsonDict:
    raise RpcError(
        INVALID_REQUEST,
        f"{method}: a 2026-07-28 server asks the client through an input_required result",
    )
