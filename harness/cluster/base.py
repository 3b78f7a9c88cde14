"""The Cluster protocol: what every backend (local, external, docker) offers a run.

The runner and the compose nemesis drive any cluster through this protocol only; what is
particular to a backend (processes by PID, containers by label, URLs only) stays behind it.
"""

from __future__ import annotations

from typing import Protocol

from harness.monitor import SampleTarget


class ClusterStartError(RuntimeError):
    """The cluster could not be started or found; the message says why (exit code 3)."""


class Cluster(Protocol):
    @property
    def urls(self) -> list[str]:
        """Each node's MCP endpoint, in ``node_ids`` order."""
        ...

    def node_ids(self) -> list[str]: ...

    def start(self) -> Cluster:
        """Start (or find) the cluster and wait until it serves; raises ClusterStartError."""
        ...

    def close(self) -> None:
        """Stop everything this backend started (nothing it did not)."""
        ...

    def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
        """Apply one fault of harness.chaos.faults; returns what was done (PIDs, ids)."""
        ...

    def processes(self) -> dict[str, tuple[int, str]]:
        """What runs now that this backend owns by PID: name -> (PID, a command-line fragment
        that proves it is ours), for the registry that cleans up after a crashed harness."""
        ...

    def sample_targets(self) -> list[SampleTarget]:
        """What the resource monitor samples of this cluster (nodes, Redis)."""
        ...
