"""The faults the nemesis knows, as plain data, and how a backend lets them act.

A fault acts on a *subject*: a node or Redis, as the backend offers it (a process it started,
a container it found by label). Which action a fault takes is data in ``FAULTS``; a backend
only says which subject a fault's scope and target name (``Cluster.subject``), so a new
backend implements five actions, not a branch per fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Scope = Literal["node", "redis"]
Action = Literal["kill", "stop", "pause", "resume", "restart"]


@dataclass(frozen=True)
class FaultKind:
    name: str
    scope: Scope  # what it acts on: a node (kill-node:n1) or Redis (kill-redis)
    action: Action
    heal: str | None  # the fault that undoes it, applied after a fault's duration
    description: str
    resets: bool = False  # a heal that starts the process afresh: it ends any fault on it

    @property
    def on_node(self) -> bool:
        return self.scope == "node"


FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind("kill-node", "node", "kill", "restart-node", "SIGKILL a node"),
        FaultKind("stop-node", "node", "stop", "restart-node", "SIGTERM a node (graceful)"),
        FaultKind(
            "pause-node", "node", "pause", "resume-node", "SIGSTOP a node: it holds its sockets"
        ),
        FaultKind("resume-node", "node", "resume", None, "SIGCONT a paused node"),
        FaultKind(
            "restart-node", "node", "restart", None, "start a node again on the same port", True
        ),
        FaultKind("kill-redis", "redis", "kill", "restart-redis", "SIGKILL Redis"),
        FaultKind(
            "restart-redis", "redis", "restart", None, "start Redis again (same port, data)", True
        ),
    )
}
# Faults that undo another one: they end a fault episode rather than start one.
HEALS: frozenset[str] = frozenset(kind.heal for kind in FAULTS.values() if kind.heal)


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: ``name`` on ``target`` (a node id, or None for Redis) at ``at``
    seconds after the load starts."""

    name: str
    target: str | None
    at: float

    def describe(self) -> str:
        where = f":{self.target}" if self.target else ""
        return f"{self.name}{where}@{self.at:g}s"


class FaultSubject(Protocol):
    """A node or Redis as a backend offers it; each action returns what it did (PIDs, ports,
    container ids), for the fault's history record."""

    def kill(self) -> str: ...

    def stop(self) -> str: ...

    def pause(self) -> str: ...

    def resume(self) -> str: ...

    def restart(self) -> str: ...


ACTIONS: dict[Action, Callable[[FaultSubject], str]] = {
    "kill": lambda subject: subject.kill(),
    "stop": lambda subject: subject.stop(),
    "pause": lambda subject: subject.pause(),
    "resume": lambda subject: subject.resume(),
    "restart": lambda subject: subject.restart(),
}


class FaultTarget(Protocol):
    """A backend the nemesis can act on. It must only touch what it started itself."""

    def node_ids(self) -> list[str]: ...

    def apply_fault(self, name: str, target: str | None) -> str:
        """Apply one fault; returns a short description of what was done (PIDs, ports)."""
        ...


def apply_fault(
    subject_of: Callable[[Scope, str | None], FaultSubject], name: str, target: str | None
) -> str:
    """Apply fault ``name`` to the subject the backend names for its scope and ``target``."""
    kind = FAULTS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
    return ACTIONS[kind.action](subject_of(kind.scope, target))
