"""Counters a node keeps about itself; rendered at /metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NodeStats:
    requests: int = 0
    messages_local: int = 0  # pushed to a stream held by the node that emitted them
    messages_remote: int = 0  # emitted here, forwarded to the node holding the stream
    messages_received_remote: int = 0  # forwarded here by another node
    responses_forwarded: int = 0
    redis_errors: int = 0
