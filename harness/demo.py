"""``mcp-scale demo``: the headline run. The same scenario mix against 3 nodes with the Redis
store and then with the memory store, a node kill in each and a Redis kill and restart in the
Redis run, reported together so that the survival chart shows both curves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import exit_codes
from harness.analysis import analyze_run
from harness.durations import parse_duration
from harness.report import render_report
from harness.report.console import print_verdict
from harness.run.directory import default_run_dir
from harness.run.profile import ProfileError, load_profile
from harness.run.runner import RunFailed, execute


def demo_chaos(store: str, duration: float) -> str:
    """A node kill at 30 % of the run, its restart at 50 %; Redis killed at 65 % and back at
    72 % where there is Redis (the memory store has none to kill)."""

    def at(fraction: float) -> str:
        return f"{duration * fraction:.1f}s"

    faults = f"kill-node:n1@{at(0.3)}; restart-node:n1@{at(0.5)}"
    if store == "redis":
        faults += f"; kill-redis@{at(0.65)}; restart-redis@{at(0.72)}"
    return faults


def command_demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else default_run_dir("demo")
    try:
        duration = parse_duration(args.duration)
        profiles = {
            store: load_profile(
                None,
                {
                    "scenario": "mixed",
                    "nodes": 3,
                    "store": store,
                    "users": args.users,
                    "spawn_rate": args.users,
                    "duration": duration,
                    "chaos": demo_chaos(store, duration),
                    "out": str(out / store),
                },
            )
            for store in ("redis", "memory")
        }
    except (ProfileError, ValueError) as exc:
        print(f"mcp-scale demo: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    runs = []
    for store, profile in profiles.items():
        print(f"== {store} store: mixed scenario, 3 nodes, faults: {profile.chaos}")
        try:
            execute(profile, out / store)
        except (RunFailed, KeyboardInterrupt) as exc:
            print(
                f"mcp-scale demo: the {store} run could not be carried out: {exc}", file=sys.stderr
            )
            return exit_codes.COULD_NOT_RUN
        runs.append(analyze_run(out / store, label=store))
    render_report(out, runs)
    print_verdict(runs, out)
    # The memory store's losses are expected (and reported so); the Redis run must hold.
    return exit_codes.FAIL if any(run.verdict == "fail" for run in runs) else exit_codes.PASS
