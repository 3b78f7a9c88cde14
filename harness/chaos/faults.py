"""The faults the nemesis knows, as plain data, and the backend interface that applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FaultKind:
    name: str
    on_node: bool  # needs a node name (kill-node:n1), else acts on Redis
    heal: str | None  # the fault that undoes it, applied after a fault's duration
    description: str


FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FaultKind("kill-node", True, "restart-node", "SIGKILL a node"),
        FaultKind("stop-node", True, "restart-node", "SIGTERM a node (graceful shutdown)"),
        FaultKind("pause-node", True, "resume-node", "SIGSTOP a node: it holds its sockets"),
        FaultKind("resume-node", True, None, "SIGCONT a paused node"),
        FaultKind("restart-node", True, None, "start a node again on the same port"),
        FaultKind("kill-redis", False, "restart-redis", "SIGKILL Redis"),
        FaultKind("restart-redis", False, None, "start Redis again (same port and data)"),
    )
}


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


class FaultTarget(Protocol):
    """A backend the nemesis can act on. It must only touch what it started itself."""

    def node_ids(self) -> list[str]: ...

    def apply_fault(self, name: str, target: str | None) -> str:
        """Apply one fault; returns a short description of what was done (PIDs, ports)."""
        ...
