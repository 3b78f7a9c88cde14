"""Fault episodes: the nemesis's records of a history paired into faults and their heals.

One builder for every reader (the checkers and the report), fed one nemesis record at a time
in history order, so that "when did this fault hold" has one answer. A fault holds from its
invoke until the heal of the same target completes (a node is down until its restart is
done), or until the run's end when nothing healed it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.chaos.faults import FAULTS, HEALS, FaultKind
from harness.history.vocabulary import NEMESIS


def is_heal(name: str) -> bool:
    """Whether a nemesis op undoes a fault (a fault this harness does not know is judged by
    its name: a history may come from a newer version)."""
    if name in FAULTS:
        return name in HEALS
    return name.startswith(("restart", "resume", "heal"))


@dataclass
class FaultOp:
    """One nemesis op: a fault or a heal, with times in epoch seconds."""

    name: str
    target: str | None
    start: float  # its invoke
    completed: float | None = None  # when its completion was recorded (None: never)
    outcome: str = "pending"  # ok, fail, info (maybe applied), or pending (no completion)
    detail: str = ""
    end: float | None = None  # on a fault: when the heal that undid it completed
    healed_by: str | None = None
    heals: str | None = None  # on a heal: the label of the fault it undid

    @property
    def is_heal(self) -> bool:
        return is_heal(self.name)

    @property
    def applied(self) -> bool:
        """It took effect or may have (ok, info, or still pending): only a fail did not."""
        return self.outcome != "fail"

    @property
    def lasting(self) -> bool:
        """A fault with a duration (a band on charts), not an instant action."""
        kind = FAULTS.get(self.name)
        return kind is not None and kind.heal is not None

    @property
    def until(self) -> float:
        """When it stopped holding: its heal's completion, else never (inf)."""
        return math.inf if self.end is None else self.end

    @property
    def label(self) -> str:
        return f"{self.name}:{self.target}" if self.target else self.name

    @property
    def link(self) -> str | None:
        """The link a network fault touched (``clients->n2``, ``n1->redis``); None otherwise."""
        kind = FAULTS.get(self.name)
        return kind.link_of(self.target) if kind else None

    def holds(self, target: str | None, time: float) -> bool:
        return self.applied and self.target == target and self.start <= time < self.until

    def shifted(self, zero: float) -> FaultOp:
        """The same op with its times in seconds since ``zero``."""

        def shift(value: float | None) -> float | None:
            return None if value is None else value - zero

        return dataclasses.replace(
            self,
            start=self.start - zero,
            completed=shift(self.completed),
            end=shift(self.end),
        )


@dataclass
class EpisodeBuilder:
    """Feed it the nemesis's records in history order; ``ops`` is every fault and heal."""

    ops: list[FaultOp] = field(default_factory=list)
    _in_flight: FaultOp | None = None  # the nemesis applies one op at a time
    _open: list[FaultOp] = field(default_factory=list)  # applied faults no heal undid yet

    def feed(self, record: Mapping[str, Any]) -> None:
        name, kind = str(record["f"]), record["type"]
        target = record.get("value")
        target = None if target is None else str(target)
        time = float(record["time"])
        if kind == "invoke":
            self._in_flight = FaultOp(name, target, time)
            self.ops.append(self._in_flight)
            return
        op = self._in_flight
        if op is None or op.name != name:  # a completion without its invoke (a cut history)
            op = FaultOp(name, target, time)
            self.ops.append(op)
        self._in_flight = None
        op.completed, op.outcome = time, str(kind)
        op.detail = str(record.get("detail") or record.get("error") or "")
        if op.outcome == "fail":
            return
        if op.is_heal:
            self._heal(op)
        else:
            self._open.append(op)

    def _heal(self, heal: FaultOp) -> None:
        """Every open fault of the heal's target that this heal undoes: its own heal, or any
        heal that starts the process afresh (a restart ends a pause too)."""
        healing = FAULTS.get(heal.name)
        for fault in [f for f in self._open if f.target == heal.target]:
            if not _undoes(healing, heal.name, FAULTS.get(fault.name)):
                continue
            fault.end, fault.healed_by = heal.completed, heal.name
            heal.heals = fault.label
            self._open.remove(fault)

    @property
    def faults(self) -> list[FaultOp]:
        """The faults, not the heals, in the order they were invoked."""
        return [op for op in self.ops if not op.is_heal]


def _undoes(healing: FaultKind | None, heal: str, fault: FaultKind | None) -> bool:
    """A fault or heal this harness does not know: judged by target alone."""
    if healing is None or fault is None:
        return True
    # A restart starts the process afresh, which ends its process faults, not a link's.
    return fault.heal == heal or (healing.resets and fault.link is None)


def episodes_of(records: Iterable[Mapping[str, Any]]) -> list[FaultOp]:
    """Every nemesis op of ``records`` (other records are skipped), paired with its heal."""
    builder = EpisodeBuilder()
    for record in records:
        if record["process"] == NEMESIS:
            builder.feed(record)
    return builder.ops
