"""``mcp-scale``: the command line. Thin: parsing, then the run, checks and report modules.

Exit codes: 0 pass, 1 a checker or threshold failed, 2 bad usage or configuration, 3 the run
could not be carried out.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from harness.cluster.registry import cleanup_orphans
from harness.run.profile import ProfileError, RunProfile, load_profile
from harness.run.runner import RunFailed, execute
from harness.target_profile import TargetProfileError, load_target_profile
from reference_server.config import DEFECTS
from scenarios.registry import SCENARIOS, SHAPES

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_COULD_NOT_RUN = 0, 1, 2, 3


def _run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="drive a cluster with a scenario while faults are applied")
    run.add_argument("profile", nargs="?", help="YAML profile; flags given override it")
    run.add_argument("--scenario", choices=list(SCENARIOS))
    run.add_argument("--backend", choices=["local", "docker", "external"])
    run.add_argument("--nodes", type=int)
    run.add_argument("--store", choices=["memory", "redis"])
    run.add_argument("--users", type=int)
    run.add_argument("--spawn-rate", type=float)
    run.add_argument("--duration", help="e.g. 60s, 5m")
    run.add_argument("--shape", choices=list(SHAPES))
    run.add_argument("--processes", type=int, help="Locust worker processes (more cores)")
    run.add_argument("--routing", choices=["round_robin", "sticky", "random", "single"])
    run.add_argument("--chaos", help='fault timeline, e.g. "kill-node:n1@20s; restart-node:n1@30s"')
    run.add_argument("--chaos-every", help="a seeded random fault every this often, e.g. 15s")
    run.add_argument("--chaos-seed", type=int)
    run.add_argument("--chaos-heal-after", help="how long a periodic fault lasts, e.g. 5s")
    run.add_argument("--faults", help="faults to draw from, e.g. kill-node,pause-node")
    run.add_argument("--defect", action="append", dest="defects", choices=sorted(DEFECTS))
    run.add_argument("--target", help="external MCP endpoint URLs, comma-separated")
    run.add_argument("--target-profile", help="YAML mapping scenario actions to the target's tools")
    run.add_argument("--request-timeout", help="bound on each client request, e.g. 10s")
    run.add_argument("--seed", type=int)
    run.add_argument("--out", help="run directory (default reports/<scenario>-<time>)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-scale", description="Load, chaos and longevity testing for MCP servers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    cleanup = sub.add_parser("cleanup", help="stop processes that a crashed run left behind")
    cleanup.add_argument("--all", action="store_true", help="also runs whose harness still lives")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The profile settings given as flags (argparse dests are the profile's field names)."""
    return {f.name: getattr(args, f.name) for f in fields(RunProfile) if hasattr(args, f.name)}


def command_run(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile, _overrides(args))
        load_target_profile(profile.target_profile, profile.backend)
    except (ProfileError, TargetProfileError) as exc:
        print(f"mcp-scale run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    run_dir = Path(profile.out or f"reports/{profile.scenario}-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        outcome = execute(profile, run_dir)
    except RunFailed as exc:
        print(f"mcp-scale run: could not run: {exc}", file=sys.stderr)
        print(f"what was recorded is in {run_dir}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        print(f"\nmcp-scale run: interrupted; what was recorded is in {run_dir}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    print(
        f"run finished: {outcome.records} harness records, {outcome.faults_applied} faults "
        f"applied ({outcome.faults_failed} failed); history in {outcome.run_dir}"
    )
    return EXIT_PASS


def command_cleanup(args: argparse.Namespace) -> int:
    stopped = cleanup_orphans(include_live=args.all)
    for line in stopped:
        print(f"stopped {line}")
    print(f"{len(stopped)} processes stopped")
    return EXIT_PASS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"run": command_run, "cleanup": command_cleanup}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
