"""Standard: spec-only operations, for any MCP server (no tool pack needed).

Each user holds a session and its GET listening stream open, and in turn: initializes,
lists and calls tools (the target profile's ``call`` action, else its ``echo``), pings, lists
and reads resources and lists prompts (when the server declares them), and now and then
DELETEs its session and starts a new one. Notifications the server sends by itself
(``notifications/*/list_changed``, ``notifications/resources/updated``, progress, logging) are
recorded per stream as ``message`` records of the history. The checkers that need no tool pack
(survival, liveness, latency, errors; a listening stream broken by a fault is re-opened)
judge it; those that need an action the profile lacks say "not tested".
"""

from __future__ import annotations

import random
from typing import Any

from locust import between, task

from scenarios.common import ScenarioUser


class StandardUser(ScenarioUser):
    wait_time = between(0.3, 1.0)

    def _capable(self, name: str) -> bool:
        """Whether the server declared capability ``name`` (tools, resources, prompts)."""
        session = self.client.session
        return session is not None and name in session.capabilities

    @task(4)
    def call(self) -> None:
        if self.has_action("call"):
            self.action("call")
        else:
            self.action("echo", text=self.nonce())

    @task(2)
    def list_tools(self) -> None:
        if self.ensure_session():
            self.client.list_tools()

    @task(2)
    def ping(self) -> None:
        if self.ensure_session():
            self.client.ping()

    @task(1)
    def resources(self) -> None:
        if not self.ensure_session() or not self._capable("resources"):
            return
        listed = self.client.request("resources/list", {}, f="list_resources")
        value: Any = listed.get("value") if listed["type"] == "ok" else None
        found = value.get("resources") if isinstance(value, dict) else None
        if found:
            uri = random.choice(found).get("uri")
            if isinstance(uri, str):
                self.client.request("resources/read", {"uri": uri}, f="read_resource")

    @task(1)
    def prompts(self) -> None:
        if self.ensure_session() and self._capable("prompts"):
            self.client.request("prompts/list", {}, f="list_prompts")

    @task(1)
    def recycle(self) -> None:
        """DELETE the session; the next task initializes a new one (and its stream)."""
        if self.client.session is not None:
            self.client.close(delete=True)
