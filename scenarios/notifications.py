"""Notifications: every session holds its listening stream and asks any node to notify it.

Exercises cross-node delivery (G2), resume after a node's death (G3), survival (G1; G7 in
memory mode), isolation (G8) and session metadata (a log level set through one node holds on
the others): each notify carries a nonce and numbered messages, so the
delivery checker can count every message lost, duplicated or delivered to another session.
"""

from __future__ import annotations

import random

from locust import between, task

from scenarios.common import ScenarioUser

LEVELS = ("debug", "info", "warning", "error")


class NotificationsUser(ScenarioUser):
    wait_time = between(0.5, 1.5)

    @task(5)
    def notify(self) -> None:
        self.action("notify", count=5, interval_ms=20, nonce=self.nonce())

    @task(1)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())

    @task(1)
    def log_level(self) -> None:
        """Set a level through one node, log through the next: both must apply it (G1)."""
        if not self.has_action("log") or not self.ensure_session():
            return
        if self.client.set_level(random.choice(LEVELS))["type"] == "ok":
            self.action("log", level=random.choice(LEVELS), message=self.nonce())
