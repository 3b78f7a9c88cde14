"""The workloads and load shapes mcp-scale ships, by name (metadata only: no Locust here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    guarantees: tuple[str, ...]  # the guarantees (docs/guarantees.md) its history can show
    checkers: tuple[str, ...]  # the checkers its history can decide (harness.checkers.CHECKERS)

    @property
    def locustfile(self) -> Path:
        return HERE / f"{self.name}.py"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "notifications",
            "each session holds a listening stream and asks any node to notify it",
            ("G1", "G2", "G3", "G7", "G8"),
            ("survival", "delivery", "isolation", "metadata", "liveness"),
        ),
        Scenario(
            "sampling",
            "tools/call sample on any node; the client answers through another",
            ("G1", "G4", "G7"),
            ("survival", "routing", "liveness"),
        ),
        Scenario(
            "subscriptions",
            "sessions subscribe to resources and touch them; broadcasts of list_changed",
            ("G1", "G5", "G8"),
            ("survival", "broadcast", "isolation", "liveness"),
        ),
        Scenario(
            "churn",
            "sessions opened, used once and deleted as fast as possible",
            ("G1",),
            ("survival", "liveness"),
        ),
        Scenario(
            "standard",
            "spec-only operations for any server: tools, ping, resources, prompts, the "
            "listening stream, DELETE; the profile's call action",
            ("G1", "G7"),
            ("survival", "liveness"),
        ),
        Scenario("stateless", "JSON-only clients: no session, no stream", (), ("liveness",)),
        Scenario(
            "arrivals",
            "tools/call (the profile's call action) at --arrival-rate calls a second, an open "
            "model: latency from each call's intended start",
            ("G1",),
            ("survival", "liveness"),
        ),
        Scenario(
            "mixed",
            "notifications, sampling, subscriptions, echo and churn in one population",
            ("G1", "G2", "G3", "G4", "G5", "G7", "G8"),
            ("survival", "delivery", "routing", "isolation", "broadcast", "metadata", "liveness"),
        ),
    )
}


def ramp_seconds(
    shape: str | None, duration: float, users: int = 1, spawn_rate: float = 1.0
) -> float:
    """Seconds from the start of a run until its load is steady (the leak and drift checks
    leave them out): the soak shape's short ramp, the ramp shape's first third, or without a
    shape Locust's spawning of every user; a spike is never steady (0)."""
    if shape == "soak":
        return min(30.0, duration / 10) if duration > 0 else 30.0
    if shape == "ramp":
        return duration / 3
    if shape is None:
        return users / spawn_rate if spawn_rate > 0 else 0.0
    return 0.0


# Load shapes (Locust LoadTestShape classes in scenarios/shapes.py).
SHAPES: dict[str, str] = {
    "ramp": "users grow linearly to --users over the first third, then hold",
    "spike": "a base of a quarter of --users, a spike to all of them in the middle fifth",
    "soak": "steady --users for the whole duration after a short ramp",
}
