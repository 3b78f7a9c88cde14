"""Network-fault timelines that more than one end-to-end test runs."""

from __future__ import annotations

# Each node's Redis link cut (refused, then black-holed: pub/sub silent, no error), then
# slowed and reset: a node must end the streams it can no longer feed.
REDIS_LINK_CHAOS = (
    "partition-redis:n1@5s+4s; blackhole-redis:n2@12s+5s; delay-redis:n3=50ms~10ms@19s+3s; "
    "reset-redis:n3@24s+3s"
)
