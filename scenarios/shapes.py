"""Load shapes selected with ``--shape``: ramp, spike, soak (see scenarios/registry.py).

One LoadTestShape class only, since Locust refuses a locustfile with several; it reads the
run's users, spawn rate and duration and follows the chosen curve.
"""

from __future__ import annotations

from locust import LoadTestShape

from scenarios.common import RUN
from scenarios.registry import ramp_seconds


def users_at(shape: str, elapsed: float, users: int, duration: float) -> int:
    """How many users ``shape`` wants ``elapsed`` seconds into a run of ``duration``."""
    fraction = elapsed / duration if duration else 1.0
    if shape == "ramp":
        return max(1, round(users * min(1.0, fraction * 3)))
    if shape == "spike":
        base = max(1, users // 4)
        return users if 0.4 <= fraction < 0.6 else base
    if shape == "soak":
        # 30 s (a tenth of a short run); the leak and drift checks leave it out.
        return max(1, round(users * min(1.0, elapsed / ramp_seconds(shape, duration))))
    raise ValueError(f"unknown shape {shape!r}")


class ProfileShape(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        elapsed: float = self.get_run_time()  # type: ignore[no-untyped-call]
        if elapsed >= RUN.duration:
            return None
        return users_at(RUN.shape or "soak", elapsed, RUN.users, RUN.duration), RUN.spawn_rate
