"""A small 2026-07-28 MCP server for the load client's tests, run as a real process per node.

The reference server does not speak 2026-07-28 yet (another branch adds it); until then this
gives the client's stateless paths a real HTTP peer:

- ``tools/list``, ``prompts/list``, ``resources/list``: fixed lists;
- ``tools/call ask``: an MRTR tool. Without ``inputResponses`` it answers ``input_required``
  (a sampling request with a nonce, ``requestState`` naming the node that minted it); with
  them, it checks the answer text and the state and says which node minted and which finished;
- ``subscriptions/listen``: the acknowledgment, then ``--notifications`` tools list_changed
  notifications, then the stream ends without a result (a drop) the first ``--drops`` times,
  and with the ``complete`` result after that.

Every request must carry the version header equal to ``_meta`` (400 -32020 otherwise).

    python -m tests.support.stateless_server --port 8300 --node-id n1
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

VERSION = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"
SUBSCRIPTION = "io.modelcontextprotocol/subscriptionId"


class Server:
    def __init__(self, node_id: str, notifications: int, drops: int) -> None:
        self.node_id = node_id
        self.notifications = notifications
        self.drops = drops
        self.listens = 0

    async def mcp(self, request: Request) -> Response:
        message = json.loads(await request.body())
        rpc_id, method = message.get("id"), message.get("method")
        params = message.get("params") or {}
        version = request.headers.get("mcp-protocol-version")
        if version != VERSION or (params.get("_meta") or {}).get(META_VERSION) != version:
            return _error(rpc_id, -32020, "version header missing or not equal to _meta", 400)
        if request.headers.get("mcp-method") != method:
            return _error(rpc_id, -32020, "Mcp-Method not equal to the body", 400)
        if method in ("tools/list", "prompts/list", "resources/list"):
            kind = method.split("/")[0]
            items = [{"name": "ask", "inputSchema": {"type": "object"}}] if kind == "tools" else []
            return _result(rpc_id, {kind: items, "ttlMs": 0, "cacheScope": "private"})
        if method == "tools/call" and params.get("name") == "ask":
            return self.ask(rpc_id, params)
        if method == "subscriptions/listen":
            self.listens += 1
            drop = self.listens <= self.drops
            stream = self.listen(rpc_id, params.get("notifications") or {}, drop)
            return StreamingResponse(stream, media_type="text/event-stream")
        return _error(rpc_id, -32601, f"method not found: {method}", 404)

    def ask(self, rpc_id: Any, params: dict[str, Any]) -> Response:
        responses = params.get("inputResponses")
        if responses is None:
            nonce = f"{self.node_id}-{rpc_id}"
            request = {
                "method": "sampling/createMessage",
                "params": {"messages": [], "maxTokens": 10, "_meta": {"nonce": nonce}},
            }
            state = json.dumps({"minted_by": self.node_id, "nonce": nonce})
            return _result(
                rpc_id,
                {
                    "resultType": "input_required",
                    "inputRequests": {"q": request},
                    "requestState": state,
                },
                complete=False,
            )
        state = json.loads(params.get("requestState") or "{}")
        text = ((responses.get("q") or {}).get("content") or {}).get("text")
        if text != f"answer:{state.get('nonce')}":
            return _error(rpc_id, -32602, f"wrong answer {text!r} for {state}", 200)
        value = {"minted_by": state.get("minted_by"), "finished_by": self.node_id}
        return _result(rpc_id, {"content": [], "structuredContent": value})

    async def listen(
        self, rpc_id: Any, notifications: dict[str, Any], drop: bool
    ) -> AsyncIterator[bytes]:
        meta = {SUBSCRIPTION: rpc_id}
        ack = {"_meta": meta, "notifications": notifications}
        yield _event({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                      "params": ack})  # fmt: skip
        for _ in range(self.notifications):
            await asyncio.sleep(0.05)
            yield _event({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                          "params": {"_meta": meta}})  # fmt: skip
        if drop:
            return
        yield _event({"jsonrpc": "2.0", "id": rpc_id,
                      "result": {"resultType": "complete", "_meta": meta}})  # fmt: skip
        await asyncio.sleep(3600)  # the client ends it on the result

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")


def _event(message: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(message).encode() + b"\n\n"


def _result(rpc_id: Any, result: dict[str, Any], complete: bool = True) -> Response:
    if complete:
        result = {"resultType": "complete", **result}
    return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "result": result})


def _error(rpc_id: Any, code: int, message: str, status: int) -> Response:
    body = {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--node-id", default="n1")
    parser.add_argument("--notifications", type=int, default=3)
    parser.add_argument("--drops", type=int, default=2)
    args = parser.parse_args()
    server = Server(args.node_id, args.notifications, args.drops)
    app = Starlette(
        routes=[Route("/mcp", server.mcp, methods=["POST"]), Route("/healthz", server.healthz)]
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
