"""The official MCP conformance suite against one reference-server node in Redis mode.

Runs the server scenarios that each spec revision requires (the suite's ``--requirements``,
frozen at the revision's release) of npm @modelcontextprotocol/conformance: 2025-11-25 (the
handshake era) and 2026-07-28 (stateless), against the same node, each with its baseline of
expected failures (EXPECTED_FAILURES). Needs
scripts/install_conformance.sh (CI runs it); skipped, saying so, when the suite or a
Node >= 22 is missing. Starts its own redis-server and server node, and stops both however it
ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.redis_process import RedisProcess, free_port
from tests.support.conformance import (
    ROOT,
    SUITE_ENTRY,
    run_suite,
    stop,
    suite_node_or_skip,
    summary,
)

# Per revision: the suite's --expected-failures file (a listed scenario that passes fails too).
EXPECTED_FAILURES = {
    "2025-11-25": ROOT / "tests/integration/conformance_expected_failures.yml",
    "2026-07-28": ROOT / "tests/integration/conformance_expected_failures_2026-07-28.yml",
}

SERVER_START_TIMEOUT = 30.0
SUITE_TIMEOUT = 240.0

pytestmark = pytest.mark.timeout(SUITE_TIMEOUT + SERVER_START_TIMEOUT + 60)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture
def redis() -> Iterator[RedisProcess]:
    process = RedisProcess(persistent=False)
    try:
        process.start()
        yield process
    finally:
        process.cleanup()


@pytest.fixture
def server_url(redis: RedisProcess, tmp_path: Path) -> Iterator[str]:
    """One reference-server node (Redis session store and stream manager); its /mcp URL."""
    port = free_port()
    log_path = tmp_path / "server.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-m",
        "reference_server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--node-id", "n1",
        "--session-store", "redis",
        "--stream-manager", "redis",
        "--redis-url", redis.url,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(f"http://127.0.0.1:{port}/healthz"):
            if process.poll() is not None:
                pytest.fail(
                    f"reference server exited with {process.returncode} before it was healthy:"
                    f"\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"reference server not healthy in {SERVER_START_TIMEOUT}s:\n{_tail(log_path)}"
                )
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


@pytest.fixture
def suite_node() -> str:
    """The Node to run the suite with; skips (before any process starts) when not installed."""
    return suite_node_or_skip()


# suite_node comes first so that a missing suite skips before Redis and the node start.
@pytest.mark.parametrize("revision", sorted(EXPECTED_FAILURES))
def test_conformance_suite_passes(
    suite_node: str, server_url: str, tmp_path: Path, revision: str
) -> None:
    results = tmp_path / "conformance-results"
    command = [
        suite_node,
        str(SUITE_ENTRY),
        "server",
        "--url", server_url,
        "--requirements", revision,
        "--expected-failures", str(EXPECTED_FAILURES[revision]),
        "--output-dir", str(results),
    ]  # fmt: skip
    returncode, output = run_suite(command, SUITE_TIMEOUT)
    assert "=== SUMMARY ===" in output, f"the suite did not run its scenarios:\n{output[-6000:]}"
    assert returncode == 0, (
        f"conformance suite failed for {revision} (exit {returncode}; per-check results in "
        f"{results}):\n{summary(output)}"
    )
