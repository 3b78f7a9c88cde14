"""What scripts/compose_smoke.sh expects of a run directory; one line per check, exit 1 if any
fails.

    python scripts/smoke_check.py RUN_DIR survival outage-503 chart samples broadcast-fails
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.history import read_history


def _checker(summary: dict[str, Any], name: str) -> dict[str, Any]:
    for result in summary["runs"][0]["checkers"]:
        if result["name"] == name:
            return dict(result)
    raise KeyError(f"no {name} checker in summary.json")


def survival(run: Path, summary: dict[str, Any], history: list[dict[str, Any]]) -> str | None:
    counts = _checker(summary, "survival")["counts"]
    line = f"{counts['lost']:g} of {counts['sessions']:g} sessions lost across the faults"
    return line if counts["lost"] == 0 and counts["sessions"] > 0 else "FAIL " + line


def outage_503(run: Path, summary: dict[str, Any], history: list[dict[str, Any]]) -> str | None:
    """Answers while Redis was down: HTTP 503, in bounded time."""
    start = next(r["time"] for r in history if r["f"] == "kill-redis" and r["type"] == "ok")
    end = next(r["time"] for r in history if r["f"] == "restart-redis" and r["type"] == "ok")
    during = [
        r
        for r in history
        if start <= r["time"] <= end and r["type"] == "fail" and "503" in str(r.get("error"))
    ]
    slowest = max((float(r.get("latency") or 0.0) for r in during), default=0.0)
    line = (
        f"{len(during)} requests answered 503 during the {end - start:.1f}s Redis outage, "
        f"slowest in {1000 * slowest:.0f} ms"
    )
    return line if during else "FAIL " + line


def chart(run: Path, summary: dict[str, Any], history: list[dict[str, Any]]) -> str | None:
    png = run / "charts" / "survival.png"
    faults = [
        f"{f['name']}:{f['target']}" if f["target"] else f["name"]
        for f in summary["runs"][0]["faults"]
        if f["outcome"] == "ok"
    ]
    line = f"{png.relative_to(run)} ({png.stat().st_size if png.exists() else 0} bytes), "
    line += f"fault markers: {', '.join(faults)}"
    return line if png.exists() and faults else "FAIL " + line


def samples(run: Path, summary: dict[str, Any], history: list[dict[str, Any]]) -> str | None:
    seen: dict[str, int] = {}
    for record in history:
        value = record.get("value")
        if record["f"] == "sample" and isinstance(value, dict) and "container" in value:
            seen[value["target"]] = seen.get(value["target"], 0) + 1
    line = "container samples (engine stats): " + ", ".join(f"{k} {v}" for k, v in seen.items())
    return line if {"n1", "n2", "n3", "redis"} <= set(seen) else "FAIL " + line


def broadcast_fails(
    run: Path, summary: dict[str, Any], history: list[dict[str, Any]]
) -> str | None:
    result = _checker(summary, "broadcast")
    line = f"verdict {summary['verdict']}, broadcast checker: {result['summary']}"
    return line if result["valid"] is False and summary["verdict"] == "fail" else "FAIL " + line


def partitions(run: Path, summary: dict[str, Any], history: list[dict[str, Any]]) -> str | None:
    """The network faults applied and healed; n1's requests answered 503 while cut from Redis."""
    faults = {(r["f"], r.get("value")): r for r in history if r["process"] == "nemesis"}
    wanted = ["partition-redis", "heal-partition-redis", "isolate-node", "rejoin-node"]
    done = [
        name
        for name in wanted
        if any(f == name and r["type"] == "ok" for (f, _), r in faults.items())
    ]
    start = next(r["time"] for r in history if r["f"] == "partition-redis" and r["type"] == "ok")
    end = next(r["time"] for r in history if r["f"] == "heal-partition-redis" and r["type"] == "ok")
    on_n1 = [
        r
        for r in history
        if start <= r["time"] <= end and r.get("node") == "n1" and r["type"] in ("ok", "fail")
    ]
    refused = sum(1 for r in on_n1 if "503" in str(r.get("error")))
    line = (
        f"applied and healed: {', '.join(done)}; n1 while cut from Redis: {refused} of "
        f"{len(on_n1)} answers 503; verdict {summary['verdict']}"
    )
    return line if done == wanted and refused else "FAIL " + line


CHECKS = {
    "partitions": partitions,
    "survival": survival,
    "outage-503": outage_503,
    "chart": chart,
    "samples": samples,
    "broadcast-fails": broadcast_fails,
}


def main(argv: list[str]) -> int:
    run = Path(argv[0])
    try:
        summary = json.loads((run / "summary.json").read_text())
        history = read_history(run)
    except (OSError, ValueError) as exc:
        print(f"  FAIL {run}: no report ({exc})")
        return 1
    failed = False
    for name in argv[1:]:
        try:
            line = CHECKS[name](run, summary, history)
        except (KeyError, StopIteration) as exc:
            line = f"FAIL {name}: {exc!r}"
        failed |= bool(line and line.startswith("FAIL"))
        print(f"  {name}: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
