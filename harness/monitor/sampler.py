"""Samples what a run's processes use, every interval, as ``sample`` records in the history.

Per node: RSS, CPU, open fds, threads (from /proc, by the PID the backend started), and open
streams and sessions (from its /metrics); Redis: used memory, keys, clients, pub/sub channels
(INFO); the load generator: RSS and CPU of Locust's process group.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from harness.monitor.proc import group_resources, process_resources

MONITOR = "monitor"
_NODE_GAUGES = {"mcp_open_streams": "open_streams", "mcp_sessions": "sessions"}


@dataclass
class SampleTarget:
    """Something to sample: ``kind`` is node, redis or loadgen. ``pid`` is looked up at each
    sample (a restarted node has a new one)."""

    name: str
    kind: str
    pid: Callable[[], int | None]
    metrics_url: str | None = None
    redis_url: str | None = None


class ResourceSampler:
    def __init__(
        self,
        targets: list[SampleTarget],
        record: Callable[[dict[str, Any]], None],
        interval: float = 1.0,
    ) -> None:
        self.targets = targets
        self._record = record
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=min(1.0, interval))
        self.samples = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.is_set():  # bounded: stopped with the run
            started = time.monotonic()
            for target in self.targets:
                value = self.sample(target)
                if value is not None:
                    self._record(
                        {
                            "time": time.time(),
                            "type": "ok",
                            "process": MONITOR,
                            "f": "sample",
                            "value": value,
                        }
                    )
                    self.samples += 1
            self._stop.wait(max(0.0, self._interval - (time.monotonic() - started)))

    def sample(self, target: SampleTarget) -> dict[str, Any] | None:
        pid = target.pid()
        if pid is None:
            return None
        found = group_resources(pid) if target.kind == "loadgen" else process_resources(pid)
        if found is None:
            return None
        value = {"target": target.name, "kind": target.kind, **found}
        if target.metrics_url:
            value.update(self._node_gauges(target.metrics_url))
        if target.redis_url:
            value.update(_redis_info(target.redis_url))
        return value

    def _node_gauges(self, url: str) -> dict[str, float]:
        try:
            text = self._http.get(url).text
        except httpx.HTTPError:
            return {}
        gauges: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            key = _NODE_GAUGES.get(family.name)
            if key and family.samples:
                gauges[key] = family.samples[0].value
        return gauges


def _redis_info(url: str) -> dict[str, float]:
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        with client:
            info: dict[str, Any] = client.info()
            keys = int(client.dbsize())
    except (redis.RedisError, OSError):
        return {}
    return {
        "used_memory": float(info.get("used_memory", 0)),
        "keys": float(keys),
        "clients": float(info.get("connected_clients", 0)),
        "pubsub_channels": float(info.get("pubsub_channels", 0)),
    }
