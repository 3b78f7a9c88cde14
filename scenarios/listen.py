"""Listen (2026-07-28): every user holds a ``subscriptions/listen`` stream (list changes and
a few resources) while calls to ``broadcast`` and ``touch_resource`` on any node emit change
notifications. The listen checker counts every change a matching open stream did not get,
unless the stream broke and its client listed again (nothing is replayed in this revision)."""

from __future__ import annotations

import random

from locust import between, task
from locust.env import Environment

from scenarios.common import ScenarioUser
from scenarios.subscriptions import RESOURCES

KINDS = ("tools", "prompts", "resources")
SUBSCRIBED = 3  # resources each user's stream asks updates of


class ListenUser(ScenarioUser):
    wait_time = between(0.5, 1.5)
    delete_on_stop = False  # no session to delete

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # Read when the stream opens (on_start): each user listens to its own few resources.
        self.client.config.listen_filter = {
            "toolsListChanged": True,
            "promptsListChanged": True,
            "resourcesListChanged": True,
            "resourceSubscriptions": random.sample(RESOURCES, SUBSCRIBED),
        }

    @task(2)
    def broadcast(self) -> None:
        self.action("broadcast", kind=random.choice(KINDS), nonce=self.nonce())

    @task(3)
    def touch(self) -> None:
        self.action("touch", uri=random.choice(RESOURCES))

    @task(1)
    def echo(self) -> None:
        self.action("echo", text=self.nonce())
