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
    changes_published: int = 0  # change notifications sent on the subscription bus
    changes_received: int = 0  # ... received from it (by this node, from any node)
    listen_breaks: int = 0  # listen streams ended because the bus's link broke
