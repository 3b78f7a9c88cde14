"""Shared fixtures: real redis-server processes and real reference-server clusters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cluster.local import LocalCluster
from harness.cluster.redis_process import RedisProcess


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    with RedisProcess(persistent=True) as redis:
        yield redis


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """Start clusters of real nodes (and Redis); every one is stopped after the test."""
    started: list[LocalCluster] = []

    def make(nodes: int = 3, store: str = "redis", **options: object) -> LocalCluster:
        cluster = LocalCluster(nodes=nodes, store=store, log_dir=tmp_path / "logs", **options)  # type: ignore[arg-type]
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.close()
