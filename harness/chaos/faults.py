"""The faults the nemesis knows, as plain data, and how a backend lets them act.

A fault acts on a *subject*: a node or Redis, as the backend offers it (a process it started,
a container it found by label). Which action a fault takes is data in ``FAULTS``; a backend
only says which subject a fault's scope and target name (``Cluster.subject``), so a new
backend implements five actions, not a branch per fault. Network faults act on a node's links
(its clients' path to it, its path to Redis): cutting them (a node cut from Redis, or from
the load balancer and clients) is ``NetworkFaultSubject``, which the docker backend offers
with firewall rules and the local and command backends with the fault proxy
(harness.network); impairing them (latency, bandwidth, blackhole, resets) is
``LinkFaultSubject``, which only the fault proxy offers. Elsewhere they fail as
``FaultNotSupported``, and a run's profile refuses them before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from harness.network.link import Effect, LinkImpairment, LinkSide, impairment, link_name

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
    "impair-link",
    "heal-link",
]


# The actions of NetworkFaultSubject: a run checks before it starts that its backend has them.
NETWORK_ACTIONS: frozenset[str] = frozenset(
    ("partition-redis", "heal-partition-redis", "isolate", "rejoin")
)
# The actions of LinkFaultSubject (the fault proxy's alone).
LINK_ACTIONS: frozenset[str] = frozenset(("impair-link", "heal-link"))


class FaultNotSupported(ValueError):
    """The backend cannot apply this kind of fault (e.g. network faults on local processes)."""


@dataclass(frozen=True)
class FaultKind:
    name: str
    scope: Scope  # what it acts on: a node (kill-node:n1) or Redis (kill-redis)
    action: Action
    heal: str | None  # the fault that undoes it, applied after a fault's duration
    description: str
    resets: bool = False  # a heal that starts the process afresh: it ends its process faults
    link: LinkSide | None = None  # the node's link a network fault acts on
    effect: Effect | None = None  # what an impair-link fault does to its link
    default_param: str | None = None  # its parameter when --chaos-every draws it bare

    @property
    def on_node(self) -> bool:
        return self.scope == "node"

    @property
    def takes_param(self) -> bool:
        return self.effect in ("delay", "bandwidth")

    def link_of(self, target: str | None) -> str | None:
        """The link this fault touches on ``target``, as records name it (None: a process)."""
        return link_name(target, self.link) if self.link and target else None

    def check_param(self, param: str | None) -> None:
        """Raise ValueError (saying what to write) when ``param`` does not fit this fault."""
        if self.effect is not None:
            impairment(self.effect, param or self.default_param)
        elif param:
            raise ValueError(f"{self.name} takes no parameter (got ={param})")


def _link_faults() -> list[FaultKind]:
    """The fault proxy's impairments of a node's two links, each healed by its link's heal."""
    kinds: list[FaultKind] = []
    links: tuple[tuple[LinkSide, str, str], ...] = (
        ("clients", "node", "between a node and its clients"),
        ("redis", "redis", "between a node and Redis"),
    )
    effects: tuple[tuple[Effect, str, str | None], ...] = (
        ("delay", "add latency with jitter, each direction", "200ms~50ms"),
        ("bandwidth", "limit the rate, each direction", "64kbps"),
        ("blackhole", "accept connections, forward nothing (the half-open link)", None),
        ("reset", "reset every connection, and each new one until healed", None),
    )
    for link, suffix, where in links:
        heal = f"heal-{suffix}-link"
        for effect, what, default in effects:
            if link == "redis" and effect == "bandwidth":
                continue
            if link == "redis" and effect == "delay":
                default = "50ms~10ms"  # Redis answers in well under a millisecond here
            kinds.append(
                FaultKind(
                    f"{effect}-{suffix}",
                    "node",
                    "impair-link",
                    heal,
                    f"{what}, {where}",
                    link=link,
                    effect=effect,
                    default_param=default,
                )
            )
        kinds.append(
            FaultKind(heal, "node", "heal-link", None, f"heal the link {where}", link=link)
        )
    return kinds


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
            link="redis",
        ),
        FaultKind(
            "heal-partition-redis",
            "node",
            "heal-partition-redis",
            None,
            "give a node its Redis link back",
            link="redis",
        ),
        FaultKind(
            "isolate-node",
            "node",
            "isolate",
            "rejoin-node",
            "cut a node from the load balancer and clients (it still reaches Redis)",
            link="clients",
        ),
        FaultKind(
            "rejoin-node",
            "node",
            "rejoin",
            None,
            "let clients reach an isolated node",
            link="clients",
        ),
        *_link_faults(),
    )
}
# Faults that undo another one: they end a fault episode rather than start one.
HEALS: frozenset[str] = frozenset(kind.heal for kind in FAULTS.values() if kind.heal)


@dataclass(frozen=True)
class Fault:
    """One scheduled fault: ``name`` on ``target`` (a node id, or None for Redis) at ``at``
    seconds after the load starts; ``param`` as written after ``=`` (``200ms~50ms``)."""

    name: str
    target: str | None
    at: float
    param: str | None = None

    def describe(self) -> str:
        where = f":{self.target}" if self.target else ""
        param = f"={self.param}" if self.param else ""
        return f"{self.name}{where}{param}@{self.at:g}s"


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
    """A node whose links a backend can cut and heal (docker: firewall rules in the
    container's own network namespace; local and command: the fault proxy). Healing what is
    not cut does nothing."""

    def partition_redis(self) -> str: ...

    def heal_partition_redis(self) -> str: ...

    def isolate(self) -> str: ...

    def rejoin(self) -> str: ...


@runtime_checkable
class LinkFaultSubject(Protocol):
    """A node whose links a backend can impair byte by byte (the fault proxy): one impairment
    per link at a time, a new one replacing the one before."""

    def impair_link(self, link: LinkSide, how: LinkImpairment) -> str: ...

    def heal_link(self, link: LinkSide) -> str: ...


NO_NETWORK = (
    "network faults need a backend that can reach a node's links: the local and command "
    "backends put the fault proxy in front of them when the run's schedule has a network "
    "fault; the docker backend cuts links (partition-redis, isolate-node) with firewall rules"
)


def _network(subject: FaultSubject) -> NetworkFaultSubject:
    if not isinstance(subject, NetworkFaultSubject):
        raise FaultNotSupported(f"{NO_NETWORK}; this subject cannot")
    return subject


def _links(subject: FaultSubject, kind: FaultKind) -> LinkFaultSubject:
    if not isinstance(subject, LinkFaultSubject):
        raise FaultNotSupported(
            f"{kind.name} needs the fault proxy of the local or command backend; "
            "this backend only cuts links (partition-redis, isolate-node)"
        )
    return subject


def _impair(subject: FaultSubject, kind: FaultKind, param: str | None) -> str:
    assert kind.link is not None and kind.effect is not None
    how = impairment(kind.effect, param or kind.default_param)
    return _links(subject, kind).impair_link(kind.link, how)


def _heal(subject: FaultSubject, kind: FaultKind) -> str:
    assert kind.link is not None
    return _links(subject, kind).heal_link(kind.link)


Act = Callable[[FaultSubject, FaultKind, "str | None"], str]
ACTIONS: dict[Action, Act] = {
    "kill": lambda subject, kind, param: subject.kill(),
    "stop": lambda subject, kind, param: subject.stop(),
    "pause": lambda subject, kind, param: subject.pause(),
    "resume": lambda subject, kind, param: subject.resume(),
    "restart": lambda subject, kind, param: subject.restart(),
    "partition-redis": lambda subject, kind, param: _network(subject).partition_redis(),
    "heal-partition-redis": lambda subject, kind, param: _network(subject).heal_partition_redis(),
    "isolate": lambda subject, kind, param: _network(subject).isolate(),
    "rejoin": lambda subject, kind, param: _network(subject).rejoin(),
    "impair-link": _impair,
    "heal-link": lambda subject, kind, param: _heal(subject, kind),
}


class FaultTarget(Protocol):
    """A backend the nemesis can act on. It must only touch what it started itself."""

    def node_ids(self) -> list[str]: ...

    def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
        """Apply one fault; returns a short description of what was done (PIDs, ports)."""
        ...


def apply_fault(
    subject_of: Callable[[Scope, str | None], FaultSubject],
    name: str,
    target: str | None,
    param: str | None = None,
) -> str:
    """Apply fault ``name`` (with its ``param``) to the subject the backend names for its
    scope and ``target``."""
    kind = FAULTS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULTS)}")
    kind.check_param(param)
    return ACTIONS[kind.action](subject_of(kind.scope, target), kind, param)
