"""The local backend: Redis and N reference-server nodes as processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from harness.chaos.faults import FaultSubject, Scope, apply_fault
from harness.cluster.node_process import NodeProcess, new_state_key
from harness.cluster.redis_process import RedisProcess
from harness.monitor import SampleTarget


@dataclass
class LocalCluster:
    """Everything it starts it owns by PID, and ``close`` stops all of it."""

    nodes: int = 3
    store: str = "redis"
    defects: tuple[str, ...] = ()
    redis_persistent: bool = True
    log_dir: Path | None = None
    node_args: tuple[str, ...] = ()
    state_key: str = field(default_factory=new_state_key)
    redis: RedisProcess | None = None
    members: dict[str, NodeProcess] = field(default_factory=dict)

    def start(self) -> LocalCluster:
        try:
            if self.store == "redis":
                self.redis = RedisProcess(persistent=self.redis_persistent).start()
            for index in range(1, self.nodes + 1):
                node = NodeProcess(
                    node_id=f"n{index}",
                    store=self.store,
                    redis_url=self.redis.url if self.redis else "",
                    defects=self.defects,
                    log_dir=self.log_dir,
                    extra_args=self.node_args,
                    state_key=self.state_key,
                )
                self.members[node.node_id] = node
                node.start()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.members.values()]

    def node(self, node_id: str) -> NodeProcess:
        try:
            return self.members[node_id]
        except KeyError:
            known = ", ".join(self.members)
            raise KeyError(f"no node {node_id!r} in this cluster (nodes: {known})") from None

    def node_ids(self) -> list[str]:
        return list(self.members)

    def apply_fault(self, name: str, target: str | None) -> str:
        """Apply a nemesis fault to a process of this cluster; see harness.chaos.faults."""
        return apply_fault(self.subject, name, target)

    def subject(self, scope: Scope, target: str | None) -> FaultSubject:
        if scope == "redis":
            if self.redis is None:
                raise ValueError(f"this cluster runs without Redis (store {self.store!r})")
            return _RedisSubject(self.redis)
        return _NodeSubject(self.node(target or ""))

    def sample_targets(self) -> list[SampleTarget]:
        targets = [
            SampleTarget(
                node.node_id,
                "node",
                partial(_pid_if_alive, node),
                metrics_url=f"{node.base_url}/metrics",
            )
            for node in self.members.values()
        ]
        redis = self.redis
        if redis is not None:
            targets.append(SampleTarget("redis", "redis", lambda: redis.pid, redis_url=redis.url))
        return targets

    def processes(self) -> dict[str, tuple[int, str]]:
        """What runs now, by name: (PID, a command-line fragment that identifies it), for the
        registry that lets a later run clean up after a crashed harness."""
        running: dict[str, tuple[int, str]] = {}
        for node in self.members.values():
            if node.pid is not None and node.alive():
                running[f"node-{node.node_id}"] = (node.pid, f"--port {node.port}")
        if self.redis is not None and self.redis.pid is not None:
            # redis-server rewrites its process title to "redis-server 127.0.0.1:PORT".
            running["redis"] = (self.redis.pid, f":{self.redis.port}")
        return running

    def close(self) -> None:
        for node in self.members.values():
            node.kill()
        if self.redis is not None:
            self.redis.cleanup()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pid_if_alive(node: NodeProcess) -> int | None:
    return node.pid if node.alive() else None


@dataclass(frozen=True)
class _NodeSubject:
    node: NodeProcess

    def _acted(self, act: Callable[[], None]) -> str:
        pid = self.node.pid
        act()
        return f"{self.node.node_id} pid {pid}"

    def kill(self) -> str:
        return self._acted(self.node.kill)

    def stop(self) -> str:
        return self._acted(self.node.stop)

    def pause(self) -> str:
        return self._acted(self.node.pause)

    def resume(self) -> str:
        return self._acted(self.node.resume)

    def restart(self) -> str:
        pid = self.node.pid
        self.node.restart()
        return f"{self.node.node_id} pid {pid} -> {self.node.pid} on port {self.node.port}"


@dataclass(frozen=True)
class _RedisSubject:
    redis: RedisProcess

    def kill(self) -> str:
        pid = self.redis.pid
        self.redis.kill()
        return f"redis pid {pid}"

    def stop(self) -> str:
        pid = self.redis.pid
        self.redis.stop()
        return f"redis pid {pid}"

    def pause(self) -> str:
        raise ValueError("Redis is not paused by this backend (no pause-redis fault)")

    resume = pause

    def restart(self) -> str:
        pid = self.redis.pid
        self.redis.restart()
        return f"redis pid {pid} -> {self.redis.pid} on port {self.redis.port}"
