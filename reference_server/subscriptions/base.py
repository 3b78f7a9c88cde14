"""The SubscriptionBus interface, the plain data it carries (a change, a listen filter), and the
node-local end of one ``subscriptions/listen`` stream.

The 2026-07-28 counterpart of the StreamManager: there a message is for one session; here a
change (a list changed, a resource was updated) is for every listen stream of the cluster
whose filter asks for it. Nothing is logged or replayed: delivery is at most once, and a
listen stream that may have missed a change ends without its completion, so that the client
reconnects and lists again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from reference_server.protocol import INVALID_PARAMS, JsonDict, RpcError

# The _meta key that ties every message of a listen stream to the request that opened it.
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

TOOLS_LIST_CHANGED = "notifications/tools/list_changed"
PROMPTS_LIST_CHANGED = "notifications/prompts/list_changed"
RESOURCES_LIST_CHANGED = "notifications/resources/list_changed"
RESOURCE_UPDATED = "notifications/resources/updated"
# The filter's boolean fields and the notification each one opts in to.
LIST_CHANGED_FIELDS = {
    "toolsListChanged": TOOLS_LIST_CHANGED,
    "promptsListChanged": PROMPTS_LIST_CHANGED,
    "resourcesListChanged": RESOURCES_LIST_CHANGED,
}
_LIST_CHANGED = {method.split("/")[1]: method for method in LIST_CHANGED_FIELDS.values()}

# How many changes one slow listen stream may hold before it is ended (broken: the client
# reconnects and lists again), so that one stalled client cannot grow a node's memory.
LISTENER_QUEUE_LIMIT = 1000


@dataclass(frozen=True)
class Change:
    """One change as it travels between nodes: the notification's method, the resource it is
    about (for resources/updated), and the _meta its emitter attached (the harness's nonce and
    send time, by which it attributes every delivery)."""

    method: str
    uri: str | None = None
    meta: JsonDict = field(default_factory=dict)

    @classmethod
    def list_changed(cls, kind: str, meta: JsonDict | None = None) -> Change:
        """``kind`` is tools, prompts or resources."""
        return cls(_LIST_CHANGED[kind], None, dict(meta or {}))

    @classmethod
    def resource_updated(cls, uri: str, meta: JsonDict | None = None) -> Change:
        return cls(RESOURCE_UPDATED, uri, dict(meta or {}))

    def to_json(self) -> str:
        return json.dumps({"method": self.method, "uri": self.uri, "meta": self.meta})

    @classmethod
    def from_json(cls, text: str) -> Change:
        """The change ``to_json`` wrote; ValueError, KeyError or TypeError if not one."""
        data = json.loads(text)
        uri, meta = data["uri"], data["meta"]
        if not isinstance(data["method"], str) or not isinstance(meta, dict):
            raise ValueError(f"not a change: {text[:200]!r}")
        return cls(data["method"], uri if isinstance(uri, str) else None, meta)

    def notification(self, subscription_id: str | int) -> JsonDict:
        """The JSON-RPC notification for one listen stream, tagged with its subscription id."""
        params: JsonDict = {"_meta": {**self.meta, SUBSCRIPTION_ID: subscription_id}}
        if self.uri is not None:
            params["uri"] = self.uri
        return {"jsonrpc": "2.0", "method": self.method, "params": params}


@dataclass(frozen=True)
class ListenFilter:
    """What one listen stream opted in to (the spec's SubscriptionFilter); nothing by default."""

    tools_list_changed: bool = False
    prompts_list_changed: bool = False
    resources_list_changed: bool = False
    resource_subscriptions: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Any) -> ListenFilter:
        """The filter of a ``subscriptions/listen`` request's params; RpcError (invalid params)
        saying which field is wrong. Fields this server does not know are not honoured (and so
        left out of the acknowledgement), as the spec asks."""
        if not isinstance(params, dict) or not isinstance(params.get("notifications"), dict):
            raise RpcError(
                INVALID_PARAMS, "subscriptions/listen needs params.notifications, an object"
            )
        notifications = params["notifications"]
        flags = {}
        for name in LIST_CHANGED_FIELDS:
            value = notifications.get(name, False)
            if not isinstance(value, bool):
                raise RpcError(INVALID_PARAMS, f"params.notifications.{name} must be a boolean")
            flags[name] = value
        uris = notifications.get("resourceSubscriptions", [])
        if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
            raise RpcError(
                INVALID_PARAMS,
                "params.notifications.resourceSubscriptions must be an array of URI strings",
            )
        return cls(
            tools_list_changed=flags["toolsListChanged"],
            prompts_list_changed=flags["promptsListChanged"],
            resources_list_changed=flags["resourcesListChanged"],
            resource_subscriptions=tuple(dict.fromkeys(uris)),
        )

    def matches(self, change: Change) -> bool:
        if change.method == RESOURCE_UPDATED:
            return change.uri in self.resource_subscriptions
        return change.method in self._list_changes().values()

    def _list_changes(self) -> dict[str, str]:
        """The filter fields set to true, and the method each opts in to."""
        wanted = (self.tools_list_changed, self.prompts_list_changed, self.resources_list_changed)
        fields = LIST_CHANGED_FIELDS.items()
        return {name: method for (name, method), on in zip(fields, wanted, strict=True) if on}

    def to_wire(self) -> JsonDict:
        """The filter as the acknowledgement states it: only what is honoured."""
        wire: JsonDict = dict.fromkeys(self._list_changes(), True)
        if self.resource_subscriptions:
            wire["resourceSubscriptions"] = list(self.resource_subscriptions)
        return wire


class Ending(StrEnum):
    """Why a listener ended, which decides how its listen stream ends."""

    # The node is shutting down: the stream sends its completion result, a clean end.
    SHUTDOWN = "shutdown"
    # Changes may have been lost (the bus's link broke, or the client read too slowly): the
    # stream ends without a completion, which the client takes as a disconnect and re-lists.
    BROKEN = "broken"


class Listener:
    """The node-local end of one listen stream: the changes its filter matches, in order, then
    how it ended."""

    def __init__(self, listen_filter: ListenFilter, limit: int = LISTENER_QUEUE_LIMIT) -> None:
        self.filter = listen_filter
        self.ending: Ending | None = None
        self._limit = limit
        # Unbounded as a queue so that the ending always fits; ``push`` enforces ``limit``.
        self._queue: asyncio.Queue[Change | Ending] = asyncio.Queue()

    def push(self, change: Change) -> None:
        if self.ending is not None or not self.filter.matches(change):
            return
        if self._queue.qsize() >= self._limit:
            self.end(Ending.BROKEN)
            return
        self._queue.put_nowait(change)

    def end(self, why: Ending) -> None:
        """The last thing the listener yields; the first ending wins."""
        if self.ending is None:
            self.ending = why
            self._queue.put_nowait(why)

    async def next(self, timeout: float) -> Change | Ending | None:
        """The next change or the ending; None after ``timeout`` idle seconds."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class SubscriptionBus(Protocol):
    """How a change emitted on any node reaches the matching listen streams on every node.

    Delivery is at most once and unlogged: a listener that may have missed a change is ended
    ``BROKEN`` (never left open and quiet), so that its client re-lists.
    """

    async def start(self) -> None: ...

    async def close(self) -> None:
        """End every listener on this node with ``SHUTDOWN`` and let go of the backend."""
        ...

    def shutdown(self) -> None:
        """End every listener on this node with ``SHUTDOWN``, and every later one at once: the
        node is going away (called before the server waits for open responses to finish)."""
        ...

    def listen(self, listen_filter: ListenFilter) -> Listener:
        """A listener for the changes published from now on, on any node, that match the
        filter; ``StoreUnavailable`` if the bus is cut off from the other nodes."""
        ...

    def release(self, listener: Listener) -> None:
        """The listen stream ended: stop feeding its listener."""
        ...

    async def publish(self, change: Change) -> None:
        """Send ``change`` to every listener of the cluster; ``StoreUnavailable`` if it cannot."""
        ...

    def local_listeners(self) -> int:
        """Listeners open on this node (a soak watches it for leaks)."""
        ...
