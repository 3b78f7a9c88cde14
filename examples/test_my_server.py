"""mcp-scale in your test suite: copy this file next to your tests and adapt the markers.

Installed with mcp-scale, the pytest plugin gives two fixtures: ``mcp_cluster`` starts the
cluster a test's ``mcp_cluster`` marker describes and stops all of it after the test;
``mcp_run`` drives it with a scenario and a fault timeline and returns the run's verdict,
each checker's result and counts, the metrics and the run directory. A failing run fails
the test, naming each failing checker with its first offending records; its run directory
is kept under ``reports/pytest/`` (``--mcp-runs-dir``, ``--mcp-keep-runs``).

    pytest examples/test_my_server.py                        # the plugin loads by itself
    pytest -p harness.pytest_plugin examples/test_my_server.py  # from a checkout

Runs are sized by work (``until_requests``: requests after the last fault) with
``duration`` as the bound, so a slow CI machine makes them longer, not flaky.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import harness
from harness.testing import McpRunResult

# Your own server: a target profile with a launch: section (README, "Test your own server").
# The recipe below starts this project's reference server the same way yours would start.
MY_SERVER = Path(harness.__file__).parent / "targets" / "reference-server-command.yaml"

Run = Callable[..., McpRunResult]


@pytest.mark.mcp_cluster(target_profile=str(MY_SERVER), nodes=2)
def test_my_server_keeps_sessions_and_messages_through_a_node_kill(mcp_run: Run) -> None:
    result = mcp_run(
        "notifications",
        users=10,
        chaos="kill-node:n1@3s; restart-node:n1@6s",
        duration="60s",
        until_requests=150,
        thresholds=["errors.rate < 50%"],
    )
    assert result.verdict == "pass"
    assert result.checkers["survival"].valid is True
    assert result.checkers["delivery"].counts["lost"] == 0
    assert (result.run_dir / "report.md").is_file()


@pytest.mark.mcp_cluster(nodes=2, store="redis")
def test_reference_cluster_answers_every_sample_on_its_own_node(mcp_run: Run) -> None:
    result = mcp_run("sampling", users=10, duration="60s", until_requests=100)
    assert result.checkers["routing"].valid is True
    assert result.metrics["requests.count"] > 0
