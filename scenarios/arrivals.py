"""Arrivals: tools/call at a fixed arrival rate (an open model; the run's ``arrival_rate``).

Each call has an intended start (harness.client.arrivals): ``arrival_rate`` a second from the
moment every user has started (and so has a session) until the run's duration is over. A
user takes the next, waits for it and sends the target profile's ``call`` action (else
``echo``). Latency counts from the intended start, so a call that waited for a free user
(all ``--users`` busy: the server is slower than the rate) is measured as late as it was: no
coordinated omission. ``--users`` is the number of sessions, so the most calls in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from locust import constant, events, task

from harness.client.arrivals import ArrivalSchedule
from scenarios.common import RUN, ScenarioUser

# One schedule per Locust process: its users share the process's arrivals.
SCHEDULE = ArrivalSchedule(float(RUN.setting("arrival_rate") or 1.0), RUN.duration or 60.0)
SPAWNED = Event()
IDLE = 0.5  # seconds a user sleeps once no more calls are due (until Locust stops it)


class ArrivalUser(ScenarioUser):
    wait_time = constant(0)  # the schedule paces the calls
    listen = False

    @task
    def arrive(self) -> None:
        # The clock starts once every user has started; bounded: a run's length at most.
        SPAWNED.wait(RUN.duration or 60.0)
        intended = SCHEDULE.next()
        if intended is None:
            gevent.sleep(IDLE)
            return
        delay = intended - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        if self.has_action("call"):
            self.action("call", scheduled=intended)
        else:
            self.action("echo", scheduled=intended, text=self.nonce())


def _start_the_clock(**_: Any) -> None:
    SCHEDULE.begin()
    SPAWNED.set()


_on_spawned: Callable[..., Any] = events.spawning_complete.add_listener
_on_spawned(_start_the_clock)
