"""End to end: ``mcp-scale capacity`` against one reference-server node whose calls hold one of
two work slots for 100 ms (so it serves 20 calls a second at most, and queues beyond), the
arrival rate stepped up 6 calls a second at a time on one cluster: the search finds the knee,
stops at the step that breaks the latency threshold, writes capacity.json, .md and the chart,
and leaves no node running. Bounded by its plan (5 steps of 4 s at most), not by timing."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness import exit_codes
from harness.history import read_history
from harness.run.directory import RunManifest
from tests.support.cli import mcp_scale

WORK_PROFILE = """name: reference-server-work
actions:
  call: {tool: work, arguments: {ms: 100, slots: 2}}
"""


@pytest.mark.timeout(240)
def test_a_rate_search_finds_the_knee_and_the_capacity_of_a_fixed_capacity_server(
    tmp_path: Path, state_dir: Path
) -> None:
    profile = tmp_path / "work.yaml"
    profile.write_text(WORK_PROFILE)
    out = tmp_path / "search"
    args = ["--target-profile", str(profile), "--nodes", "1", "--store", "memory", "--rate"]
    # 6, 12, 18 (90 % of the capacity: no queue builds), 24 and 30 (a queue grows).
    args += ["--users", "40", "--start", "6", "--step", "6", "--max-steps", "5"]
    # A generous threshold: only a growing queue breaks it, not a busy machine's hiccup.
    args += ["--step-duration", "4s", "--threshold", "latency.tools_call.p99 < 1s"]
    result = mcp_scale("capacity", *args, "--out", str(out), state_dir=state_dir, timeout=200)
    assert result.returncode == exit_codes.PASS, result.stdout + result.stderr

    found = json.loads((out / "capacity.json").read_text())
    assert found["format"] == "mcp-scale-capacity/1"
    assert found["ending"] == "threshold", found
    assert 1 <= len(found["steps"]) <= 5
    capacity, broke, knee = found["capacity"], found["broke_at"], found["knee"]
    assert capacity is not None and broke is not None and knee is not None
    # 2 slots x 100 ms: past 20 calls a second the throughput cannot follow the rate.
    assert knee["load"] <= 24 and knee["load"] < broke
    assert capacity < broke
    assert [s["held"] for s in found["steps"]] == [True] * (len(found["steps"]) - 1) + [False]
    assert all(0 < s["sent"] <= s["due"] for s in found["steps"])
    last = found["steps"][-1]
    assert last["load"] == broke and last["throughput"] < broke

    # Latency from the intended start: calls of the overloaded step waited, and it counts.
    history = read_history(out / last["run_dir"])
    waited = [r for r in history if r["f"] == "call:work" and r.get("queued", 0) > 0]
    assert waited and all(r["latency"] >= r["queued"] for r in waited)
    report = (out / "capacity.md").read_text()
    assert "intended start" in report and "Knee:" in report
    assert (out / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # One cluster served every step, and it is gone.
    manifests = [RunManifest.read(out / step["run_dir"]) for step in found["steps"]]
    urls = {url for manifest in manifests if manifest is not None for url in manifest.urls}
    assert len(urls) == 1 and len(manifests) == len(found["steps"])
    address = urlsplit(urls.pop())
    with pytest.raises(OSError):
        socket.create_connection((address.hostname, address.port), timeout=2).close()


@pytest.mark.timeout(120)
def test_a_users_search_whose_first_step_breaks_exits_with_no_capacity(
    tmp_path: Path, state_dir: Path
) -> None:
    """Users of the standard scenario, each call 100 ms: a 1 ms p99 cannot hold, so the first
    step breaks it, the search stops there and says so with its own exit code."""
    profile = tmp_path / "work.yaml"
    profile.write_text(WORK_PROFILE)
    out = tmp_path / "search"
    args = ["--target-profile", str(profile), "--nodes", "1", "--store", "memory"]
    args += ["--start", "2", "--step", "x2", "--max-steps", "3", "--step-duration", "3s"]
    args += ["--threshold", "latency.tools_call.p99 < 1ms"]
    result = mcp_scale("capacity", *args, "--out", str(out), state_dir=state_dir, timeout=100)
    assert result.returncode == exit_codes.NO_CAPACITY, result.stdout + result.stderr
    assert "no capacity: the first step (2 users) broke" in result.stdout
    found = json.loads((out / "capacity.json").read_text())
    assert (found["scenario"], found["unit"], found["capacity"]) == ("standard", "users", None)
    (step,) = found["steps"]
    assert not step["held"] and step["due"] is None
    assert "from each call's send" in (out / "capacity.md").read_text()
