"""One reference-server node as a child process that the harness owns by PID."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.cluster.base import ClusterStartError
from harness.cluster.child_process import signal_and_wait
from harness.cluster.redis_process import free_port
from reference_server.mrtr.state import STATE_KEY_ENV


def new_state_key() -> str:
    """A cluster's requestState key: every node of one cluster gets the same, so a 2026-07-28
    MRTR retry is accepted by whichever node takes it."""
    return secrets.token_hex(32)


class NodeStartError(ClusterStartError):
    """A node did not become healthy; the message carries the tail of its log."""


@dataclass
class NodeProcess:
    node_id: str
    store: str  # "memory" or "redis", used for both the session store and stream manager
    redis_url: str = ""
    defects: tuple[str, ...] = ()
    port: int = 0
    log_dir: Path | None = None
    extra_args: tuple[str, ...] = ()
    # The cluster's requestState key (hex), given to the node as MCP_SCALE_STATE_KEY.
    state_key: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    paused: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/mcp"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "reference_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--node-id",
            self.node_id,
            "--session-store",
            self.store,
            "--stream-manager",
            self.store,
        ]
        if self.redis_url:
            args += ["--redis-url", self.redis_url]
        for defect in self.defects:
            args += ["--defect", defect]
        return args + list(self.extra_args)

    def start(self, timeout: float = 20.0) -> NodeProcess:
        if not self.port:
            self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.state_key:
            env[STATE_KEY_ENV] = self.state_key
        if self.log_dir is None:
            self.process = subprocess.Popen(
                self.command(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    self.command(), stdout=log, stderr=log, env=env, start_new_session=True
                )
        self.paused = False
        self.wait_healthy(timeout)
        return self

    @property
    def log_path(self) -> Path:
        assert self.log_dir is not None
        return self.log_dir / f"node-{self.node_id}.log"

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise NodeStartError(f"node {self.node_id} exited at start{self._log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise NodeStartError(f"node {self.node_id} not healthy in {timeout}s{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_dir is None or not self.log_path.exists():
            return ""
        return ":\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        signal_and_wait(self.process, signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        signal_and_wait(self.process, signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the node holds its sockets but answers nothing (a GC pause, a hung VM)."""
        if self.alive() and self.process is not None:
            self.process.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.alive() and self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.paused = False

    def restart(self, timeout: float = 20.0) -> None:
        """Start again on the same port, so that clients' URLs stay valid."""
        self.kill()
        self.start(timeout)
