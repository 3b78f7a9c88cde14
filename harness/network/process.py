"""The harness's handle on its fault proxy process: start it, open links, impair them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any

from harness.cluster.child_process import signal_and_wait
from harness.network.link import LinkImpairment

# Identifies the proxy's process to the registry that cleans up after a crashed harness.
COMMAND_MATCH = "harness.network.proxy"


class ProxyError(RuntimeError):
    """The fault proxy refused a command or is gone; the message says which and why."""


@dataclass
class FaultProxy:
    """One proxy process for every link of a run; thread-safe (the nemesis acts from its
    own thread while the cluster opens links from the run's)."""

    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> FaultProxy:
        # Its own session, like the nodes: a Ctrl-C reaches the harness, which stops it.
        self.process = subprocess.Popen(
            [sys.executable, "-m", COMMAND_MATCH],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        return self

    def open(self, link: str, upstream: int, listen: int = 0) -> int:
        """Relay ``link`` from a port of its own (``listen``, or a free one) to ``upstream``;
        returns the port to connect to instead of ``upstream``."""
        answer = self._ask({"op": "open", "link": link, "upstream": upstream, "listen": listen})
        return int(answer["port"])

    def impair(self, link: str, how: LinkImpairment) -> str:
        answer = self._ask({"op": "impair", "link": link, "impairment": how.to_dict()})
        return str(answer["detail"])

    def connections(self) -> dict[str, int]:
        """How many connections each link relays now."""
        return {str(k): int(v) for k, v in self._ask({"op": "stats"})["connections"].items()}

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        process = self.process
        if process is None or process.poll() is not None:
            raise ProxyError(f"the fault proxy is not running (command {command['op']})")
        stdin: IO[bytes] | None = process.stdin
        stdout: IO[bytes] | None = process.stdout
        assert stdin is not None and stdout is not None
        with self._lock:
            try:
                stdin.write(json.dumps(command).encode() + b"\n")
                stdin.flush()
                line = stdout.readline()
            except OSError as exc:
                raise ProxyError(f"the fault proxy is gone: {exc}") from None
        if not line:
            raise ProxyError(f"the fault proxy exited (code {process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise ProxyError(f"the fault proxy refused {command['op']}: {answer.get('error')}")
        return answer

    def close(self) -> None:
        """Close its stdin (it exits by itself), then make sure it is gone."""
        process = self.process
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            signal_and_wait(process, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()
