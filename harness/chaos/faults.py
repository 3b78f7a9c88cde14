"""The faults the nemesis knows, as plain data, and how a backend lets them act.

A fault acts on a *subject*: a node or Redis, as the backend offers it (a process it started,
a container it found by label). Which action a fault takes is data in ``FAULTS``; a backend
only says which subject a fault's scope and target name (``Cluster.subject``), so a new
backend implements five actions, not a branch per fault. Network faults (a node cut from Redis,
or from the load balancer and clients) are actions of ``NetworkFaultSubject``, which a backend
offers only where it can cut links (the docker backend); elsewhere they fail as
``FaultNotSupported``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Scope = Literal["node", "redis"]
Action = Literal[
    "kill",
    "stop",
    "pause",
    "resume",
    "restart",
    "partition-redis",
    "heal-partition-redis",
    "isolate",
    "rejoin",
]


# The actions of NetworkFaultSubject: a run checks before it starts that its backend has them.
NETWORK_ACTIONS: frozenset[str] = frozenset(
    ("partition-redis", "heal-partition-redis", "isolate", "rejoin")
)


class FaultNotSupported(ValueError):
    """The backend cannot apply this kind of fault (e.g. network faults on local processes)."""


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
        FaultKind(
            "partition-redis",
            "node",
            "partition-redis",
            "heal-partition-redis",
            "cut a node from Redis (its clients still reach it)",
        ),
        FaultKind(
            "heal-partition-redis",
            "node",
            "heal-partition-redis",
            None,
            "give a node its Redis link back",
        ),
        FaultKind(
            "isolate-node",
            "node",
            "isolate",
            "rejoin-node",
            "cut a node from the load balancer and clients (it still reaches Redis)",
        ),
        FaultKind("rejoin-node", "node", "rejoin", None, "let clients reach an isolated node"),
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


@runtime_checkable
class NetworkFaultSubject(Protocol):
    """A node whose links a backend can cut and heal (the docker backend: firewall rules in the
    container's own network namespace). Healing what is not cut does nothing."""

    def partition_redis(self) -> str: ...

    def heal_partition_redis(self) -> str: ...

    def isolate(self) -> str: ...

    def rejoin(self) -> str: ...


def _network(subject: FaultSubject) -> NetworkFaultSubject:
    if not isinstance(subject, NetworkFaultSubject):
        raise FaultNotSupported(
            "network faults (partition-redis, isolate-node) are not supported by this "
            "backend: use --backend docker"
        )
    return subject


ACTIONS: dict[Action, Callable[[FaultSubject], str]] = {
    "kill": lambda subject: subject.kill(),
    "stop": lambda subject: subject.stop(),
    "pause": lambda subject: subject.pause(),
    "resume": lambda subject: subject.resume(),
    "restart": lambda subject: subject.restart(),
    "partition-redis": lambda subject: _network(subject).partition_redis(),
    "heal-partition-redis": lambda subject: _network(subject).heal_partition_redis(),
    "isolate": lambda subject: _network(subject).isolate(),
    "rejoin": lambda subject: _network(subject).rejoin(),
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
