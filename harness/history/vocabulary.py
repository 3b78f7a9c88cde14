"""The words of a history that several stages must agree on, defined once (see FORMAT.md).

Writers (the runner, the nemesis, the monitor, the load client) stamp records with these
names; checkers and the report select records by them. A client's ``process`` is anything
else (``w1-u17``, ``w1-u17/stream``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Processes that are not clients.
NEMESIS = "nemesis"  # faults: one op per fault, invoke then ok or fail
HARNESS = "harness"  # the run's own marks: run-start and run-end
MONITOR = "monitor"  # resource samples (harness.monitor)
NOT_CLIENTS: frozenset[str] = frozenset((NEMESIS, HARNESS, MONITOR))

# Record kinds (``f``) written by the harness process.
RUN_START = "run-start"  # value: the run's manifest (harness.run.directory.RunManifest)
RUN_END = "run-end"  # value: {"faults", "locust_exit", "monitor"} as far as known
SAMPLE = "sample"  # a resource sample of one target (process "monitor")

# Operations that are observed rather than invoked: one completion record, no invoke before it.
EVENT_FS: frozenset[str] = frozenset(
    (
        "message",
        "answer",
        "stream_break",
        # 2026-07-28 (FORMAT.md): MRTR rounds, version negotiation, resumed POST answers.
        "input_required",
        "input_response",
        "version",
        "resume",
        "tools_rejected",
    )
)

# The suffix of the process of a user's listening stream: ``w0-u3/stream``.
STREAM_SUFFIX = "/stream"


def is_client(process: str) -> bool:
    """Whether records of ``process`` are a load client's (a user or its stream)."""
    return process not in NOT_CLIENTS


def is_client_op(record: Mapping[str, Any]) -> bool:
    """A client operation (invoke or completion), not an event, a fault or a harness mark."""
    return record["process"] not in NOT_CLIENTS and record["f"] not in EVENT_FS


def is_run_start(record: Mapping[str, Any]) -> bool:
    return bool(record["f"] == RUN_START and record["process"] == HARNESS)


def is_run_end(record: Mapping[str, Any]) -> bool:
    return bool(record["f"] == RUN_END and record["process"] == HARNESS)
