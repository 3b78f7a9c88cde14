"""Leak detection, shown: the leak defect flagged within 5 minutes, the clean server not in 10.

    .venv/bin/python bench/soak_leak.py [--leak-duration 5m] [--clean-duration 10m]
        [--users N] [--sample-every 1s] [--out DIR] [--only {leak,clean}] [--timeout 1h]

Runs two soaks one after the other with the real CLI, at the default load of ``mcp-scale
soak`` (notifications scenario, 3 nodes, Redis store, 50 users unless --users):

1. ``mcp-scale soak --defect leak --duration 5m`` (each node keeps 4 KB per request forever);
2. ``mcp-scale soak --duration 10m`` (the clean server).

Then, side by side, per series (node RSS and fds, Redis memory and fds): the Theil-Sen slope
per hour with its 95 % confidence interval, the second half's lower bound, the threshold and
the leak checker's verdict; each run's leak and drift verdicts; and how early the leak was
found: the checker replayed on the samples recorded up to every 30 s of the run (the first
time after which it says "leak" at every later point), and for the clean run every point at
which it would have said "leak" (none, if it is right).

Each run's full report is in its own directory (report.html, ...). Every process is stopped
after each run (``mcp-scale cleanup --all`` on a state directory of the bench's own).
Exit code: 0 leak flagged and clean not, 1 otherwise, 3 a run could not be carried out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.checkers import leak  # noqa: E402
from harness.checkers.context import CheckContext  # noqa: E402
from harness.checkers.result import CheckResult  # noqa: E402
from harness.checkers.tables import LeakTable, Trend  # noqa: E402
from harness.durations import format_duration, parse_duration  # noqa: E402
from harness.history import Record, read_history  # noqa: E402

STEP = 30.0  # seconds between replays of the checker on a growing prefix
Series = tuple[str, str]  # (target, metric)


def soak(
    name: str, args: argparse.Namespace, duration: float, extra: list[str]
) -> tuple[Path, int, float]:
    out = Path(args.out) / name
    state = Path(args.out) / "state"
    env = {**os.environ, "MCP_SCALE_STATE_DIR": str(state)}
    command = [sys.executable, "-m", "harness.cli", "soak", "--duration", f"{duration:g}s"]
    command += ["--sample-every", f"{args.sample_every:g}s", "--out", str(out), *extra]
    if args.users:
        command += ["--users", str(args.users)]
    print(f"[{name}] {' '.join(command[2:])}", flush=True)
    started = time.monotonic()
    try:
        with open(Path(args.out) / f"{name}.log", "w") as log:
            result = subprocess.run(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                timeout=duration + 300,
            )
        code = result.returncode
    finally:
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "cleanup", "--all"],
            env=env,
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
    took = time.monotonic() - started
    print(f"[{name}] exit {code} after {took:.0f} s; report: {out / 'report.html'}", flush=True)
    return out, code, took


def judged(run_dir: Path) -> tuple[Any, list[Record]]:
    history = read_history(run_dir)
    samples = [
        r
        for r in history
        if r["f"] == "sample" or (r["process"] == "harness" and r["f"] == "run-start")
    ]
    return leak.check(samples, CheckContext()), samples


def replay(samples: list[Record], duration: float) -> list[tuple[float, set[Series]]]:
    """The series the leak checker calls leaking on the samples up to every STEP seconds."""
    if not samples:
        return []
    zero = next((r["time"] for r in samples if r["f"] == "run-start"), samples[0]["time"])
    points = []
    at = STEP
    while at <= duration + STEP / 2:
        prefix = [r for r in samples if r["time"] <= zero + at]
        points.append(
            (
                at,
                {
                    (t.target, t.metric)
                    for t in _trends(leak.check(prefix, CheckContext()))
                    if t.leaking
                },
            )
        )
        at += STEP
    return points


def flagged_from(points: list[tuple[float, set[Series]]], series: Series | None) -> float | None:
    """The first time after which every later replay flags ``series`` (None: any series)."""
    found = None
    for at, leaking in points:
        hit = bool(leaking) if series is None else series in leaking
        if not hit:
            found = None
        elif found is None:
            found = at
    return found


def flagged_at(points: list[tuple[float, set[Series]]], series: Series | None) -> list[float]:
    return [
        at for at, leaking in points if (bool(leaking) if series is None else series in leaking)
    ]


def _spans(times: list[float]) -> str:
    """30, 60, 90, 150 -> "30s-1.5m, 2.5m" (consecutive replays joined)."""
    spans: list[list[float]] = []
    for at in times:
        if spans and at - spans[-1][1] <= STEP * 1.01:
            spans[-1][1] = at
        else:
            spans.append([at, at])
    return ", ".join(
        format_duration(a) if a == b else f"{format_duration(a)}-{format_duration(b)}"
        for a, b in spans
    )


def summary_of(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / "summary.json").read_text())
        run: dict[str, Any] = data["runs"][0]
        return run
    except (OSError, ValueError, KeyError, IndexError):
        return {}


def checker(run: dict[str, Any], name: str) -> str:
    for item in run.get("checkers", []):
        if item["name"] == name:
            return f"{item['status']}: {item['summary']}"
    return "-"


def print_side_by_side(results: dict[str, dict[str, Any]]) -> None:
    print()
    print("Leak check per series (slopes per hour; MiB for RSS and Redis memory, fds for fds)")
    header = f"  {'series':22}"
    for name in results:
        header += f" | {name + ': slope [95% CI], late low -> verdict':58}"
    print(header)
    keys: dict[tuple[str, str], None] = {}
    for data in results.values():
        for trend in _trends(data["result"]):
            keys.setdefault((trend.target, trend.metric), None)
    for target, metric in keys:
        line = f"  {target + ' ' + metric:22}"
        for data in results.values():
            cells = []
            for trend in _trends(data["result"]):
                if (trend.target, trend.metric) != (target, metric):
                    continue
                u, fitted = trend.unit_divisor, trend.fit
                cells.append(
                    f"{fitted.slope_per_h / u:7.1f} [{fitted.low_per_h / u:6.1f}, "
                    f"{fitted.high_per_h / u:6.1f}], {fitted.late_low_per_h / u:6.1f} "
                    f"-> {trend.status}"
                )
            line += f" | {'; '.join(cells) or '-':58}"
        print(line)
    table = next(iter(results.values()))["result"].table
    limits = table.settings.thresholds_per_h if isinstance(table, LeakTable) else {}
    if limits:
        mib = 1024 * 1024
        print(
            f"  thresholds per hour: RSS {limits['rss'] / mib:g} MiB, fds {limits['fds']:g}, "
            f"Redis {limits['used_memory'] / mib:g} MiB (a leak: the lower bound above it over "
            "the whole window and its second half)"
        )
    print()
    for name, data in results.items():
        run = data["summary"]
        print(f"{name}: run verdict {run.get('verdict', '?')} (exit {data['exit']})")
        print(f"  leak:  {checker(run, 'leak')}")
        print(f"  drift: {checker(run, 'drift')}")
    print()
    print(f"The leak checker replayed on the samples up to every {STEP:g} s of each run:")
    for series in [*keys, None]:
        name = "any series" if series is None else " ".join(series)
        line = f"  {name:22}"
        for data in results.values():
            first = flagged_from(data["replay"], series)
            times = flagged_at(data["replay"], series)
            if not times:
                text = "never flagged"
            elif first is not None:
                text = f"flagged from {format_duration(first)} on"
            else:
                text = f"flagged at {_spans(times)}, not at the end"
            line += f" | {text:58}"
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leak-duration", type=parse_duration, default=300.0)
    parser.add_argument("--clean-duration", type=parse_duration, default=600.0)
    parser.add_argument("--users", type=int, help="default: the profile's (50)")
    parser.add_argument("--sample-every", type=parse_duration, default=1.0)
    parser.add_argument("--only", choices=["leak", "clean"])
    parser.add_argument(
        "--reanalyze", action="store_true", help="judge the runs already in --out, run nothing"
    )
    parser.add_argument("--out", default=str(REPO / "reports" / f"soak-leak-{int(time.time())}"))
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    plan = [("leak", args.leak_duration, ["--defect", "leak"]), ("clean", args.clean_duration, [])]
    results: dict[str, dict[str, Any]] = {}
    for name, duration, extra in plan:
        if args.only and name != args.only:
            continue
        try:
            if args.reanalyze:
                run_dir = Path(args.out) / name
                code = 1 if summary_of(run_dir).get("verdict") == "fail" else 0
            else:
                run_dir, code, _ = soak(name, args, duration, extra)
        except subprocess.TimeoutExpired:
            print(f"[{name}] did not finish in time", file=sys.stderr)
            return 3
        if code not in (0, 1):
            print(
                f"[{name}] could not run; see {Path(args.out) / (name + '.log')}", file=sys.stderr
            )
            return 3
        result, samples = judged(run_dir)
        results[name] = {
            "result": result,
            "summary": summary_of(run_dir),
            "exit": code,
            "defect": bool(extra),
            "replay": replay(samples, duration),
        }
    print_side_by_side(results)
    ok = all(
        (data["result"].valid is False) == data["defect"] and data["result"].valid != "unknown"
        for data in results.values()
    )
    print(f"\n{'PASS' if ok else 'FAIL'}: leak flagged, clean not" if len(results) == 2 else "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())


def _trends(result: CheckResult) -> list[Trend]:
    return result.table.trends if isinstance(result.table, LeakTable) else []
