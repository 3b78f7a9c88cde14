"""The workloads and load shapes mcp-scale ships, by name (metadata only: no Locust here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    guarantees: tuple[str, ...]  # which DESIGN.md guarantees its history lets checkers verify
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
        Scenario("stateless", "JSON-only clients: no session, no stream", (), ("liveness",)),
        Scenario(
            "mixed",
            "notifications, sampling, subscriptions, echo and churn in one population",
            ("G1", "G2", "G3", "G4", "G5", "G7", "G8"),
            ("survival", "delivery", "routing", "isolation", "broadcast", "metadata", "liveness"),
        ),
    )
}

# Load shapes (Locust LoadTestShape classes in scenarios/shapes.py).
SHAPES: dict[str, str] = {
    "ramp": "users grow linearly to --users over the first third, then hold",
    "spike": "a base of a quarter of --users, a spike to all of them in the middle fifth",
    "soak": "steady --users for the whole duration after a short ramp",
}
