"""An open model's clock: requests due at a fixed arrival rate, whatever the server does.

A closed model (users that send, wait for the answer, think, send again) slows down with a
slow server and so measures fewer slow requests than a real population of clients would
send: coordinated omission. Here each request has an intended start, ``start + i / rate``;
a user takes the next one, sleeps until it (if it is still ahead) and sends, and the
request's latency counts from the intended start (``McpClient.request(scheduled=...)``).
"""

from __future__ import annotations

import time


class ArrivalSchedule:
    """The intended starts of one process's requests: ``rate`` a second for ``duration``
    seconds from ``begin`` (or from the first ``next``)."""

    def __init__(self, rate: float, duration: float) -> None:
        if not rate > 0:
            raise ValueError(f"an arrival rate must be positive, got {rate!r}")
        self.rate = rate
        self.duration = duration
        self._start: float | None = None
        self._index = 0

    def begin(self, at: float | None = None) -> None:
        """Start the clock (once): the first request is due at ``at`` (default now)."""
        if self._start is None:
            self._start = time.monotonic() if at is None else at

    def next(self) -> float | None:
        """The next request's intended start (``time.monotonic()``), one per call; None once
        the schedule's duration is over (no more requests are due)."""
        self.begin()
        assert self._start is not None
        offset = self._index / self.rate
        if offset >= self.duration:
            return None
        self._index += 1
        return self._start + offset
