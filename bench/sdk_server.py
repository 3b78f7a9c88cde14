"""A minimal MCP server built with the official Python SDK (``mcp`` 2.x), for comparison.

It is the baseline of ``bench/server_throughput.py`` and the example "external target" of the
harness: a stateful Streamable HTTP server (sessions in this one process's memory) on ``/mcp``,
served by uvicorn with the SDK's defaults, with two tools:

- ``echo {text}`` returns ``text`` unchanged;
- ``whoami`` returns ``{"node": NODE_ID, "session": MCP_SESSION_ID}``.

``GET /healthz`` answers 200 once the server accepts requests.

Run::

    python bench/sdk_server.py --port 8100 [--host 127.0.0.1] [--node-id sdk-1] [--json-response]

By default POST responses are ``text/event-stream`` (the SDK's default); ``--json-response``
makes them ``application/json``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


def build_server(node_id: str) -> MCPServer[Any]:
    """The SDK server with the ``echo`` and ``whoami`` tools and a ``/healthz`` route."""
    server: MCPServer[Any] = MCPServer(name="mcp-scale-sdk-baseline", version="0.1.0")

    @server.tool(description="Return the given text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(description="Return the node id and the caller's MCP session id.")
    def whoami(ctx: Context) -> dict[str, str | None]:
        headers = ctx.headers or {}
        return {"node": node_id, "session": headers.get("mcp-session-id")}

    @server.custom_route("/healthz", methods=["GET"])  # type: ignore[untyped-decorator]
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--node-id", default=f"sdk-{os.getpid()}")
    parser.add_argument(
        "--json-response",
        action="store_true",
        help="answer POSTs with application/json instead of text/event-stream",
    )
    args = parser.parse_args(argv)
    build_server(args.node_id).run(
        "streamable-http",
        host=args.host,
        port=args.port,
        json_response=args.json_response,
    )


if __name__ == "__main__":
    main()
