"""The workloads and load shapes mcp-scale ships, by name (metadata only: no Locust here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.client.config import STATELESS_VERSION

# The stateless revision: no initialize, no session, no GET stream.
STATELESS = STATELESS_VERSION

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    """A workload. Every revision but the stateless one (no initialize, no session, no GET
    stream) is of the handshake era. ``checkers``: those its history can decide in the
    handshake era (empty: it needs the stateless revision); ``stateless_checkers``: the same
    in 2026-07-28 (empty: it needs sessions)."""

    name: str
    summary: str
    guarantees: tuple[str, ...]  # the guarantees (docs/guarantees.md) its history can show
    checkers: tuple[str, ...]  # the checkers its history can decide (harness.checkers.CHECKERS)
    stateless_checkers: tuple[str, ...] = ()

    @property
    def locustfile(self) -> Path:
        return HERE / f"{self.name}.py"

    def checkers_in(self, protocol: str) -> tuple[str, ...]:
        """The checkers a run of this scenario in ``protocol`` can decide."""
        return self.stateless_checkers if protocol == STATELESS else self.checkers

    def refusal(self, protocol: str) -> str | None:
        """Why this scenario cannot run in ``protocol`` (None: it can)."""
        if self.checkers_in(protocol):
            return None
        if protocol == STATELESS:
            return (
                f"scenario {self.name!r} needs sessions (the handshake era: initialize, a "
                f"session's stream); {STATELESS} has none: run it with --protocol 2025-11-25, "
                f"or choose a scenario of {STATELESS}: {', '.join(speaking(STATELESS))}"
            )
        return (
            f"scenario {self.name!r} exercises the {STATELESS} revision (subscriptions/listen, "
            f"multi round-trip requests): run it with --protocol {STATELESS}"
        )


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
            ("G1", "G2", "G3", "G4", "G5", "G7", "G8", "G9", "G10"),
            ("survival", "delivery", "routing", "isolation", "broadcast", "metadata", "liveness"),
            # 2026-07-28: listen streams, MRTR samples (with deliberate replays) and echo.
            ("listen", "mrtr", "liveness"),
        ),
        Scenario(
            "listen",
            f"{STATELESS}: each user holds a subscriptions/listen stream while calls to "
            "broadcast and touch_resource on any node emit change notifications",
            ("G9",),
            (),
            ("listen", "liveness"),
        ),
        Scenario(
            "mrtr",
            f"{STATELESS}: tools/call sample answered through input_required rounds, each "
            "retry routed over the nodes; a few used or tampered requestStates sent again",
            ("G10",),
            (),
            ("mrtr", "liveness"),
        ),
    )
}


def speaking(protocol: str) -> list[str]:
    """The scenarios that can run in ``protocol``."""
    return [name for name, scenario in SCENARIOS.items() if scenario.checkers_in(protocol)]


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
