"""Stateless: clients that accept only application/json. The server answers in plain JSON and
keeps no session, so any node can serve any request with nothing shared; a baseline for what
session state costs, and a check that node kills only fail the requests in flight."""

from __future__ import annotations

from typing import Any, ClassVar

from locust import between, task

from scenarios.common import ScenarioUser


class StatelessUser(ScenarioUser):
    wait_time = between(0.1, 0.5)
    listen = False
    delete_on_stop = False
    client_options: ClassVar[dict[str, Any]] = {**ScenarioUser.client_options, "stateless": True}

    @task(3)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())

    @task(1)
    def whoami(self) -> None:
        self.action("whoami")
