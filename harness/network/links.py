"""A run's network links through the fault proxy, and a node's faults on them.

A backend (local, command) makes a :class:`NetworkLinks` only when the run's schedule has a
network fault (``links_needed``), so that a run without one starts no proxy and pays nothing.
It opens the links it needs (a node's Redis link before the node starts, so that the node is
given the proxy's address; the clients' link after, in front of the node's port), and wraps
each node's process subject in a :class:`LinkedSubject` that adds the network actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.chaos.faults import FAULTS, Fault, FaultSubject
from harness.network.link import CLEAN, LinkImpairment, LinkSide, link_name
from harness.network.process import COMMAND_MATCH, FaultProxy


def links_needed(schedule: Iterable[Fault], drawn: Iterable[str] = ()) -> frozenset[LinkSide]:
    """Which of a node's links a run's faults touch (``drawn``: the kinds --chaos-every may
    draw); empty when none, and then no proxy is started."""
    names = [fault.name for fault in schedule] + list(drawn)
    return frozenset(side for name in names if (side := FAULTS[name].link) is not None)


@dataclass
class NetworkLinks:
    """The proxied links of one run: ``(node, side) -> proxy port``."""

    sides: frozenset[LinkSide]
    proxy: FaultProxy = field(default_factory=FaultProxy)
    ports: dict[tuple[str, LinkSide], int] = field(default_factory=dict)

    def start(self) -> NetworkLinks:
        self.proxy.start()
        return self

    def redis_port(self, node: str, redis_port: int) -> int:
        """The port ``node`` reaches Redis on (the proxy's, when its Redis link is proxied)."""
        return self._open(node, "redis", redis_port)

    def client_port(self, node: str, node_port: int) -> int:
        """The port clients reach ``node`` on (the proxy's, when its clients' link is)."""
        return self._open(node, "clients", node_port)

    def _open(self, node: str, side: LinkSide, upstream: int) -> int:
        if side not in self.sides:
            return upstream
        if (node, side) not in self.ports:
            self.ports[node, side] = self.proxy.open(link_name(node, side), upstream)
        return self.ports[node, side]

    def impair(self, node: str, side: LinkSide, how: LinkImpairment) -> str:
        if (node, side) not in self.ports:
            raise ValueError(
                f"{link_name(node, side)} is not proxied in this run (proxied: "
                f"{', '.join(link_name(n, s) for n, s in self.ports) or 'none'})"
            )
        return self.proxy.impair(link_name(node, side), how)

    def processes(self) -> dict[str, tuple[int, str]]:
        """The proxy for the registry that cleans up after a crashed harness."""
        pid = self.proxy.pid
        return {} if pid is None else {"fault-proxy": (pid, COMMAND_MATCH)}

    def close(self) -> None:
        self.proxy.close()


@dataclass(frozen=True)
class LinkedSubject:
    """A node's process faults (``process``) and its network faults through the proxy."""

    process: FaultSubject
    links: NetworkLinks
    node: str

    def kill(self) -> str:
        return self.process.kill()

    def stop(self) -> str:
        return self.process.stop()

    def pause(self) -> str:
        return self.process.pause()

    def resume(self) -> str:
        return self.process.resume()

    def restart(self) -> str:
        return self.process.restart()

    def impair_link(self, link: LinkSide, how: LinkImpairment) -> str:
        return self.links.impair(self.node, link, how)

    def heal_link(self, link: LinkSide) -> str:
        return self.links.impair(self.node, link, CLEAN)

    def partition_redis(self) -> str:
        # Cut in user space: the node's Redis connections are reset and new ones refused, so
        # it learns at once (a firewall's silent drop is blackhole-redis).
        return self.impair_link("redis", LinkImpairment("refuse"))

    def heal_partition_redis(self) -> str:
        return self.heal_link("redis")

    def isolate(self) -> str:
        return self.impair_link("clients", LinkImpairment("refuse"))

    def rejoin(self) -> str:
        return self.heal_link("clients")
