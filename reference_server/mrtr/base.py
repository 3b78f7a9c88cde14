"""The RequestStateStore interface: the cluster's memory of which requestStates were used."""

from __future__ import annotations

from typing import Protocol


class RequestStateStore(Protocol):
    """Makes each requestState single-use: the reference server's own guarantee, stricter than
    the spec's SHOULD (mrtr.mdx asks single use only of one-time operations).

    Implementations raise ``StoreUnavailable`` when their backend does not answer in bounded
    time; a retry then fails with 503 rather than being accepted twice.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def consume(self, state_id: str, expires_at: float) -> bool:
        """True the first time ``state_id`` is presented anywhere in the cluster, False on a
        replay. What is remembered is forgotten at ``expires_at`` (the state is refused as
        expired from then on)."""
        ...
