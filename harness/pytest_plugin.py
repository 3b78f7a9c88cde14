"""The pytest plugin (entry point ``pytest11``): mcp-scale runs as fixtures.

``mcp_cluster`` starts a cluster for the test (the reference server, or your own server
through a target profile with a ``launch:`` section) and stops everything it started after
it; ``mcp_run`` runs a scenario with a chaos timeline against that cluster and returns an
:class:`harness.testing.McpRunResult`. A run whose verdict is fail fails the test with
each failing checker and its first offending records (``check=False`` returns it instead)::

    @pytest.mark.mcp_cluster(nodes=2, store="redis")   # or target_profile="my-server.yaml"
    def test_failover(mcp_run):
        result = mcp_run("notifications", users=10, until_requests=200,
                         chaos="kill-node:n1@4s; restart-node:n1@7s")
        assert result.checkers["delivery"].counts["lost"] == 0

Run directories go to ``--mcp-runs-dir`` (``reports/pytest``), one folder per test; those
of passing tests are removed unless ``--mcp-keep-runs all`` or ``@pytest.mark.mcp_keep_run``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.run.profile import ProfileError
from harness.run.runner import RunFailed
from harness.testing import McpCluster, McpRunResult, cluster_profile, run_on, started_cluster

KEEP_CHOICES = ("failed", "all", "none")
_failed = pytest.StashKey[bool]()
_kept = pytest.StashKey[list[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcp-scale", "mcp-scale runs (fixtures mcp_cluster, mcp_run)")
    group.addoption(
        "--mcp-runs-dir",
        default=None,
        help="where each test's run directories go, one folder per test (reports/pytest)",
    )
    group.addoption(
        "--mcp-keep-runs",
        choices=KEEP_CHOICES,
        default="failed",
        help="keep the run directories of failed tests (default), of all tests, or of none",
    )
    group.addoption(
        "--mcp-target-profile",
        default=None,
        help="every mcp_cluster without its own target_profile runs this one (a launch: section)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mcp_cluster(**settings): the test's cluster (nodes, store, defects, target_profile, "
        "node_command, ... as in mcp-scale run)",
    )
    config.addinivalue_line(
        "markers", "mcp_keep_run: keep this test's run directories even when it passes"
    )
    config.stash[_kept] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_failed] = True
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    kept = config.stash.get(_kept, [])
    if kept:
        terminalreporter.write_sep("-", "mcp-scale run directories kept")
        for folder in kept:
            terminalreporter.write_line(str(folder))


@pytest.fixture
def mcp_test_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This test's folder under --mcp-runs-dir: emptied before, removed after unless kept."""
    config = request.config
    root = Path(config.getoption("--mcp-runs-dir") or config.rootpath / "reports" / "pytest")
    folder = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder
    policy = config.getoption("--mcp-keep-runs")
    failed = request.node.stash.get(_failed, False)
    marked = request.node.get_closest_marker("mcp_keep_run") is not None
    if policy == "all" or marked or (failed and policy == "failed"):
        config.stash[_kept].append(folder)
    else:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mcp_cluster(request: pytest.FixtureRequest, mcp_test_dir: Path) -> Iterator[McpCluster]:
    """The test's cluster, from its ``mcp_cluster`` marker (default: 3 reference-server
    nodes on Redis); everything it started is stopped after the test."""
    marker = request.node.get_closest_marker("mcp_cluster")
    settings = dict(marker.kwargs) if marker else {}
    target = request.config.getoption("--mcp-target-profile")
    if target and not {"target_profile", "node_command"} & set(settings):
        settings["target_profile"] = target
    try:
        settings = cluster_profile(settings)
    except ProfileError as exc:
        pytest.fail(f"mcp_cluster: {exc}", pytrace=False)
    try:
        with started_cluster(settings, mcp_test_dir / "cluster") as cluster:
            yield cluster
    except RunFailed as exc:
        pytest.fail(f"mcp_cluster could not start: {exc}", pytrace=False)


@pytest.fixture
def mcp_run(mcp_cluster: McpCluster, mcp_test_dir: Path) -> Callable[..., McpRunResult]:
    """``mcp_run(scenario, *, check=True, **settings)``: a run on the test's cluster (settings
    as in mcp-scale run: chaos, users, duration, until_requests, thresholds, ...)."""
    count = 0

    def run(
        scenario: str = "notifications", *, check: bool = True, **settings: Any
    ) -> McpRunResult:
        nonlocal count
        count += 1
        run_dir = mcp_test_dir / f"{count:02d}-{scenario}"
        try:
            result = run_on(mcp_cluster, run_dir, scenario=scenario, **settings)
        except ProfileError as exc:
            pytest.fail(f"mcp_run: {exc}", pytrace=False)
        except RunFailed as exc:
            pytest.fail(f"mcp_run could not run ({run_dir}): {exc}", pytrace=False)
        if check and result.verdict == "fail":
            pytest.fail(result.explain(), pytrace=False)
        return result

    return run
