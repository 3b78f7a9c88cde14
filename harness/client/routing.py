"""Which node each request goes to: round-robin, sticky, random, or a single URL.

A router is used by one client (one session); it is not shared between greenlets that need
their own order. ``failed`` tells it a node did not accept a connection.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

POLICIES = ("round_robin", "sticky", "random", "single")


class Router(Protocol):
    urls: list[str]

    def pick(self) -> str:
        """The endpoint URL for the next request."""
        ...

    def failed(self, url: str) -> None:
        """``url`` refused a connection, or broke one before answering (a node down)."""
        ...


class RoundRobin:
    """Every request to the next node: what a non-sticky load balancer does."""

    def __init__(self, urls: Sequence[str], start: int = 0) -> None:
        self.urls = list(urls)
        self._next = start % len(self.urls)

    def pick(self) -> str:
        url = self.urls[self._next]
        self._next = (self._next + 1) % len(self.urls)
        return url

    def failed(self, url: str) -> None:
        pass


class Sticky:
    """One node for every request until it fails to connect; then the next one."""

    def __init__(self, urls: Sequence[str], start: int = 0) -> None:
        self.urls = list(urls)
        self._current = start % len(self.urls)

    def pick(self) -> str:
        return self.urls[self._current]

    def failed(self, url: str) -> None:
        if self.urls[self._current] == url:
            self._current = (self._current + 1) % len(self.urls)


class Random:
    def __init__(self, urls: Sequence[str], seed: int | None = None) -> None:
        self.urls = list(urls)
        self._rng = random.Random(seed)

    def pick(self) -> str:
        return self._rng.choice(self.urls)

    def failed(self, url: str) -> None:
        pass


class Single(Sticky):
    """One URL (a load balancer in front of the nodes); never moves."""

    def __init__(self, urls: Sequence[str], start: int = 0) -> None:
        super().__init__([urls[start % len(urls)]])

    def failed(self, url: str) -> None:
        pass


def make_router(
    policy: str, urls: Sequence[str], start: int = 0, seed: int | None = None
) -> Router:
    """A router for ``policy`` (one of POLICIES) over ``urls``, starting at index ``start``."""
    if not urls:
        raise ValueError("at least one endpoint URL is needed")
    if policy == "round_robin":
        return RoundRobin(urls, start)
    if policy == "sticky":
        return Sticky(urls, start)
    if policy == "random":
        return Random(urls, seed if seed is not None else start)
    if policy == "single":
        return Single(urls, start)
    raise ValueError(f"unknown routing policy {policy!r}; choose one of {', '.join(POLICIES)}")
