"""Sampling: tools/call ``sample`` on any node; the server asks the client, whose answer is
POSTed to whichever node routing picks next, and must reach the node waiting for it (G4).
Every answer is derived from the request's nonce, so crossed answers are caught."""

from __future__ import annotations

from locust import between, task

from scenarios.common import ScenarioUser


class SamplingUser(ScenarioUser):
    wait_time = between(0.5, 1.5)

    @task(4)
    def sample(self) -> None:
        self.action("sample", prompt="say something", nonce=self.nonce())

    @task(1)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())
