"""``mcp-scale``: the command line. Thin: parsing, then the run, checks and report modules.

Exit codes: 0 pass, 1 a checker or threshold failed, 2 bad usage or configuration, 3 the run
could not be carried out; ``capacity``: 4 when even its first step broke a threshold.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from harness import exit_codes
from harness.analysis import analyze_run
from harness.capacity.plan import CapacityPlan, Mode, PlanError, validate_plan
from harness.capacity.report import headline, write_report
from harness.capacity.search import run_search, step_profiles
from harness.capacity.steps import CapacityResult
from harness.client.config import LATEST_VERSION, VERSIONS
from harness.client.headers import HeaderError, parse_header, resolve
from harness.cluster.registry import cleanup_orphans
from harness.demo import command_demo
from harness.durations import parse_duration
from harness.gates import op_metric_name
from harness.history import HistoryError, history_files
from harness.report import compare_runs, load_summary, render_report
from harness.report.console import print_verdict
from harness.run.directory import ManifestError, default_run_dir
from harness.run.profile import SOAK_DEFAULTS, ProfileError, RunProfile, load_profile
from harness.run.runner import RunFailed, execute, run_worker
from harness.target_profile import TargetProfileError, load_target_profile
from reference_server.defects import NAMES as DEFECTS
from scenarios.registry import SCENARIOS, SHAPES


def _run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="drive a cluster with a scenario while faults are applied")
    _run_arguments(run, soak=False)


def _soak_parser(sub: Any) -> None:
    soak = sub.add_parser(
        "soak",
        help="steady load for hours, resources sampled, optional rolling restarts; a longevity "
        "report (leak slopes, latency drift) at the end, also when interrupted",
        description="A run with the soak shape (steady --users after a short ramp; default "
        "--duration 1h): every --sample-every the nodes' RSS, CPU, fds, threads, streams and "
        "sessions, Redis's memory, keys, clients and channels, and the load generator's RSS "
        "and CPU are recorded; the leak check fits their trends with 95% confidence bounds "
        "and the drift check compares latency percentiles of the first and last hour (of a "
        "shorter run: third). Ctrl-C or SIGTERM stops it and still writes the report.",
    )
    _run_arguments(soak, soak=True)


def _run_arguments(run: Any, soak: bool) -> None:
    run.add_argument("profile", nargs="?", help="YAML profile; flags given override it")
    run.add_argument("--scenario", choices=list(SCENARIOS))
    run.add_argument("--backend", choices=["local", "command", "docker", "external"])
    run.add_argument("--nodes", type=int)
    run.add_argument("--store", choices=["memory", "redis"])
    run.add_argument("--users", type=int)
    run.add_argument("--spawn-rate", type=float)
    run.add_argument("--duration", help="e.g. 60s, 5m, 8h" + (" (default 1h)" if soak else ""))
    run.add_argument(
        "--until-requests",
        type=int,
        help="end once every planned fault is done and the load has made this many more "
        "requests (operations and messages received; --duration stays the bound)",
    )
    if not soak:
        run.add_argument("--shape", choices=list(SHAPES))
        run.add_argument(
            "--arrival-rate",
            type=float,
            help="with --scenario arrivals: tools/call requests a second (an open model; "
            "latency from each call's intended start; --users: the sessions sending them)",
        )
    run.add_argument("--processes", type=int, help="Locust worker processes (more cores)")
    if not soak:
        run.add_argument(
            "--master-bind",
            help="HOST:PORT: run Locust as a master there, the load from `mcp-scale worker`s",
        )
        run.add_argument(
            "--expect-workers", type=int, help="with --master-bind: workers to wait for"
        )
    run.add_argument("--routing", choices=["round_robin", "sticky", "random", "single"])
    run.add_argument("--chaos", help='fault timeline, e.g. "kill-node:n1@20s; restart-node:n1@30s"')
    run.add_argument("--chaos-every", help="a seeded random fault every this often, e.g. 15s")
    run.add_argument("--chaos-seed", type=int)
    run.add_argument(
        "--chaos-heal-after",
        help="how long a periodic fault or a restarted node / Redis stays down, e.g. 5s",
    )
    run.add_argument("--faults", help="faults to draw from, e.g. kill-node,pause-node")
    run.add_argument(
        "--rolling-restart-every",
        help="kill one node and start it again this often, n1, n2, ... in turn, e.g. 10m",
    )
    run.add_argument(
        "--redis-restart-every", help="kill Redis and start it again this often, e.g. 1h"
    )
    run.add_argument("--defect", action="append", dest="defects", choices=DEFECTS)
    run.add_argument("--target", help="external MCP endpoint URLs, comma-separated")
    run.add_argument("--target-profile", help="YAML mapping scenario actions to the target's tools")
    run.add_argument(
        "--protocol",
        choices=list(VERSIONS),
        help=f"the MCP revision the load client speaks (default {LATEST_VERSION})",
    )
    run.add_argument(
        "--header",
        action="append",
        dest="headers",
        metavar="'NAME: VALUE'",
        help="a header on every request and stream, e.g. 'Authorization: Bearer ${TOKEN}' "
        "(${VAR} from the environment; only the name is recorded; repeatable)",
    )
    _command_arguments(run)
    run.add_argument("--request-timeout", help="bound on each client request, e.g. 10s")
    run.add_argument(
        "--threshold",
        action="append",
        dest="thresholds",
        help='a gate, e.g. "delivery.lost == 0" or "latency.tools_call.p99 < 250ms" (repeatable)',
    )
    run.add_argument("--sample-every", help="resource sampling interval, e.g. 1s, 10s")
    longevity = run.add_argument_group(
        "leak and drift checks", "(on soak runs of 40 s or more: mcp-scale soak, --shape soak)"
    )
    longevity.add_argument(
        "--memory-limit", help="project the time for RSS / Redis memory to reach this (1GiB)"
    )
    longevity.add_argument(
        "--leak-rss", help="node RSS growth per hour above which it leaks (default 50MiB)"
    )
    longevity.add_argument("--leak-fds", help="open fds per hour above which they leak (200)")
    longevity.add_argument(
        "--leak-redis", help="Redis memory growth per hour above which it leaks (50MiB)"
    )
    longevity.add_argument(
        "--leak-warmup", help="samples left out of the fit at the start (25%%, at most 60s)"
    )
    longevity.add_argument(
        "--drift-p99", help="p99 growth, first to last window, that fails a soak (50%%)"
    )
    longevity.add_argument(
        "--drift-min", help="...and only when p99 grew by at least this much (20ms)"
    )
    run.add_argument("--seed", type=int)
    default_dir = "reports/soak-<time>" if soak else "reports/<scenario>-<time>"
    run.add_argument("--out", help=f"run directory (default {default_dir})")


def _command_arguments(run: Any) -> None:
    group = run.add_argument_group(
        "the command backend",
        "N instances of any MCP server from a command (over the target profile's launch: "
        "section). Placeholders in the command, env values and cwd: {port} {node_id} {index} "
        "{redis_url} {run_dir} {python}",
    )
    group.add_argument("--node-command", help="e.g. 'python server.py --port {port}'")
    group.add_argument("--node-env", action="append", help="KEY=VALUE for every node (repeatable)")
    group.add_argument("--node-cwd", help="the nodes' working directory")
    group.add_argument(
        "--node-ready", help="tcp (the port accepts) or http:/PATH (answers below 500)"
    )
    group.add_argument("--node-ready-timeout", help="how long a node may take, e.g. 30s")
    group.add_argument("--node-path", help="the MCP endpoint's path on each node (/mcp)")
    group.add_argument(
        "--redis",
        action=argparse.BooleanOptionalAction,
        help="start a redis-server for the nodes ({redis_url}); Redis faults then apply",
    )
    group.add_argument(
        "--sessions",
        choices=["local", "shared"],
        help="local: sessions live in one process (sticky routing by default, losses on a "
        "node's death expected); shared: any node serves any session",
    )


def _capacity_parser(sub: Any) -> None:
    capacity = sub.add_parser(
        "capacity",
        help="step the load up on one cluster until a threshold breaks: the last load that "
        "held, the knee, a chart of throughput and latency against load",
        description="Runs the scenario at each load of the plan (users, or with --rate an "
        "arrival rate of tools/call: an open model, latency from each call's intended start) "
        "for --step-duration, on one cluster kept up for every step, and evaluates the "
        "--threshold gates after each; stops at the first step that breaks one. Writes "
        "capacity.json, capacity.md and capacity.png, each step's run under steps/. Exit 0: "
        "the search ran (capacity found, or every step held); 1: below --min-capacity; 2: bad "
        "usage; 3: a step could not run; 4: even the first step broke a threshold.",
    )
    capacity.add_argument("profile", nargs="?", help="YAML run profile; flags given override it")
    capacity.add_argument("--scenario", choices=[s for s in SCENARIOS if s != "arrivals"])
    capacity.add_argument("--backend", choices=["local", "command", "docker", "external"])
    capacity.add_argument("--nodes", type=int)
    capacity.add_argument("--store", choices=["memory", "redis"])
    capacity.add_argument("--routing", choices=["round_robin", "sticky", "random", "single"])
    capacity.add_argument("--defect", action="append", dest="defects", choices=DEFECTS)
    capacity.add_argument("--target", help="external MCP endpoint URLs, comma-separated")
    capacity.add_argument(
        "--target-profile", help="YAML mapping scenario actions to the target's tools"
    )
    _command_arguments(capacity)
    capacity.add_argument("--request-timeout", help="bound on each client request, e.g. 10s")
    capacity.add_argument(
        "--threshold",
        action="append",
        dest="thresholds",
        help='a gate every step must hold, e.g. "latency.tools_call.p99 < 250ms" (repeatable)',
    )
    capacity.add_argument("--seed", type=int)
    capacity.add_argument("--out", help="the search's directory (default reports/capacity-<time>)")
    search = capacity.add_argument_group("the search")
    search.add_argument(
        "--rate",
        action="store_true",
        help="step an arrival rate of tools/call (calls a second; the arrivals scenario) "
        "instead of users",
    )
    search.add_argument(
        "--users",
        type=int,
        help="with --rate: the sessions that send the calls, the most in flight (default 50)",
    )
    search.add_argument("--start", type=float, help="the first step's load (default 10)")
    search.add_argument(
        "--step", help="added each step (e.g. 10), or a factor (e.g. x2); default: --start"
    )
    search.add_argument("--max-steps", type=int, default=10, help="at most this many (10)")
    search.add_argument("--max-load", type=float, help="no step above this load")
    search.add_argument("--step-duration", default="30s", help="each step's length (30s)")
    search.add_argument(
        "--op",
        default="tools_call",
        help="the operation whose throughput and latency are charted and make the knee "
        "(a latency metric's name: tools_call, call_echo, initialize; default tools_call)",
    )
    search.add_argument(
        "--min-capacity", type=float, help="exit 1 when the capacity found is below this load"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-scale", description="Load, chaos and longevity testing for MCP servers."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    _soak_parser(sub)
    _capacity_parser(sub)
    report = sub.add_parser("report", help="check and report run directories (again)")
    report.add_argument("run_dirs", nargs="+", help="one run, or several to show side by side")
    report.add_argument("--out", help="where to write (default: the run directory itself)")
    compare = sub.add_parser("compare", help="two runs' reports side by side, regressions flagged")
    compare.add_argument("run_a", help="the baseline run (or its summary.json)")
    compare.add_argument("run_b", help="the run to judge against it")
    demo = sub.add_parser(
        "demo", help="the headline run: Redis vs memory store, and both revisions, under faults"
    )
    demo.add_argument("--out", help="where to write (default reports/demo-<time>)")
    demo.add_argument("--duration", default="45s", help="of each of the three runs")
    demo.add_argument("--users", type=int, default=40)
    worker = sub.add_parser(
        "worker",
        help="a Locust worker for a run started with --master-bind (on any machine)",
        description="Joins the master, takes the scenario and the run's settings from it and "
        "ships every history record to it; runs until the master's run ends.",
    )
    worker.add_argument("--master", required=True, help="the master's HOST:PORT")
    worker.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="this worker's copy of the run's --header (values never travel from the master)",
    )
    cleanup = sub.add_parser("cleanup", help="stop processes that a crashed run left behind")
    cleanup.add_argument("--all", action="store_true", help="also runs whose harness still lives")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The profile settings given as flags (argparse dests are the profile's field names)."""
    return {f.name: getattr(args, f.name) for f in fields(RunProfile) if hasattr(args, f.name)}


def command_run(args: argparse.Namespace) -> int:
    return _run_command(args, "run")


def command_soak(args: argparse.Namespace) -> int:
    return _run_command(args, "soak")


def _run_command(args: argparse.Namespace, command: str) -> int:
    overrides = _overrides(args)
    defaults = None
    if command == "soak":
        overrides["shape"] = "soak"
        defaults = SOAK_DEFAULTS
    try:
        profile = load_profile(args.profile, overrides, defaults)
        load_target_profile(profile.target_profile, profile.backend)
    except (ProfileError, TargetProfileError) as exc:
        print(f"mcp-scale {command}: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    kind = "soak" if command == "soak" else profile.scenario
    run_dir = Path(profile.out) if profile.out else default_run_dir(kind)
    try:
        execute(profile, run_dir)
    except RunFailed as exc:
        print(f"mcp-scale {command}: could not run: {exc}", file=sys.stderr)
        _report_what_was_recorded(run_dir, command)
        return exit_codes.COULD_NOT_RUN
    except KeyboardInterrupt:
        print(f"\nmcp-scale {command}: interrupted.", file=sys.stderr)
        _report_what_was_recorded(run_dir, command)
        return exit_codes.COULD_NOT_RUN
    run = analyze_run(run_dir)
    render_report(run_dir, [run])
    print_verdict([run], run_dir)
    return exit_codes.FAIL if run.verdict == "fail" else exit_codes.PASS


def _report_what_was_recorded(run_dir: Path, command: str) -> None:
    """A run cut short (Ctrl-C, SIGTERM, Locust overran) is still checked and reported, from
    what its history holds; the exit code stays 3 (the run was not carried out in full)."""
    if not history_files(run_dir):
        print(_recorded(run_dir), file=sys.stderr)
        return
    try:
        run = analyze_run(run_dir)
        render_report(run_dir, [run])
    except KeyboardInterrupt:
        print(f"mcp-scale {command}: report interrupted. {_recorded(run_dir)}", file=sys.stderr)
        return
    print(f"mcp-scale {command}: report of what was recorded until then:", file=sys.stderr)
    print_verdict([run], run_dir)


def _recorded(run_dir: Path) -> str:
    return f"What was recorded is in {run_dir}; `mcp-scale report {run_dir}` reports it."


def command_capacity(args: argparse.Namespace) -> int:
    try:
        profile, plan = _capacity_settings(args)
        step_profiles(profile, plan)
    except (ProfileError, TargetProfileError, PlanError) as exc:
        print(f"mcp-scale capacity: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    directory = Path(args.out) if args.out else default_run_dir("capacity")
    target = profile.target_profile or "the reference server"
    print(f"capacity search: {plan.describe()}; into {directory}")
    result = run_search(profile, plan, directory, target, sys.stdout)
    for note in write_report(result, directory):
        print(note, file=sys.stderr)
    print(f"{headline(result)}\nreport: {directory / 'capacity.md'}")
    return capacity_exit_code(result)


def _capacity_settings(args: argparse.Namespace) -> tuple[RunProfile, CapacityPlan]:
    """The base run profile and the plan; ProfileError or PlanError on bad input."""
    overrides = _overrides(args)
    mode: Mode = "rate" if args.rate else "users"
    start = args.start if args.start is not None else 10.0
    if mode == "rate":
        if args.scenario:
            raise ProfileError("--rate drives the arrivals scenario (tools/call); drop --scenario")
        overrides |= {"scenario": "arrivals", "arrival_rate": start}
    else:
        if args.users is not None:
            raise ProfileError("--users is the load in a users search: use --start and --step")
        overrides["users"] = max(1, int(start))
    try:
        step_duration = parse_duration(args.step_duration)
    except ValueError as exc:
        raise PlanError(f"step-duration: {exc}") from None
    plan = CapacityPlan(
        mode=mode,
        start=start,
        step=args.step or f"{start:g}",
        max_steps=args.max_steps,
        max_load=args.max_load,
        step_duration=step_duration,
        op=op_metric_name(args.op),
        min_capacity=args.min_capacity,
    )
    validate_plan(plan)
    profile = load_profile(args.profile, overrides, {"scenario": "standard"})
    load_target_profile(profile.target_profile, profile.backend)
    return profile, plan


def capacity_exit_code(result: CapacityResult) -> int:
    """0: the search ran; 1: below --min-capacity; 3: a step could not run (or Ctrl-C);
    4: the first step broke a threshold."""
    if result.ending in ("could-not-run", "interrupted"):
        return exit_codes.COULD_NOT_RUN
    if result.capacity is None:
        return exit_codes.NO_CAPACITY
    minimum = result.plan.min_capacity
    if minimum is not None and result.capacity < minimum:
        return exit_codes.FAIL
    return exit_codes.PASS


def command_report(args: argparse.Namespace) -> int:
    dirs = [Path(d) for d in args.run_dirs]
    missing = [str(d) for d in dirs if not history_files(d)]
    if missing:
        print(f"mcp-scale report: no history in {', '.join(missing)}", file=sys.stderr)
        return exit_codes.USAGE
    out = Path(args.out) if args.out else dirs[0] if len(dirs) == 1 else default_run_dir("report")
    try:
        runs = [analyze_run(d) for d in dirs]
    except (HistoryError, ManifestError) as exc:
        print(f"mcp-scale report: error: {exc}; nothing was changed", file=sys.stderr)
        return exit_codes.USAGE
    render_report(out, runs)
    print_verdict(runs, out)
    return exit_codes.FAIL if any(run.verdict == "fail" for run in runs) else exit_codes.PASS


def command_compare(args: argparse.Namespace) -> int:
    try:
        comparison = compare_runs(load_summary(args.run_a), load_summary(args.run_b))
    except (OSError, ValueError) as exc:
        print(f"mcp-scale compare: {exc} (run `mcp-scale report` on it first)", file=sys.stderr)
        return exit_codes.USAGE
    print(comparison.to_text())
    return exit_codes.FAIL if comparison.has_regressions else exit_codes.PASS


def command_worker(args: argparse.Namespace) -> int:
    host, _, port = str(args.master).rpartition(":")
    if not host or not port.isdigit():
        print(f"mcp-scale worker: --master must be HOST:PORT, got {args.master!r}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        headers = resolve(parse_header(h) for h in args.header)
    except HeaderError as exc:
        print(f"mcp-scale worker: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        return run_worker(host, int(port), headers)
    except KeyboardInterrupt:
        return exit_codes.COULD_NOT_RUN


def command_cleanup(args: argparse.Namespace) -> int:
    stopped = cleanup_orphans(include_live=args.all)
    for line in stopped:
        print(f"stopped {line}")
    print(f"{len(stopped)} processes stopped")
    return exit_codes.PASS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {
        "run": command_run,
        "soak": command_soak,
        "capacity": command_capacity,
        "report": command_report,
        "compare": command_compare,
        "demo": command_demo,
        "worker": command_worker,
        "cleanup": command_cleanup,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
