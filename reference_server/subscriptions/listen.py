"""One ``subscriptions/listen`` request (2026-07-28) as the messages its SSE stream carries.

Extension point for the transport. ``listen(request_id, params, bus, keepalive=...)`` is an
async generator of JSON-RPC messages, ``None`` standing for a keep-alive (an SSE comment
line). In order:

1. ``notifications/subscriptions/acknowledged`` with the filter honoured. The listener is
   registered with the bus before it is yielded, so every change published after the client
   has read it is delivered.
2. The changes that match the filter, as notifications, each tagged with the subscription id
   (the request's JSON-RPC id) in ``_meta``; ``None`` after every ``keepalive`` idle seconds.
3. The end, one of:
   - the node shuts down (``bus.shutdown()`` or ``bus.close()``): the completion, a result
     ``{"resultType": "complete", "_meta": {subscriptionId}}`` for the request's id, then
     the generator returns;
   - the bus may have lost changes (its link to the other nodes broke, or the client read
     too slowly): the generator returns without a completion, which the client takes as a
     disconnect (it reconnects and lists again);
   - the client goes away: the transport closes or cancels the generator, which releases
     its listener.

A Starlette handler::

    stream = listen(message["id"], message.get("params"), node.bus, keepalive=SSE_KEEPALIVE)
    try:
        first = await anext(stream)  # raises before anything is sent: answer with JSON
    except RpcError as exc:          # a bad filter: -32602, saying which field
        ...
    except StoreUnavailable:         # the bus is cut off: 503
        ...

    async def body() -> AsyncIterator[str]:
        try:
            yield sse_event(json.dumps(first))
            async for item in stream:
                yield ": keepalive\\n\\n" if item is None else sse_event(json.dumps(item))
        finally:
            await stream.aclose()

    return StreamingResponse(body(), media_type="text/event-stream", headers=...)

Everything that can fail before the stream is committed fails at the first ``anext``; after
it, the stream only ends in one of the three ways above.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from reference_server.protocol import JsonDict, RequestId, notification, result_response
from reference_server.subscriptions.base import (
    SUBSCRIPTION_ID,
    Change,
    Ending,
    ListenFilter,
    SubscriptionBus,
)

ACKNOWLEDGED = "notifications/subscriptions/acknowledged"


def acknowledged(request_id: RequestId, listen_filter: ListenFilter) -> JsonDict:
    params = {"_meta": {SUBSCRIPTION_ID: request_id}, "notifications": listen_filter.to_wire()}
    return notification(ACKNOWLEDGED, params)


def completion(request_id: RequestId) -> JsonDict:
    """The response to the listen request that says it ended cleanly."""
    return result_response(
        request_id, {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: request_id}}
    )


async def listen(
    request_id: RequestId, params: Any, bus: SubscriptionBus, *, keepalive: float
) -> AsyncGenerator[JsonDict | None, None]:
    """The messages of one listen stream (see the module docstring); the first ``anext``
    raises ``RpcError`` for a bad filter and ``StoreUnavailable`` when the bus is cut off."""
    listen_filter = ListenFilter.from_params(params)
    listener = bus.listen(listen_filter)
    try:
        yield acknowledged(request_id, listen_filter)
        while True:  # bounded by the listener's ending, or the client leaving (aclose)
            item = await listener.next(keepalive)
            if item is None:
                yield None
            elif isinstance(item, Change):
                yield item.notification(request_id)
            else:
                if item is Ending.SHUTDOWN:
                    yield completion(request_id)
                return
    finally:
        bus.release(listener)
