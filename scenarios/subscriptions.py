"""Subscriptions and broadcasts: sessions subscribe to a few resources; any node touches them
or broadcasts list_changed. Lets the broadcast checker verify cluster-wide reach (G5) and the
isolation checker that updates go only to subscribers (G8)."""

from __future__ import annotations

import random

from locust import between, task

from scenarios.common import ScenarioUser

RESOURCES = [f"mcp-scale://resource/{index}" for index in range(10)]


class SubscriptionsUser(ScenarioUser):
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        super().on_start()
        self.uri = random.choice(RESOURCES)
        if self.client.session is not None:
            self.client.subscribe(self.uri)

    @task(5)
    def touch(self) -> None:
        self.action("touch", uri=random.choice(RESOURCES))

    @task(1)
    def broadcast(self) -> None:
        self.action("broadcast", kind="tools", nonce=self.nonce())

    @task(2)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())
