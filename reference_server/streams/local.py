"""What every stream manager keeps in the node itself: open streams and awaited responses."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets

from reference_server.defects import Defect
from reference_server.protocol import JsonDict, RequestId
from reference_server.streams.base import Event, OpenStream

# The cross-session defect sends about one notification in this many to another session.
CROSS_SESSION_RATE = 1 / 1000


def pending_key(session_id: str, request_id: RequestId) -> str:
    # json.dumps keeps 1 and "1" apart: JSON-RPC ids are typed.
    return f"{session_id}|{json.dumps(request_id)}"


class LocalEndpoints:
    """This node's open listening streams and the server->client requests it waits on."""

    def __init__(self, node_id: str, defects: frozenset[Defect]) -> None:
        self.node_id = node_id
        self.defects = defects
        self.streams: dict[str, OpenStream] = {}
        self._pending: dict[str, asyncio.Future[JsonDict]] = {}
        self._ids = itertools.count(1)
        # A node restarted under the same id must not reissue its previous life's ids: a late
        # answer to the dead node's request would resolve a new one.
        self._id_prefix = f"{node_id}-{secrets.token_hex(3)}"
        self._ids_per_session: dict[str, itertools.count[int]] = {}

    def attach(self, stream: OpenStream) -> None:
        """A session has one listening stream per node: a newer one replaces the older."""
        previous = self.streams.get(stream.session_id)
        if previous is not None:
            previous.close()
        self.streams[stream.session_id] = stream

    def detach(self, stream: OpenStream) -> bool:
        """Forget ``stream``; True if it was still the session's current one here."""
        stream.close()
        if self.streams.get(stream.session_id) is stream:
            del self.streams[stream.session_id]
            return True
        return False

    def push(self, session_id: str, event: Event) -> bool:
        stream = self.streams.get(session_id)
        if stream is None:
            return False
        stream.push(event)
        return True

    def close_stream(self, session_id: str) -> None:
        stream = self.streams.pop(session_id, None)
        if stream is not None:
            stream.close()

    def close_all(self) -> None:
        for stream in list(self.streams.values()):
            stream.close()
        self.streams.clear()

    def misroute(self, session_id: str) -> str:
        """The session a notification really goes to: itself, unless the defect strikes."""
        if Defect.CROSS_SESSION not in self.defects or random.random() >= CROSS_SESSION_RATE:
            return session_id
        others = [sid for sid in self.streams if sid != session_id]
        return random.choice(others) if others else session_id

    def next_request_id(self, session_id: str) -> RequestId:
        if Defect.REUSE_REQUEST_IDS in self.defects:
            counter = self._ids_per_session.setdefault(session_id, itertools.count(1))
            return next(counter)
        # The node id prefix keeps ids unique per session across the cluster (G4).
        return f"{self._id_prefix}-{next(self._ids)}"

    def expect(self, session_id: str, request_id: RequestId) -> asyncio.Future[JsonDict]:
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        self._pending[pending_key(session_id, request_id)] = future
        return future

    def cancel(self, session_id: str, request_id: RequestId) -> None:
        future = self._pending.pop(pending_key(session_id, request_id), None)
        if future is not None and not future.done():
            future.cancel()

    def resolve(self, session_id: str, message: JsonDict) -> bool:
        return self.resolve_key(pending_key(session_id, message["id"]), message)

    def pending_keys(self) -> list[str]:
        return list(self._pending)

    def resolve_key(self, key: str, message: JsonDict) -> bool:
        future = self._pending.pop(key, None)
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    def fail_pending(self, error: BaseException) -> None:
        """Fail every awaited answer: it may have been forwarded while we could not hear it."""
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    def forget(self, session_id: str) -> None:
        self.close_stream(session_id)
        self._ids_per_session.pop(session_id, None)
