"""The command backend: N instances of any MCP server, started from a command template.

Each node runs in its own process group (``start_new_session``), so that a wrapper (``npx``,
``uv run``, a shell script) and everything it starts are one unit: every fault and every stop
acts on the whole group, by its id, never by a program's name. Each node's environment carries
a marker (``MCP_SCALE_NODE=<run token>-<node id>``) that proves to ``mcp-scale cleanup`` that
a group it finds in the registry is still ours (see harness.cluster.registry).

A node that exits at start, is not ready within its timeout, or ignores SIGTERM when the run
ends is reported with the tail of its log (``logs/node-<id>.log`` in the run directory).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.chaos.faults import FaultSubject, Scope, apply_fault
from harness.cluster.base import ClusterStartError
from harness.cluster.launch import LaunchSpec, command_line
from harness.cluster.local import _RedisSubject
from harness.cluster.node_process import new_state_key
from harness.cluster.redis_process import RedisProcess, free_port
from harness.cluster.registry import group_match, group_members
from harness.monitor import SampleTarget

MARKER = "MCP_SCALE_NODE"
STOP_GRACE = 5.0  # seconds a node has to exit after SIGTERM before its group is SIGKILLed
LOG_TAIL = 15


class NodeStartError(ClusterStartError):
    """A node exited at start or was not ready in time; the message has its log tail."""


def _stderr(line: str) -> None:
    print(f"mcp-scale: {line}", file=sys.stderr, flush=True)


@dataclass
class CommandNode:
    """One instance: its command filled in for its port and id, and its process group."""

    node_id: str
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    port: int
    launch: LaunchSpec
    log_path: Path
    marker: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.launch.path}"

    @property
    def pgid(self) -> int | None:
        """The process group (the leader's PID): what every signal goes to."""
        return self.process.pid if self.process else None

    def members(self) -> list[int]:
        return group_members(self.pgid) if self.pgid else []

    def alive(self) -> bool:
        return bool(self.members())

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, MARKER: self.marker}
        with open(self.log_path, "ab") as log:
            log.write(f"--- mcp-scale: starting {self.node_id}: {self.argv}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise NodeStartError(
                    f"node {self.node_id}: cannot start {self.argv[0]!r}: {exc.strerror}"
                    f" (command: {command_line(self.launch)}, cwd {self.cwd or os.getcwd()})"
                ) from None

    def wait_ready(self) -> None:
        timeout = self.launch.ready_timeout
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as http:
            while time.monotonic() < deadline:  # bounded by the ready timeout
                if self.process is None or (code := self.process.poll()) is not None:
                    code = self.process.returncode if self.process else None
                    self.kill()
                    raise NodeStartError(
                        f"node {self.node_id} exited with code {code} at start "
                        f"(command: {' '.join(self.argv)}){self.log_tail()}"
                    )
                if self._probe(http):
                    return
                time.sleep(0.1)
        self.kill()
        raise NodeStartError(
            f"node {self.node_id} was not ready within {timeout:g}s (ready: {self.launch.ready} "
            f"on port {self.port}; command: {' '.join(self.argv)}){self.log_tail()}"
        )

    def _probe(self, http: httpx.Client) -> bool:
        path = self.launch.ready_path
        if path is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False
        try:
            return http.get(f"{self.base_url}{path}").status_code < 500
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"; last lines of {self.log_path}:\n" + "\n".join(text) if text else ""

    def signal_group(self, sig: signal.Signals) -> None:
        if self.pgid is not None and self.members():
            try:
                os.killpg(self.pgid, sig)
            except (ProcessLookupError, PermissionError):
                return

    def _wait_gone(self, timeout: float) -> bool:
        """Reap the leader and wait until no process of the group runs; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:  # bounded by the deadline
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=0.05)
            if not self.members():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the whole group: a crash, with no chance to clean up."""
        self.signal_group(signal.SIGKILL)
        self._wait_gone(10.0)

    def stop(self, grace: float = STOP_GRACE) -> bool:
        """SIGTERM to the group, SIGKILL after ``grace``; False when SIGKILL was needed."""
        self.signal_group(signal.SIGCONT)
        self.signal_group(signal.SIGTERM)
        if self._wait_gone(grace):
            return True
        self.kill()
        return False

    def pause(self) -> None:
        """SIGSTOP to the group: it holds its sockets but answers nothing."""
        self.signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)

    def restart(self) -> None:
        """Kill, then start again with the same port and environment, and wait until ready."""
        self.kill()
        self.spawn()
        self.wait_ready()


@dataclass
class CommandCluster:
    """N instances of ``launch.command`` (and Redis when asked), owned by process group."""

    launch: LaunchSpec
    nodes: int
    run_dir: Path
    log_dir: Path
    stop_grace: float = STOP_GRACE
    warn: Callable[[str], None] = _stderr
    redis: RedisProcess | None = None
    members: dict[str, CommandNode] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(6))
    state_key: str = field(default_factory=new_state_key)

    def start(self) -> CommandCluster:
        try:
            if self.launch.redis:
                self.redis = RedisProcess(persistent=True).start()
            for index in range(1, self.nodes + 1):
                node = self._node(index)
                self.members[node.node_id] = node
                node.spawn()
            for node in self.members.values():
                node.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def _node(self, index: int) -> CommandNode:
        node_id = f"n{index}"
        port = free_port()
        values = {
            "port": str(port),
            "node_id": node_id,
            "index": str(index),
            "redis_url": self.redis.url if self.redis else "",
            "run_dir": str(self.run_dir.resolve()),
            "python": sys.executable,
            "state_key": self.state_key,
        }
        launch = self.launch
        return CommandNode(
            node_id=node_id,
            argv=[launch.fill(part, values) for part in launch.command],
            env={key: launch.fill(value, values) for key, value in launch.env.items()},
            cwd=launch.fill(launch.cwd, values) if launch.cwd else None,
            port=port,
            launch=launch,
            log_path=self.log_dir / f"node-{node_id}.log",
            marker=f"{self.token}-{node_id}",
        )

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.members.values()]

    def node_ids(self) -> list[str]:
        return list(self.members)

    def node(self, node_id: str) -> CommandNode:
        try:
            return self.members[node_id]
        except KeyError:
            known = ", ".join(self.members)
            raise KeyError(f"no node {node_id!r} in this cluster (nodes: {known})") from None

    def apply_fault(self, name: str, target: str | None) -> str:
        return apply_fault(self.subject, name, target)

    def subject(self, scope: Scope, target: str | None) -> FaultSubject:
        if scope == "redis":
            if self.redis is None:
                raise ValueError("this cluster runs without Redis (launch.redis is false)")
            return _RedisSubject(self.redis)
        return _GroupSubject(self.node(target or ""), self.stop_grace)

    def processes(self) -> dict[str, tuple[int, str]]:
        running: dict[str, tuple[int, str]] = {}
        for node in self.members.values():
            if node.pgid is not None and node.alive():
                running[f"node-{node.node_id}"] = (node.pgid, group_match(MARKER, node.marker))
        if self.redis is not None and self.redis.pid is not None:
            running["redis"] = (self.redis.pid, f":{self.redis.port}")
        return running

    def sample_targets(self) -> list[SampleTarget]:
        targets = [
            SampleTarget(node.node_id, "node", _group_if_alive(node), group=True)
            for node in self.members.values()
        ]
        redis = self.redis
        if redis is not None:
            targets.append(SampleTarget("redis", "redis", lambda: redis.pid, redis_url=redis.url))
        return targets

    def close(self) -> None:
        """SIGTERM every node's group, SIGKILL what is left after the grace; each node that
        needed SIGKILL is reported with its log tail."""
        for node in self.members.values():
            if node.alive():
                node.signal_group(signal.SIGCONT)
                node.signal_group(signal.SIGTERM)
        for node in self.members.values():
            if node._wait_gone(self.stop_grace):
                continue
            node.kill()
            self.warn(
                f"node {node.node_id} (process group {node.pgid}) ignored SIGTERM for "
                f"{self.stop_grace:g}s: its group was SIGKILLed{node.log_tail()}"
            )
        if self.redis is not None:
            self.redis.cleanup()

    def __enter__(self) -> CommandCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _group_if_alive(node: CommandNode) -> Callable[[], int | None]:
    return lambda: node.pgid if node.alive() else None


@dataclass(frozen=True)
class _GroupSubject:
    node: CommandNode
    grace: float

    def _acted(self, act: Callable[[], object]) -> str:
        pgid = self.node.pgid
        act()
        return f"{self.node.node_id} process group {pgid}"

    def kill(self) -> str:
        return self._acted(self.node.kill)

    def stop(self) -> str:
        pgid = self.node.pgid
        graceful = self.node.stop(self.grace)
        how = "" if graceful else f" (ignored SIGTERM for {self.grace:g}s: SIGKILLed)"
        return f"{self.node.node_id} process group {pgid}{how}"

    def pause(self) -> str:
        return self._acted(self.node.pause)

    def resume(self) -> str:
        return self._acted(self.node.resume)

    def restart(self) -> str:
        pgid = self.node.pgid
        self.node.restart()
        return (
            f"{self.node.node_id} process group {pgid} -> {self.node.pgid} on port {self.node.port}"
        )
