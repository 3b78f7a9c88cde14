"""``python -m reference_server``: start one node (the start contract the harness relies on)."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from reference_server.app import create_app
from reference_server.config import ServerConfig
from reference_server.defects import DESCRIPTIONS, NAMES, parse_defects
from reference_server.mrtr.state import MIN_KEY_BYTES, STATE_KEY_ENV
from reference_server.node import Node
from reference_server.streams.base import EventLogLimits


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, ServerConfig]:
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description="mcp-scale reference MCP server node (Streamable HTTP).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--node-id", default="n1")
    parser.add_argument("--session-store", choices=["memory", "redis"], default="memory")
    parser.add_argument("--stream-manager", choices=["memory", "redis"], default="memory")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        choices=NAMES,
        metavar="NAME",
        help="make the server wrong in one known way: "
        + "; ".join(f"{defect}: {what}" for defect, what in DESCRIPTIONS.items()),
    )
    parser.add_argument("--session-ttl", type=float, default=1800.0, help="idle expiry, seconds")
    parser.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--redis-timeout", type=float, default=1.0, help="bound per Redis call")
    parser.add_argument(
        "--event-log-entries",
        type=int,
        default=EventLogLimits.max_entries,
        help="events kept per session for Last-Event-ID resume",
    )
    parser.add_argument(
        "--event-log-retention",
        type=float,
        default=EventLogLimits.retention,
        help="seconds an event is kept for resume (a client away longer misses it)",
    )
    parser.add_argument(
        "--state-key-file",
        type=Path,
        help="file holding the key every node of the cluster seals 2026-07-28 requestState "
        f"with (at least {MIN_KEY_BYTES} bytes; else env {STATE_KEY_ENV}; else a random key of "
        "this node's own, and a retry is accepted only by the node that asked)",
    )
    parser.add_argument(
        "--request-state-ttl",
        type=float,
        default=300.0,
        help="seconds a 2026-07-28 requestState is accepted after it was issued",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    state_key = _state_key(parser, args.state_key_file)
    return args, ServerConfig(
        node_id=args.node_id,
        session_store=args.session_store,
        stream_manager=args.stream_manager,
        redis_url=args.redis_url,
        defects=parse_defects(args.defect),
        session_ttl=args.session_ttl,
        max_body_bytes=args.max_body_bytes,
        redis_timeout=args.redis_timeout,
        event_log=EventLogLimits(args.event_log_entries, args.event_log_retention),
        state_key=state_key,
        request_state_ttl=args.request_state_ttl,
    )


def _state_key(parser: argparse.ArgumentParser, path: Path | None) -> bytes | None:
    """The cluster's requestState key from --state-key-file or the environment, or None."""
    if path is not None:
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            parser.error(f"--state-key-file {path}: {exc.strerror}")
        where = f"--state-key-file {path}"
    else:
        key = os.environ.get(STATE_KEY_ENV, "").strip().encode()
        where = f"env {STATE_KEY_ENV}"
        if not key:
            return None
    if len(key) < MIN_KEY_BYTES:
        parser.error(
            f"{where}: the requestState key has {len(key)} bytes; it needs at least "
            f"{MIN_KEY_BYTES} (e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


# Seconds uvicorn waits for open responses to finish on SIGTERM before it cancels them.
GRACEFUL_SHUTDOWN = 2


class NodeServer(uvicorn.Server):
    """uvicorn's server, ending the node's listen streams with their completion first.

    uvicorn waits for open responses before it runs the app's shutdown: a listen stream,
    which never ends by itself, would be cut off at the graceful timeout without the
    completion that tells its client the end was clean.
    """

    def __init__(self, config: uvicorn.Config, node: Node) -> None:
        super().__init__(config)
        self.node = node

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.node.bus.shutdown()
        await super().shutdown(sockets)


def main(argv: list[str] | None = None) -> None:
    args, config = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s {config.node_id} %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    app = create_app(config)
    server = NodeServer(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        ),
        app.state.node,
    )
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
