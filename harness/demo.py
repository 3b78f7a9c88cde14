"""``mcp-scale demo``: the headline run. The same scenario mix against 3 nodes with the Redis
store and then with the memory store, a node kill in each and a Redis kill and restart in the
Redis run, and then the Redis run again in the stateless 2026-07-28 revision (listen streams
and multi-round-trip requests instead of sessions) under the same faults, reported together
so that the survival chart shows every curve and each era's checkers sit side by side."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import exit_codes
from harness.analysis import analyze_run
from harness.client.config import LATEST_VERSION
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


@dataclass(frozen=True)
class Variant:
    """One run of the demo: its label (and folder), its store and the revision it speaks."""

    label: str
    store: str
    protocol: str = LATEST_VERSION


VARIANTS = (
    Variant("redis", "redis"),
    Variant("memory", "memory"),
    Variant("redis-2026-07-28", "redis", "2026-07-28"),
)


def command_demo(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else default_run_dir("demo")
    try:
        duration = parse_duration(args.duration)
        profiles = {
            variant: load_profile(
                None,
                {
                    "scenario": "mixed",
                    "nodes": 3,
                    "store": variant.store,
                    "protocol": variant.protocol,
                    "users": args.users,
                    "spawn_rate": args.users,
                    "duration": duration,
                    "chaos": demo_chaos(variant.store, duration),
                    "out": str(out / variant.label),
                },
            )
            for variant in VARIANTS
        }
    except (ProfileError, ValueError) as exc:
        print(f"mcp-scale demo: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    runs = []
    for variant, profile in profiles.items():
        print(
            f"== {variant.store} store, {variant.protocol}: mixed scenario, 3 nodes, "
            f"faults: {profile.chaos}"
        )
        try:
            execute(profile, out / variant.label)
        except (RunFailed, KeyboardInterrupt) as exc:
            print(
                f"mcp-scale demo: the {variant.label} run could not be carried out: {exc}",
                file=sys.stderr,
            )
            return exit_codes.COULD_NOT_RUN
        runs.append(analyze_run(out / variant.label, label=variant.label))
    render_report(out, runs)
    print_verdict(runs, out)
    # The memory store's losses are expected (and reported so); the Redis run must hold.
    return exit_codes.FAIL if any(run.verdict == "fail" for run in runs) else exit_codes.PASS
