"""Session churn: sessions opened, used once and deleted as fast as possible. Stresses session
creation and deletion in the store, and shows leaks of per-session state (stream logs, ids)."""

from __future__ import annotations

from locust import between, task

from scenarios.common import ScenarioUser


class ChurnUser(ScenarioUser):
    wait_time = between(0.1, 0.5)
    listen = False

    @task
    def churn(self) -> None:
        self.client.close(delete=True)
        self.action("echo", text=self.nonce())
