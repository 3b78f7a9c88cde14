"""The local backend: Redis and N reference-server nodes as processes on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.cluster.node_process import NodeProcess
from harness.cluster.redis_process import RedisProcess


@dataclass
class LocalCluster:
    """Everything it starts it owns by PID, and ``close`` stops all of it."""

    nodes: int = 3
    store: str = "redis"
    defects: tuple[str, ...] = ()
    redis_persistent: bool = True
    log_dir: Path | None = None
    node_args: tuple[str, ...] = ()
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
        if name.endswith("-redis"):
            return self._redis_fault(name)
        node = self.node(target or "")
        pid = node.pid
        if name == "kill-node":
            node.kill()
        elif name == "stop-node":
            node.stop()
        elif name == "pause-node":
            node.pause()
        elif name == "resume-node":
            node.resume()
        elif name == "restart-node":
            node.restart()
            return f"{node.node_id} pid {pid} -> {node.pid} on port {node.port}"
        else:
            raise ValueError(f"the local backend has no fault {name!r}")
        return f"{node.node_id} pid {pid}"

    def _redis_fault(self, name: str) -> str:
        if self.redis is None:
            raise ValueError(f"{name}: this cluster runs without Redis (store {self.store!r})")
        pid = self.redis.pid
        if name == "kill-redis":
            self.redis.kill()
        elif name == "restart-redis":
            self.redis.restart()
            return f"redis pid {pid} -> {self.redis.pid} on port {self.redis.port}"
        else:
            raise ValueError(f"the local backend has no fault {name!r}")
        return f"redis pid {pid}"

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
