"""The 2026-07-28 revision through a whole harness run with faults: 3 Redis-mode nodes, a node
SIGKILLed and restarted, then Redis. Every MRTR round must complete wherever its retry lands
or fail fast with a clear error (the server's own answer), no request may hang, and no change
may be lost on a listen stream but those a recorded break and re-list excuse.

Bounded by requests after the last fault (``--until-requests``); ``--duration`` only the
generous upper bound.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.runs import Config, checker, run

CHAOS = "kill-node:n1@6s; restart-node:n1@9s; kill-redis@13s; restart-redis@16s"
MRTR_CHAOS = Config("mrtr", 10, 300, CHAOS, protocol="2026-07-28")
MIXED_CHAOS = Config("mixed", 15, 600, CHAOS, protocol="2026-07-28")


def failed_samples(run_dir: Path) -> list[dict[str, Any]]:
    failed = []
    for path in run_dir.glob("history-w*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            # a call the run's end cut (interrupted) did not fail: the client stopped it
            failed_call = record["type"] in ("fail", "info") and not record.get("interrupted")
            if record["f"] == "call:sample" and failed_call:
                failed.append(record)
    return failed


@pytest.mark.timeout(400)
def test_mrtr_rounds_complete_or_fail_fast_through_node_and_redis_kills(tmp_path: Path) -> None:
    out = tmp_path / "mrtr-chaos"
    summary = run(MRTR_CHAOS, out)
    mrtr = checker(summary, "mrtr")
    assert mrtr["status"] == "pass", mrtr
    assert checker(summary, "liveness")["status"] == "pass", checker(summary, "liveness")
    assert summary["verdict"] == "pass", [c for c in summary["checkers"] if c["status"] != "pass"]
    counts = mrtr["counts"]
    assert counts["completed"] > 0 and counts["cross_node"] > 0
    assert counts["refused"] == 0 and counts["unsure"] == 0
    assert counts["replays"] > 0 and counts["replays_accepted"] == 0
    # Failed fast with a clear error: every failed call says why, none timed out.
    for record in failed_samples(out):
        assert record["type"] == "fail" and record.get("error"), record
        assert record["latency"] < 3.0, record


@pytest.mark.timeout(400)
def test_listen_and_mrtr_through_node_and_redis_kills(tmp_path: Path) -> None:
    summary = run(MIXED_CHAOS, tmp_path / "mixed-chaos")
    listen = checker(summary, "listen")
    assert listen["status"] == "pass", listen
    assert listen["counts"]["lost"] == 0 and listen["counts"]["breaks"] > 0
    assert checker(summary, "mrtr")["status"] == "pass", checker(summary, "mrtr")
    assert summary["verdict"] == "pass", [c for c in summary["checkers"] if c["status"] != "pass"]
