"""The pytest plugin on real processes: the shipped example file passes in a pytest run of
its own (clusters torn down, nothing left running), and a failing run fails its test with
the checker's name and first offending records, its run directory kept."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "test_my_server.py"

FAILING = """
import pytest

@pytest.mark.mcp_cluster(nodes=2, store="redis", defects=["reuse-request-ids"])
def test_broken_routing(mcp_run):
    mcp_run("sampling", users=10, duration="60s", until_requests=150)
"""


def pytest_run(*args: str, state: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """pytest in its own process with the plugin loaded by name (a checkout has no entry
    point; an installed mcp-scale registers it under the same name, loaded once)."""
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(state)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "harness.pytest_plugin",
        "-p",
        "no:cacheprovider",
    ]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )


def accepts(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.timeout(420)
def test_the_example_passes_and_leaves_nothing_running(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = pytest_run(
        str(EXAMPLE), "-q", "--mcp-runs-dir", str(runs), "--mcp-keep-runs", "all", state=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    manifests = sorted(runs.glob("*/*/run.json"))
    assert len(manifests) == 2, sorted(runs.rglob("*"))
    for manifest in manifests:
        assert (manifest.parent / "summary.json").is_file()
        urls = json.loads(manifest.read_text())["urls"]
        assert urls and not [url for url in urls if accepts(url)], "a node outlived its test"
    assert not list(tmp_path.glob("live/*.json")), "every cluster left the process registry"


@pytest.mark.timeout(300)
def test_a_failing_run_names_its_checker_and_keeps_its_run_directory(tmp_path: Path) -> None:
    test_file = tmp_path / "test_failing.py"
    test_file.write_text(FAILING)
    runs = tmp_path / "runs"
    result = pytest_run(str(test_file), "-q", "--mcp-runs-dir", str(runs), state=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checker routing failed" in result.stdout, result.stdout
    assert "offending: {" in result.stdout
    kept = list(runs.glob("*test_broken_routing/01-sampling/report.md"))
    assert kept, sorted(runs.rglob("*"))
    assert "mcp-scale run directories kept" in result.stdout
