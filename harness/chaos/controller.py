"""Applies a schedule of faults to a backend on its own thread, recording each in the history
as a Jepsen nemesis op (invoke, then ok or fail)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from harness.chaos.faults import FAULTS, Fault, FaultTarget
from harness.history.vocabulary import NEMESIS


class ChaosController:
    def __init__(
        self,
        schedule: list[Fault],
        target: FaultTarget,
        record: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedule = sorted(schedule, key=lambda f: f.at)
        self._target = target
        self._record = record
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied: list[Fault] = []
        self.failed: list[tuple[Fault, str]] = []

    def start(self, zero: float) -> None:
        """Run the schedule with times counted from ``zero`` (epoch seconds)."""
        self._thread = threading.Thread(target=self._run, args=(zero,), name="chaos", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        """Every fault of the schedule was applied or failed."""
        return len(self.applied) + len(self.failed) == len(self.schedule)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        # A Ctrl-C can come while start() starts the thread: one not started yet has nothing
        # to wait for (join would raise), and once it runs it sees the stop at once.
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=60)

    def _run(self, zero: float) -> None:
        for fault in self.schedule:  # bounded: a finite schedule
            if self._stop.wait(max(0.0, zero + fault.at - self._clock())):
                return
            self.apply(fault)

    def apply(self, fault: Fault) -> None:
        base: dict[str, Any] = {
            "process": NEMESIS,
            "f": fault.name,
            "value": fault.target,
            "at": fault.at,
        }
        kind = FAULTS.get(fault.name)
        link = kind.link_of(fault.target) if kind else None
        if link:
            base["link"] = link
        if fault.param:
            base["param"] = fault.param
        self._record({**base, "time": self._clock(), "type": "invoke"})
        try:
            detail = self._target.apply_fault(fault.name, fault.target, fault.param)
        except Exception as exc:
            self.failed.append((fault, str(exc)))
            self._record({**base, "time": self._clock(), "type": "fail", "error": str(exc)})
            return
        self.applied.append(fault)
        self._record({**base, "time": self._clock(), "type": "ok", "detail": detail})
