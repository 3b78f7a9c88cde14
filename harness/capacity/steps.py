"""What a capacity search found, as plain data: each step's numbers, the knee, the capacity
and how the search ended (capacity.json holds exactly this)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.capacity.knee import Knee, LoadPoint, find_knee, last_held
from harness.capacity.plan import CapacityPlan

FORMAT = "mcp-scale-capacity/1"
# How the search ended: a step broke a threshold, every step of the plan held, Ctrl-C or
# SIGTERM, a step could not be carried out.
Ending = Literal["threshold", "plan-done", "interrupted", "could-not-run"]
LATENCY_NOTE = {
    "users": "latency from each call's send to its answer (a closed model: Locust users)",
    "rate": "latency from each call's intended start to its answer (an open model: a call "
    "that waited for a free user counts the wait; no coordinated omission)",
}


@dataclass(frozen=True)
class StepResult:
    """One step: the load it offered, what it measured, whether every threshold held."""

    index: int  # 0-based
    load: float
    throughput: float  # completed <op> calls a second (harness.capacity.search.op_counts)
    sent: int  # <op> calls sent
    due: int | None  # rate mode: calls the schedule had due (rate x step duration)
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float | None  # a fraction of every request (errors.rate)
    held: bool  # every threshold held
    thresholds: list[dict[str, Any]]  # ThresholdResult.to_dict() of each
    run_dir: str  # the step's run directory, relative to the search's
    metrics: dict[str, float] = field(default_factory=dict)

    def point(self) -> LoadPoint:
        return LoadPoint(self.load, self.throughput, self.p99_ms)


@dataclass(frozen=True)
class CapacityResult:
    plan: CapacityPlan
    steps: list[StepResult]
    ending: Ending
    thresholds: list[str]
    scenario: str
    target: str  # what was searched: the reference server or the target profile
    error: str | None = None  # why a step could not run

    @property
    def knee(self) -> Knee | None:
        return find_knee([step.point() for step in self.steps])

    @property
    def capacity_step(self) -> StepResult | None:
        index = last_held([step.held for step in self.steps])
        return None if index is None else self.steps[index]

    @property
    def capacity(self) -> float | None:
        step = self.capacity_step
        return None if step is None else step.load

    @property
    def broken_step(self) -> StepResult | None:
        return next((step for step in self.steps if not step.held), None)

    @property
    def capacity_is_lower_bound(self) -> bool:
        """Every step held: the capacity is at least the last load tried."""
        return self.broken_step is None

    def to_dict(self) -> dict[str, Any]:
        knee = self.knee
        return {
            "format": FORMAT,
            "scenario": self.scenario,
            "target": self.target,
            "plan": self.plan.to_dict(),
            "unit": self.plan.unit,
            "thresholds": list(self.thresholds),
            "latency": LATENCY_NOTE[self.plan.mode],
            "ending": self.ending,
            "error": self.error,
            "capacity": self.capacity,
            "capacity_is_lower_bound": self.capacity_is_lower_bound,
            "broke_at": None if self.broken_step is None else self.broken_step.load,
            "knee": None if knee is None else asdict(knee),
            "steps": [asdict(step) for step in self.steps],
        }
