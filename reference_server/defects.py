"""The ``--defect`` switches: each makes the server wrong in one known way.

They exist so that every harness checker is proven to catch the failure it names. A typed
set: code asks ``Defect.LEAK in config.defects``, so a misspelt defect is an error (mypy's,
or ``Defect(name)``'s at start), never a switch that silently does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Defect(StrEnum):
    LOCAL_BROADCAST = "local-broadcast"
    REUSE_REQUEST_IDS = "reuse-request-ids"
    DROP_ON_RESUME = "drop-on-resume"
    HANG_ON_REDIS_DOWN = "hang-on-redis-down"
    LEAK = "leak"
    CROSS_SESSION = "cross-session"
    FORGET_LOG_LEVEL = "forget-log-level"
    NODE_LOCAL_STATE_KEY = "node-local-state-key"
    REPLAYABLE_STATE = "replayable-state"
    LOCAL_LISTEN = "local-listen"


DESCRIPTIONS: dict[Defect, str] = {
    Defect.LOCAL_BROADCAST: "broadcast and resource updates reach only the sending node's sessions",
    Defect.REUSE_REQUEST_IDS: "each node numbers its server->client requests from 1",
    Defect.DROP_ON_RESUME: "Last-Event-ID is ignored: nothing is replayed on resume",
    Defect.HANG_ON_REDIS_DOWN: "Redis calls have no timeout and are retried forever",
    Defect.LEAK: "a few KB are kept forever for every request",
    Defect.CROSS_SESSION: "about 1 in 1,000 notifications goes to another session",
    Defect.FORGET_LOG_LEVEL: "logging/setLevel is kept in the node's memory, not the SessionStore",
    Defect.NODE_LOCAL_STATE_KEY: "each node seals requestState with its own random key, so a "
    "retry on another node is refused",
    Defect.REPLAYABLE_STATE: "a requestState is accepted any number of times (not single-use)",
    Defect.LOCAL_LISTEN: "listen notifications (2026-07-28) reach only the emitting node's streams",
}
NAMES: tuple[str, ...] = tuple(defect.value for defect in Defect)


def parse_defects(names: Iterable[str]) -> frozenset[Defect]:
    """The defects named, or ValueError naming the unknown one and the known ones."""
    found = set()
    for name in names:
        try:
            found.add(Defect(name))
        except ValueError:
            raise ValueError(f"unknown defect {name!r}; defects: {', '.join(NAMES)}") from None
    return frozenset(found)
