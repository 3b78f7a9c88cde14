"""Runs as values for tests: a started cluster that several runs drive, and a typed result.

What the pytest plugin (harness.pytest_plugin) is built on; usable from any test framework::

    with started_cluster(cluster_profile({"nodes": 2}), Path("cluster")) as cluster:
        result = run_on(cluster, Path("runs/a"), scenario="notifications", users=10,
                        chaos="kill-node:n1@4s; restart-node:n1@7s", until_requests=150)
        assert result.passed, result.explain()

Nothing here imports Locust: the load runs in its own process, as with ``mcp-scale run``.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.analysis import analyze_run
from harness.checkers.result import CheckResult
from harness.cluster.base import Cluster
from harness.cluster.registry import ProcessRegistry
from harness.gates import ThresholdResult
from harness.report import render_report
from harness.run.directory import RunFiles
from harness.run.profile import ProfileError, RunProfile, load_profile
from harness.run.runner import clean_up_crashed_runs, execute, make_cluster, start_cluster
from harness.verdict import Verdict

# The settings that make the cluster: given once for it, never per run.
CLUSTER_SETTINGS = (
    "backend",
    "nodes",
    "store",
    "defects",
    "target",
    "target_profile",
    "node_command",
    "node_env",
    "node_cwd",
    "node_ready",
    "node_ready_timeout",
    "node_path",
    "redis",
    "sessions",
    "network_links",
)
RUN_DEFAULTS: dict[str, Any] = {"users": 10, "spawn_rate": 10, "duration": "60s"}
EXAMPLES_SHOWN = 3  # offending records per failed checker in a failure message


@dataclass
class McpCluster:
    """A started cluster and the settings it was made from (every run on it shares them)."""

    settings: dict[str, Any]
    cluster: Cluster
    directory: Path

    @property
    def urls(self) -> list[str]:
        return self.cluster.urls

    def node_ids(self) -> list[str]:
        return self.cluster.node_ids()


@dataclass
class McpRunResult:
    """One run's outcome: its verdict, each checker's result, thresholds, metrics, run dir."""

    verdict: Verdict
    checkers: dict[str, CheckResult]
    thresholds: list[ThresholdResult]
    metrics: dict[str, float]
    run_dir: Path
    output: str = field(default="", repr=False)  # what the run printed (progress, nodes)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def failures(self) -> list[CheckResult]:
        """The checkers that fail the run (expected failures, e.g. memory mode's, do not)."""
        return [result for result in self.checkers.values() if result.fails_run]

    def explain(self) -> str:
        """Why the verdict is what it is: each failing checker with its first offending
        records, each failed threshold with what was measured, and where the run is."""
        lines = [f"mcp-scale run: verdict {self.verdict} ({self.run_dir})"]
        for result in self.failures():
            lines.append(f"checker {result.name} failed: {result.summary}")
            counts = ", ".join(f"{k}={v:g}" for k, v in result.counts.items())
            if counts:
                lines.append(f"  counts: {counts}")
            for example in result.examples[:EXAMPLES_SHOWN]:
                lines.append(f"  offending: {json.dumps(example, default=str)[:400]}")
        for result in self.checkers.values():
            if result.valid == "unknown":
                lines.append(f"checker {result.name} could not decide: {result.summary}")
        for gate in self.thresholds:
            if not gate.passed:
                lines.append(f"threshold {gate.threshold.text!r} not met: {gate.reason}")
        lines.append(f"report: {self.run_dir / 'report.md'}")
        return "\n".join(lines)


def cluster_profile(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The cluster's settings (RunProfile names: nodes, store, target_profile, ...), checked
    now so that a typo fails before anything starts (ProfileError)."""
    unknown = sorted(set(settings) - set(CLUSTER_SETTINGS))
    if unknown:
        raise ProfileError(
            f"not cluster settings: {unknown}; a cluster takes {', '.join(CLUSTER_SETTINGS)} "
            "(the rest are per run)"
        )
    load_profile(None, dict(settings))
    return dict(settings)


@contextmanager
def started_cluster(settings: Mapping[str, Any], directory: Path) -> Iterator[McpCluster]:
    """The cluster of ``settings`` started (node logs in ``directory/logs``), recorded in the
    process registry while it lives, and stopped with everything it started at the end."""
    profile = load_profile(None, dict(settings))
    files = RunFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    clean_up_crashed_runs(io.StringIO())
    registry = ProcessRegistry(f"pytest-{secrets.token_hex(4)}")
    cluster = make_cluster(profile, files)
    try:
        start_cluster(cluster, registry, io.StringIO())
        yield McpCluster(dict(settings), cluster, directory)
    finally:
        cluster.close()
        registry.remove()


def run_profile(cluster: McpCluster, settings: Mapping[str, Any]) -> RunProfile:
    """A run's profile on ``cluster``: its settings over RUN_DEFAULTS, the cluster's fixed."""
    shared = sorted(set(settings) & set(CLUSTER_SETTINGS))
    if shared:
        raise ProfileError(f"{shared} belong to the cluster (mcp_cluster), not to a run")
    known = {f.name for f in fields(RunProfile)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ProfileError(f"unknown run settings {unknown}; known: {sorted(known)}")
    profile = load_profile(None, {**RUN_DEFAULTS, **settings, **cluster.settings})
    missing = profile.proxied_links() - set(profile.network_links)
    if missing:
        raise ProfileError(
            f"this run's network faults need the fault proxy in the {', '.join(sorted(missing))} "
            f"links, which the cluster was started without: give the cluster "
            f"network_links={sorted(missing | set(profile.network_links))}"
        )
    return profile


def run_on(cluster: McpCluster, run_dir: Path, **settings: Any) -> McpRunResult:
    """One run (scenario, chaos, users, duration, until_requests, thresholds, ...) on the
    started ``cluster`` into ``run_dir``: checked and reported like ``mcp-scale run``.
    Raises RunFailed when the run could not be carried out."""
    profile = run_profile(cluster, settings)
    output = io.StringIO()
    execute(profile, run_dir, out=output, cluster=cluster.cluster)
    run = analyze_run(run_dir)
    render_report(run_dir, [run])
    return McpRunResult(
        verdict=run.verdict,
        checkers={result.name: result for result in run.results},
        thresholds=list(run.gates),
        metrics=dict(run.metrics),
        run_dir=run_dir,
        output=output.getvalue(),
    )
