"""The process registry finds what a dead harness started, even before it was recorded."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness.cluster.registry import ProcessRegistry, cleanup_orphans


def test_a_process_started_but_not_yet_recorded_is_found_by_the_runs_marker(
    tmp_path: Path,
) -> None:
    registry = ProcessRegistry("run-abc123", directory=tmp_path)
    registry.record({})  # what a harness writes before it starts anything
    with registry.marked():
        child = subprocess.Popen(["sleep", "60"])
    stranger = subprocess.Popen(["sleep", "60"])  # started outside the run: not ours
    try:
        # Bounded retry: Popen returns once exec has closed the child's error pipe, which the
        # kernel does before it lays out the new program's environment; a scan in between
        # reads an empty /proc/PID/environ (one CI run's first scan found nothing).
        stopped: list[str] = []
        deadline = time.monotonic() + 5.0
        while not stopped and time.monotonic() < deadline:
            registry.record({})
            stopped = cleanup_orphans(tmp_path)
        assert any(f"pid {child.pid}" in line for line in stopped), stopped
        assert child.wait(timeout=10) != 0
        time.sleep(0.2)
        assert stranger.poll() is None, "a process without the marker is never touched"
        assert not list(tmp_path.glob("*.json")), "the record is gone with its processes"
    finally:
        for process in (child, stranger):
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
