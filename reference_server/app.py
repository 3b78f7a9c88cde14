"""The ASGI application of one node: /mcp, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reference_server.config import ServerConfig
from reference_server.metrics import NodeMetrics
from reference_server.node import build_node
from reference_server.transport import McpTransport


def create_app(config: ServerConfig) -> Starlette:
    node = build_node(config)
    transport = McpTransport(node)
    metrics = NodeMetrics(node)

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "node": config.node_id,
                "session_store": config.session_store,
                "stream_manager": config.stream_manager,
                "defects": sorted(config.defects),
            }
        )

    async def prometheus(request: Request) -> Response:
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.close()

    routes = [
        Route("/mcp", transport.handle, methods=["GET", "POST", "DELETE"]),
        Route("/healthz", healthz),
        Route("/metrics", prometheus),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    # For the server that runs the app: it ends the listen streams before waiting on them.
    app.state.node = node
    return app
