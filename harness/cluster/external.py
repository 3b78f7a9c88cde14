"""The external backend: MCP endpoints that something else runs. Nothing here starts, stops or
signals a process; faults are refused before a run starts (see run/profile.py)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from harness.cluster.base import ClusterStartError
from harness.monitor import SampleTarget


class TargetUnreachable(ClusterStartError):
    """An external endpoint did not answer at all before the run."""


@dataclass
class ExternalTarget:
    urls: list[str]

    def start(self) -> ExternalTarget:
        for url in self.urls:
            try:
                # Any HTTP answer (even 405 or 406) proves a server is listening there.
                httpx.get(url, timeout=5.0, headers={"accept": "text/event-stream"})
            except httpx.HTTPError as exc:
                raise TargetUnreachable(f"target {url} did not answer: {exc}") from exc
        return self

    def close(self) -> None:
        return None

    def node_ids(self) -> list[str]:
        return [f"t{i}" for i in range(1, len(self.urls) + 1)]

    def apply_fault(self, name: str, target: str | None, param: str | None = None) -> str:
        raise ValueError(f"{name}: an external target's processes are not ours to touch")

    def processes(self) -> dict[str, tuple[int, str]]:
        return {}

    def sample_targets(self) -> list[SampleTarget]:
        """Nothing: an external target's processes are not ours to read either."""
        return []
