"""The knee and the capacity of a load search, from its steps' numbers alone (plain data in,
plain data out: no runs here).

The knee is where more offered load stops buying throughput in proportion, or starts
costing latency: step ``j`` is past the knee when

- it added less than half the throughput that proportional growth would give:
  ``(X_j / X_{j-1} - 1) < KNEE_GAIN * (L_j / L_{j-1} - 1)`` (``L``: offered load, users or
  calls a second; ``X``: completed calls a second), or
- its p99 latency is more than KNEE_LATENCY times the first step's and at least
  KNEE_LATENCY_MS above it (the floor keeps a fast server's 1 ms to 3 ms from counting).

The knee is the load of the step before the first step past it; none when no step is.
The capacity is the highest load whose step held every threshold, every step below it too
(the search stops at the first step that broke one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

KNEE_GAIN = 0.5
KNEE_LATENCY = 2.0
KNEE_LATENCY_MS = 10.0


@dataclass(frozen=True)
class LoadPoint:
    """One step as the knee sees it."""

    load: float  # offered: users, or calls a second
    throughput: float  # completed calls a second
    p99_ms: float | None  # None: nothing completed


@dataclass(frozen=True)
class Knee:
    load: float  # the last load before the knee was passed
    index: int  # that step's position (0-based)
    reason: str  # why the next step is past it


def find_knee(points: Sequence[LoadPoint]) -> Knee | None:
    """The knee of steps in increasing load order; None when no step is past it."""
    if not points:
        return None
    base = points[0].p99_ms
    for j in range(1, len(points)):
        before, step = points[j - 1], points[j]
        why = _past_knee(before, step, base)
        if why is not None:
            return Knee(before.load, j - 1, why)
    return None


def _past_knee(before: LoadPoint, step: LoadPoint, base_p99: float | None) -> str | None:
    load_gain = step.load / before.load - 1.0 if before.load > 0 else 0.0
    if before.throughput > 0 and load_gain > 0:
        gain = step.throughput / before.throughput - 1.0
        if gain < KNEE_GAIN * load_gain:
            return (
                f"at {step.load:g} throughput grew {gain:+.0%} for {load_gain:+.0%} load "
                f"({before.throughput:.1f} -> {step.throughput:.1f}/s; less than "
                f"{KNEE_GAIN:.0%} of proportional)"
            )
    if base_p99 is None or step.p99_ms is None:
        return None
    if step.p99_ms > KNEE_LATENCY * base_p99 and step.p99_ms - base_p99 >= KNEE_LATENCY_MS:
        return (
            f"at {step.load:g} p99 {step.p99_ms:.0f}ms is over {KNEE_LATENCY:g}x the "
            f"first step's {base_p99:.0f}ms"
        )
    return None


def last_held(held: Sequence[bool]) -> int | None:
    """The index of the capacity step: the last of the leading steps that all held."""
    found: int | None = None
    for index, ok in enumerate(held):
        if not ok:
            break
        found = index
    return found
