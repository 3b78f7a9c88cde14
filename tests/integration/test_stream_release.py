"""A listening stream the client closes is released in Redis at once, not when its owner
key's heartbeat TTL runs out: a node that loses the client must not keep claiming it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from harness.cluster.local import LocalCluster
from tests.support.mcp_http import McpHttpSession


@pytest.mark.timeout(60)
def test_a_closed_stream_leaves_no_owner_key(make_cluster: Callable[..., LocalCluster]) -> None:
    cluster = make_cluster(nodes=1, store="redis")
    assert cluster.redis is not None
    store = redis.Redis.from_url(cluster.redis.url)
    session = McpHttpSession(cluster.urls[0])
    try:
        session.initialize()
        owner = f"mcp:owner:{session.session_id}"
        for _ in range(3):  # each close must release, not only the first
            stream = session.open_stream()
            assert stream.opened.wait(5) and stream.status == 200
            deadline = time.monotonic() + 5
            while not store.exists(owner) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert store.exists(owner), "an open stream is owned"
            stream.close()
            deadline = time.monotonic() + 3  # well inside the 15 s heartbeat TTL
            while store.exists(owner) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not store.exists(owner), "the closed stream still owns its session"
    finally:
        session.close()
        store.close()
