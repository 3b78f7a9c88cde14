"""A minimal 2026-07-28 (stateless) MCP endpoint with one ``echo`` tool, for client benchmarks.

The reference server does not speak 2026-07-28 yet; ``bench/client_overhead.py`` needs a
server of that revision to measure the load client's CPU per call on that path, and uses this
one for both its bare-POST baseline and McpClient, so the ratio compares like with like. It
checks what a 2026 server must (the version header equal to ``_meta``, ``Mcp-Method`` and
``Mcp-Name`` equal to the body) and answers 400 otherwise, so a client that gets them wrong
shows up as bad answers, not as a fast one. Not a server to test: a fixed answer per request.

Run::

    python bench/stateless_echo.py --port 8200 [--host 127.0.0.1]

``GET /healthz`` answers 200.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

VERSION = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"


def _error(rpc_id: Any, code: int, message: str) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=400)


async def mcp(request: Request) -> Response:
    message = json.loads(await request.body())
    rpc_id = message.get("id")
    params = message.get("params") or {}
    meta = params.get("_meta") or {}
    version = request.headers.get("mcp-protocol-version")
    if version != VERSION or meta.get(META_VERSION) != version:
        return _error(rpc_id, -32020, "MCP-Protocol-Version missing or not equal to _meta")
    method = message.get("method")
    if request.headers.get("mcp-method") != method:
        return _error(rpc_id, -32020, "Mcp-Method not equal to the body's method")
    if method != "tools/call":
        return _error(rpc_id, -32601, f"method not found: {method}")
    if request.headers.get("mcp-name") != params.get("name") or params.get("name") != "echo":
        return _error(rpc_id, -32020, "Mcp-Name not equal to the body's name (or not echo)")
    text = (params.get("arguments") or {}).get("text", "")
    result = {"resultType": "complete", "content": [{"type": "text", "text": text}]}
    return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "result": result})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/mcp", mcp, methods=["POST"]), Route("/healthz", healthz)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
