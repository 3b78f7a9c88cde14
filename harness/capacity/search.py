"""The capacity search: one cluster up for every step, each step a run of the plan's next
load for the step duration, judged by the run's thresholds; it stops at the first step that
breaks one (or at the plan's last step).

The search directory::

    capacity.json, capacity.md, capacity.png   what was found (harness.capacity.report)
    logs/<node>.log                             the cluster's nodes (one cluster, all steps)
    steps/<NN>-<load>/                          each step's run directory (run.json, history)
"""

from __future__ import annotations

import dataclasses
import io
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.analysis import analyze_run
from harness.capacity.plan import CapacityPlan
from harness.capacity.steps import CapacityResult, Ending, StepResult
from harness.cluster.registry import ProcessRegistry
from harness.gates import all_passed, op_metric_name
from harness.gates.metrics import TOOLS_CALL
from harness.history import NOT_CLIENTS, Reading, for_each_pass, iter_history
from harness.run.directory import RunFiles
from harness.run.profile import ProfileError, RunProfile, validate
from harness.run.runner import (
    RunFailed,
    clean_up_crashed_runs,
    execute,
    make_cluster,
    signals_as_interrupts,
    start_cluster,
)

STEPS = "steps"
# Settings of a run that a capacity search sets itself, or that would mix faults into it.
NOT_FOR_CAPACITY = {
    "chaos": "",
    "chaos_every": None,
    "rolling_restart_every": None,
    "redis_restart_every": None,
    "until_requests": None,
    "shape": None,
    "master_bind": None,
}


def step_profiles(base: RunProfile, plan: CapacityPlan) -> list[RunProfile]:
    """The run profile of each step, validated (ProfileError names the step)."""
    for name, off in NOT_FOR_CAPACITY.items():
        if getattr(base, name) not in (off, None, ""):
            raise ProfileError(
                f"{name.replace('_', '-')}: a capacity search runs steady steps without "
                "faults or shapes; drop it"
            )
    profiles = []
    for index, load in enumerate(plan.loads()):
        if plan.mode == "users":
            users, rate = int(load), None
            scenario = base.scenario
        else:
            users, rate = base.users, load
            scenario = "arrivals"
        profile = dataclasses.replace(
            base,
            scenario=scenario,
            users=users,
            arrival_rate=rate,
            # Every user of a step starts within about a second: the step measures its load.
            spawn_rate=max(base.spawn_rate, float(users)),
            duration=plan.step_duration,
            out=None,
        )
        try:
            validate(profile)
        except ProfileError as exc:
            raise ProfileError(f"step {index + 1} ({load:g} {plan.unit}): {exc}") from None
        profiles.append(profile)
    return profiles


def step_dir_name(index: int, load: float, plan: CapacityPlan) -> str:
    unit = "users" if plan.mode == "users" else "rps"
    return f"{index + 1:02d}-{load:g}{unit}"


def run_search(
    base: RunProfile, plan: CapacityPlan, directory: Path, target: str, out: TextIO
) -> CapacityResult:
    """Every step of ``plan`` on one cluster of ``base`` until a threshold breaks; whatever
    happens (a step that cannot run, Ctrl-C, SIGTERM), the cluster is stopped and the steps
    done so far are the result."""
    profiles = step_profiles(base, plan)
    loads = plan.loads()
    directory.mkdir(parents=True, exist_ok=True)
    clean_up_crashed_runs(out)
    registry = ProcessRegistry(f"capacity-{directory.name}-{secrets.token_hex(4)}")
    cluster = make_cluster(base, RunFiles(directory))
    steps: list[StepResult] = []
    ending: Ending = "plan-done"
    error: str | None = None
    try:
        with signals_as_interrupts(), registry.marked():
            start_cluster(cluster, registry, out)
            for index, (profile, load) in enumerate(zip(profiles, loads, strict=True)):
                name = step_dir_name(index, load, plan)
                out.write(f"step {index + 1}/{len(profiles)}: {load:g} {plan.unit}... ")
                out.flush()
                step_dir = directory / STEPS / name
                execute(profile, step_dir, out=io.StringIO(), cluster=cluster)
                step = measure_step(index, load, plan, step_dir, directory)
                steps.append(step)
                out.write(_step_line(step, plan) + "\n")
                out.flush()
                if not step.held:
                    ending = "threshold"
                    break
    except RunFailed as exc:
        ending, error = "could-not-run", str(exc)
    except KeyboardInterrupt:
        ending = "interrupted"
    finally:
        cluster.close()
        registry.remove()
    return CapacityResult(
        plan=plan,
        steps=steps,
        ending=ending,
        thresholds=list(base.thresholds),
        scenario="arrivals" if plan.mode == "rate" else base.scenario,
        target=target,
        error=error,
    )


def measure_step(
    index: int, load: float, plan: CapacityPlan, step_dir: Path, root: Path
) -> StepResult:
    """A step's numbers from its run directory: the same analysis as ``mcp-scale report``
    (checkers, metrics), its thresholds evaluated by the gates."""
    run = analyze_run(step_dir)
    metrics = run.metrics
    op = f"latency.{plan.op}"
    counts = op_counts(step_dir, plan.op)
    return StepResult(
        index=index,
        load=load,
        throughput=counts.throughput,
        sent=counts.sent,
        due=math.ceil(load * plan.step_duration) if plan.mode == "rate" else None,
        p50_ms=metrics.get(f"{op}.p50"),
        p99_ms=metrics.get(f"{op}.p99"),
        error_rate=metrics.get("errors.rate"),
        held=all_passed(run.gates),
        thresholds=[gate.to_dict() for gate in run.gates],
        run_dir=str(step_dir.relative_to(root)),
        metrics=dict(metrics),
    )


@dataclass(frozen=True)
class OpCounts:
    sent: int  # invocations of the operation
    throughput: float  # completed a second


def op_counts(step_dir: Path, op: str) -> OpCounts:
    """How many ``op`` calls a step sent, and how many completed a second over the span they
    took: from the earliest start (the intended start in an open model) to the last
    completion. Not over the step's planned length: Locust starts after the step's clock,
    and an overloaded step's backlog is still served after it."""
    return for_each_pass(lambda reading: _op_counts(step_dir, op, reading))


def _op_counts(step_dir: Path, op: str, reading: Reading) -> OpCounts:
    sent = done = 0
    first, last = math.inf, -math.inf
    for part in iter_history(step_dir, reading.window, on_disk=reading.on_disk):
        for record in part:
            kind, f = record["type"], record["f"]
            if kind not in ("invoke", "ok") or record["process"] in NOT_CLIENTS:
                continue
            name = TOOLS_CALL if op == TOOLS_CALL and f.startswith("call:") else op_metric_name(f)
            if name != op:
                continue
            if kind == "invoke":
                sent += 1
            elif not record.get("interrupted"):
                done += 1
                first = min(first, record["time"] - float(record.get("latency") or 0.0))
                last = max(last, record["time"])
    return OpCounts(sent, done / (last - first) if done and last > first else 0.0)


def _step_line(step: StepResult, plan: CapacityPlan) -> str:
    p50 = "-" if step.p50_ms is None else f"{step.p50_ms:.0f}ms"
    p99 = "-" if step.p99_ms is None else f"{step.p99_ms:.0f}ms"
    errors = "-" if step.error_rate is None else f"{step.error_rate:.1%}"
    broken = [gate["text"] for gate in step.thresholds if not gate["passed"]]
    verdict = "held" if step.held else f"BROKE {'; '.join(broken)}"
    return f"{step.throughput:.1f} {plan.op}/s, p50 {p50}, p99 {p99}, errors {errors}: {verdict}"
