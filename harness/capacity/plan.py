"""A capacity search's plan: which loads, how long each, when to stop. Checked before anything
starts; every loop of the search is bounded by it (MAX_STEPS, the load's own bounds)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from harness.durations import format_duration

Mode = Literal["users", "rate"]
MAX_STEPS = 50
DEFAULT_STEPS = 10
DEFAULT_STEP_DURATION = 30.0
MIN_STEP_DURATION = 2.0
MAX_STEP_DURATION = 3600.0
MAX_USERS = 100_000  # RunProfile's own bound
MAX_RATE = 100_000.0  # calls a second, RunProfile's MAX_ARRIVAL_RATE


class PlanError(ValueError):
    """A plan that cannot run; says what was wrong and what is allowed."""


@dataclass(frozen=True)
class CapacityPlan:
    mode: Mode  # users: Locust users (a closed model); rate: calls a second (an open model)
    start: float
    step: str  # "10": add 10 each step; "x2": double
    max_steps: int = DEFAULT_STEPS
    max_load: float | None = None
    step_duration: float = DEFAULT_STEP_DURATION
    op: str = "tools_call"  # the operation whose throughput and latency are charted
    min_capacity: float | None = None  # below it the search fails (exit 1)

    @property
    def unit(self) -> str:
        return "users" if self.mode == "users" else "calls/s"

    def loads(self) -> list[float]:
        """The loads to try, in order: at most max_steps, none above max_load."""
        add, factor = parse_step(self.step)
        loads: list[float] = []
        load = self.start
        for _ in range(self.max_steps):
            if self.max_load is not None and load > self.max_load:
                break
            loads.append(load)
            following = load * factor + add
            following = math.ceil(following) if self.mode == "users" else round(following, 3)
            load = max(following, load + (1 if self.mode == "users" else 0.001))
        return loads

    def describe(self) -> str:
        add, factor = parse_step(self.step)
        how = f"x{factor:g}" if factor != 1 else f"+{add:g}"
        bound = f", at most {self.max_load:g}" if self.max_load is not None else ""
        return (
            f"{self.unit} from {self.start:g}, {how} a step, at most {self.max_steps} steps"
            f"{bound}, {format_duration(self.step_duration)} each"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_step(text: str) -> tuple[float, float]:
    """``"10"`` -> (10, 1): add 10; ``"x2"`` -> (0, 2): multiply by 2."""
    raw = text.strip()
    try:
        if raw.lower().startswith("x"):
            factor = float(raw[1:])
            if not factor > 1 or math.isinf(factor):
                raise ValueError
            return 0.0, factor
        add = float(raw)
        if not add > 0 or math.isinf(add):
            raise ValueError
        return add, 1.0
    except ValueError:
        raise PlanError(
            f"step must be a load to add (e.g. 10) or a factor (e.g. x2, above 1), got {text!r}"
        ) from None


def validate_plan(plan: CapacityPlan) -> None:
    """PlanError on the first setting out of bounds."""
    top = MAX_USERS if plan.mode == "users" else MAX_RATE

    def check(ok: bool, message: str) -> None:
        if not ok:
            raise PlanError(message)

    check(plan.mode in ("users", "rate"), f"mode must be users or rate, got {plan.mode!r}")
    check(0 < plan.start <= top, f"start must be above 0 and at most {top:g} {plan.unit}")
    if plan.mode == "users":
        check(plan.start == int(plan.start), "start must be a whole number of users")
    parse_step(plan.step)
    check(1 <= plan.max_steps <= MAX_STEPS, f"max-steps must be between 1 and {MAX_STEPS}")
    check(
        plan.max_load is None or plan.start <= plan.max_load <= top,
        f"max-load must be at least start ({plan.start:g}) and at most {top:g} {plan.unit}",
    )
    check(
        MIN_STEP_DURATION <= plan.step_duration <= MAX_STEP_DURATION,
        f"step-duration must be between {MIN_STEP_DURATION:g}s and {MAX_STEP_DURATION:g}s",
    )
    check(
        plan.min_capacity is None or plan.min_capacity > 0,
        "min-capacity must be a positive load",
    )
    check(bool(plan.op.strip()), "op must name an operation, e.g. tools_call")
    highest = max(plan.loads())
    check(highest <= top, f"the plan reaches {highest:g} {plan.unit}, above {top:g}: lower it")
