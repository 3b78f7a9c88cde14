"""A redis-server process of our own on a free 127.0.0.1 port, for tests, CI and runs.

Redis is started as a child process (not a system service) so that the harness owns it by
PID: it can SIGKILL and restart it on the same port with the same data directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.cluster.base import ClusterStartError
from harness.cluster.child_process import signal_and_wait


class RedisNotAvailable(ClusterStartError):
    """redis-server is not installed and could not be installed."""


def find_redis_server(install: bool = True) -> str:
    """Path of redis-server; installs Debian's package when missing and running as root."""
    found = shutil.which("redis-server")
    if found:
        return found
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=False,
            env=env,
            capture_output=True,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    raise RedisNotAvailable(
        "redis-server was not found on PATH; install it (Debian: apt-get install redis-server) "
        "or run as root so that mcp-scale installs it"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisProcess:
    """One redis-server we started; ``persistent`` turns on appendonly (no fsync of its own)."""

    port: int = 0
    persistent: bool = True
    data_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own_dir: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 10.0) -> RedisProcess:
        binary = find_redis_server()
        if not self.port:
            self.port = free_port()
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="mcp-scale-redis-"))
            self._own_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--loglevel",
            "warning",
        ]
        if self.persistent:
            # The nemesis kills the Redis process, never the machine: every write Redis has
            # acknowledged is already in the AOF file (written before the reply goes out), so it
            # survives in the page cache without an fsync. `appendfsync always` protected only
            # against a machine crash, and on a busy disk its fsyncs stalled Redis for seconds
            # (measured: 503 "Timeout reading" from every node while a benchmark wrote GBs).
            args += ["--appendonly", "yes", "--appendfsync", "no"]
        else:
            args += ["--appendonly", "no"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisNotAvailable(
                    f"redis-server exited with {self.process.returncode} on port {self.port}"
                )
            if _ping(self.port):
                return self
            time.sleep(0.02)
        self.kill()
        raise RedisNotAvailable(f"redis-server did not answer on port {self.port} in {timeout}s")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like; appendonly data survives."""
        signal_and_wait(self.process, signal.SIGKILL)

    def stop(self) -> None:
        signal_and_wait(self.process, signal.SIGTERM)

    def restart(self) -> None:
        self.kill()
        self.start()

    def cleanup(self) -> None:
        self.kill()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
