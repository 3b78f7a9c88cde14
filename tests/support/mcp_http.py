"""A small synchronous MCP Streamable HTTP client for the server's own tests (httpx, threads).

Deliberately independent of the harness's load client: the server's tests must not depend on
the code whose checkers they are meant to prove.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

ACCEPT_BOTH = "application/json, text/event-stream"


@dataclass
class SseEvent:
    id: str | None
    data: str

    @property
    def message(self) -> dict[str, Any] | None:
        return json.loads(self.data) if self.data.strip() else None


def iter_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    event_id: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data or event_id is not None:
                yield SseEvent(event_id, "\n".join(data))
            event_id, data = None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "data":
                data.append(value)


class HttpStatusError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def answer_sampling(request: dict[str, Any]) -> dict[str, Any]:
    nonce = request.get("params", {}).get("_meta", {}).get("nonce", "")
    return {
        "role": "assistant",
        "content": {"type": "text", "text": f"answer:{nonce}"},
        "model": "test",
    }


@dataclass
class McpHttpSession:
    """One MCP session; every call may go to a different node (``url``)."""

    url: str
    protocol_version: str = "2025-11-25"
    capabilities: dict[str, Any] = field(default_factory=lambda: {"sampling": {}})
    session_id: str | None = None
    timeout: float = 10.0
    # Where answers to server->client requests are POSTed (default: the node that asked).
    answer_url: str | None = None
    on_request: Callable[[dict[str, Any]], dict[str, Any]] = answer_sampling
    related: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=self.timeout)

    def headers(self) -> dict[str, str]:
        headers = {"accept": ACCEPT_BOTH, "content-type": "application/json"}
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
            headers["mcp-protocol-version"] = self.protocol_version
        return headers

    def initialize(self, url: str | None = None) -> dict[str, Any]:
        self.session_id = None
        params = {
            "protocolVersion": self.protocol_version,
            "capabilities": self.capabilities,
            "clientInfo": {"name": "mcp-scale-tests", "version": "0"},
        }
        response = self.http.post(
            url or self.url,
            headers=self.headers(),
            json={
                "jsonrpc": "2.0",
                "id": next(self._ids),
                "method": "initialize",
                "params": params,
            },
        )
        if response.status_code != 200:
            raise HttpStatusError(response.status_code, response.text)
        self.session_id = response.headers["mcp-session-id"]
        self.notify("notifications/initialized", url=url)
        return dict(response.json()["result"])

    def notify(
        self, method: str, params: dict[str, Any] | None = None, url: str | None = None
    ) -> int:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        return self.http.post(url or self.url, headers=self.headers(), json=message).status_code

    def request(
        self, method: str, params: dict[str, Any] | None = None, url: str | None = None
    ) -> dict[str, Any]:
        """The JSON-RPC response (result or error) to one request."""
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        target = url or self.url
        with self.http.stream("POST", target, headers=self.headers(), json=message) as response:
            if response.status_code != 200:
                raise HttpStatusError(response.status_code, response.read().decode())
            if response.headers.get("content-type", "").startswith("application/json"):
                return dict(json.loads(response.read()))
            for event in iter_sse(response.iter_lines()):
                received = event.message
                if received is None:
                    continue
                if received.get("id") == request_id and "method" not in received:
                    return received
                self.related.append(received)
                if "method" in received and "id" in received:
                    self.answer(received, self.answer_url or target)
        raise AssertionError(f"stream for {method} ended without a response")

    def answer(self, server_request: dict[str, Any], url: str) -> int:
        result = self.on_request(server_request)
        response = {"jsonrpc": "2.0", "id": server_request["id"], "result": result}
        return self.http.post(url, headers=self.headers(), json=response).status_code

    def call_tool(
        self, name: str, arguments: dict[str, Any], url: str | None = None
    ) -> dict[str, Any]:
        response = self.request("tools/call", {"name": name, "arguments": arguments}, url)
        if "error" in response:
            raise AssertionError(f"tools/call {name} failed: {response['error']}")
        return dict(response["result"])

    def delete(self, url: str | None = None) -> int:
        return self.http.delete(url or self.url, headers=self.headers()).status_code

    def open_stream(
        self, url: str | None = None, last_event_id: str | None = None
    ) -> ListeningStream:
        stream = ListeningStream(self, url or self.url, last_event_id)
        stream.start()
        return stream

    def close(self) -> None:
        self.http.close()


class ListeningStream(threading.Thread):
    """A GET stream read on its own thread; ``events`` grows as messages arrive."""

    def __init__(self, session: McpHttpSession, url: str, last_event_id: str | None) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.url = url
        self.last_event_id = last_event_id
        self.events: list[SseEvent] = []
        self.status: int | None = None
        self.ended = threading.Event()
        self.opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        headers = {"accept": "text/event-stream"}
        if self.session.session_id:
            headers["mcp-session-id"] = self.session.session_id
            headers["mcp-protocol-version"] = self.session.protocol_version
        if self.last_event_id:
            headers["last-event-id"] = self.last_event_id
        try:
            with self._client.stream("GET", self.url, headers=headers) as response:
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                self.status = response.status_code
                self.opened.set()
                if response.status_code != 200:
                    return
                for event in iter_sse(response.iter_lines()):
                    with self._lock:
                        if event.id:
                            self.last_event_id = event.id
                        if event.data.strip():
                            self.events.append(event)
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self.opened.set()
            self.ended.set()

    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in (e.message for e in self.events) if m is not None]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages):
                return True
            if self.ended.is_set():
                return predicate(self.messages)
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """End the stream now: closing the client alone would leave the reader blocked in
        recv (and still receiving) while the server keeps the stream open."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self.join(timeout=5)


def notify_seqs(messages: list[dict[str, Any]], nonce: str) -> list[int]:
    """The sequence numbers of the notify tool's messages carrying ``nonce``, in arrival order."""
    return [
        m["params"]["data"]["seq"]
        for m in messages
        if m.get("method") == "notifications/message"
        and isinstance(m.get("params", {}).get("data"), dict)
        and m["params"]["data"].get("nonce") == nonce
    ]
