"""Samples what a run's processes use, every interval, as ``sample`` records in the history.

Per node: RSS, CPU, open fds, threads (from /proc, by the PID the backend started), and open
streams and sessions (from its /metrics); Redis: used memory, keys, clients, pub/sub channels
(INFO); the load generator: RSS and CPU of Locust's process group. A target that is not a
process of ours (a container) brings its own ``stats`` callable instead of a PID (the docker
backend reads the engine's stats: memory, CPU, pids).

Cheap by construction (see bench/monitor_overhead.py): /proc reads, one kept-alive HTTP
connection per node with only the two gauges picked out of /metrics, one kept Redis
connection. The sampler accounts for its own CPU time (``stats()``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from harness.history import MONITOR
from harness.monitor.proc import group_resources, process_resources

_NODE_GAUGES = {
    "mcp_open_streams": "open_streams",
    "mcp_sessions": "sessions",
    # How long the node's buffers keep growing under steady load (the leak check's settle).
    "mcp_event_log_retention_seconds": "log_retention",
}


@dataclass
class SampleTarget:
    """Something to sample: ``kind`` is node, redis or loadgen. ``pid`` is looked up at each
    sample (a restarted node has a new one). ``stats``, when given, replaces the /proc reading:
    it returns the same keys (rss bytes, cpu seconds, threads, ...) or None when there is
    nothing to measure."""

    name: str
    kind: str
    pid: Callable[[], int | None]
    metrics_url: str | None = None
    redis_url: str | None = None
    group: bool = False  # sum the process group of ``pid`` (a node started by a wrapper)
    stats: Callable[[], dict[str, Any] | None] | None = None


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
        self._redis: dict[str, redis.Redis] = {}
        self.samples = 0
        self.sweeps = 0
        self.cpu_seconds = 0.0  # the sampling thread's own CPU time
        self.sweep_seconds: list[float] = []  # wall time of each sweep over all targets

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():  # as ChaosController.stop
            self._thread.join(timeout=10)
        self._http.close()
        for client in self._redis.values():
            client.close()

    def stats(self) -> dict[str, float]:
        """What sampling cost: sweeps, samples, CPU seconds, sweep wall times (ms)."""
        sweeps = sorted(self.sweep_seconds)
        return {
            "interval_s": self._interval,
            "sweeps": self.sweeps,
            "samples": self.samples,
            "cpu_s": round(self.cpu_seconds, 4),
            "cpu_ms_per_sweep": round(1000 * self.cpu_seconds / self.sweeps, 3)
            if self.sweeps
            else 0.0,
            "sweep_ms_p50": round(1000 * sweeps[len(sweeps) // 2], 3) if sweeps else 0.0,
            "sweep_ms_max": round(1000 * sweeps[-1], 3) if sweeps else 0.0,
        }

    def _run(self) -> None:
        while not self._stop.is_set():  # bounded: stopped with the run
            started = time.monotonic()
            cpu = time.thread_time()
            self.sweep()
            self.cpu_seconds += time.thread_time() - cpu
            self.sweeps += 1
            took = time.monotonic() - started
            if len(self.sweep_seconds) < 100_000:
                self.sweep_seconds.append(took)
            self._stop.wait(max(0.0, self._interval - took))

    def sweep(self) -> None:
        """One sample of every target, recorded."""
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

    def sample(self, target: SampleTarget) -> dict[str, Any] | None:
        found = target.stats() if target.stats is not None else _resources(target)
        if found is None:
            return None
        value = {"target": target.name, "kind": target.kind, **found}
        if target.metrics_url:
            value.update(self._node_gauges(target.metrics_url))
        if target.redis_url:
            value.update(self._redis_info(target.redis_url))
        return value

    def _node_gauges(self, url: str) -> dict[str, float]:
        try:
            text = self._http.get(url).text
        except httpx.HTTPError:
            return {}
        return node_gauges(text)

    def _redis_info(self, url: str) -> dict[str, float]:
        client = self._redis.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._redis[url] = client
        try:
            # One round trip; redis-py reconnects by itself after Redis restarted.
            with client.pipeline(transaction=False) as pipe:
                pipe.info("memory")
                pipe.info("clients")
                pipe.info("stats")
                pipe.dbsize()
                memory, clients, stats, keys = pipe.execute()
        except (redis.RedisError, OSError):
            return {}
        return {
            "used_memory": float(memory.get("used_memory", 0)),
            "keys": float(keys),
            "clients": float(clients.get("connected_clients", 0)),
            "pubsub_channels": float(stats.get("pubsub_channels", 0)),
        }


def _resources(target: SampleTarget) -> dict[str, Any] | None:
    pid = target.pid()
    if pid is None:
        return None
    grouped = target.group or target.kind == "loadgen"
    return group_resources(pid) if grouped else process_resources(pid)


def node_gauges(text: str) -> dict[str, float]:
    """The open-streams and sessions gauges out of a node's Prometheus text (one node, one
    sample per gauge: ``mcp_sessions{node="n1"} 20.0``); the full parser costs ten times more."""
    gauges: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("mcp_"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        key = _NODE_GAUGES.get(name)
        if key is not None and key not in gauges:
            try:
                gauges[key] = float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
    return gauges
