"""A run's history as a few pandas frames (operations, messages received, resource samples)
and its faults, for the report's time series. Figures the checkers decide (lost sessions,
lost messages) are theirs, not recomputed here.

Built in one pass over the history (a list, or a streamed pass beside the checkers), into
compact columns: a soak of millions of records never holds them all.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.chaos.episodes import FaultOp, episodes_of
from harness.history import EVENT_FS, HARNESS, MONITOR, NEMESIS, RUN_END, RUN_START, SAMPLE, Record

COLUMNS = ["time", "type", "process", "f", "latency", "session", "node"]
SAMPLE_COLUMNS = [
    "t",
    "target",
    "kind",
    "pid",
    "rss",
    "cpu",
    "fds",
    "threads",
    "open_streams",
    "sessions",
    "used_memory",
    "keys",
    "clients",
    "pubsub_channels",
]


@dataclass
class RunFrames:
    """Times are seconds since ``zero`` (the run-start record, else the first record)."""

    zero: float
    end: float  # seconds since zero of the run-end record, else of the last record
    complete: bool  # the history has its run-end record (a crashed run's has not)
    records: int
    ops: pd.DataFrame  # completions of client operations: t, type, f, latency, process, ...
    # messages received: t; notify, whether it is a notify's message (it has a nonce and a
    # seq); repeat, whether a copy of the same (nonce, seq) arrived before it: all the report
    # asks of them. Repeats are found by a 64-bit hash of (nonce, seq): the strings of a
    # soak's million notifies would hold some 170 MB; two messages share a hash with a chance
    # of n**2 / 2**65 (1 in a million at 6 million), which at worst draws one repeat too many.
    received: pd.DataFrame
    faults: list[FaultOp]  # times in seconds since zero
    # resource samples (harness.monitor): SAMPLE_COLUMNS, one row per target and interval
    samples: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SAMPLE_COLUMNS))
    monitor: dict[str, Any] = field(default_factory=dict)  # the sampler's own cost (run-end)

    @property
    def span(self) -> float:
        return max(self.end, 1e-9)


def frames_of(history: Iterable[Record]) -> RunFrames:
    """The frames, in one pass over ``history`` (a list or a streamed pass), holding compact
    columns (numbers, and codes of the few distinct strings), never the records."""
    columns = _Columns()
    count = 0
    run_start = run_end = math.nan
    first, last = math.inf, -math.inf
    end_value: Any = None
    complete = False
    nemesis: list[Record] = []
    for record in history:
        count += 1
        time, process, f = record["time"], record["process"], record["f"]
        first = time if time < first else first
        last = time if time > last else last
        if f == "message":
            if record["type"] == "ok":
                columns.message(record)
            continue
        if process == HARNESS:
            if f == RUN_START and math.isnan(run_start):
                run_start = time
            elif f == RUN_END and not complete:
                complete, run_end, end_value = True, time, record.get("value")
            continue
        if process == NEMESIS:
            nemesis.append(record)
        elif process == MONITOR:
            if f == SAMPLE:
                columns.sample(record)
        elif f not in EVENT_FS and record["type"] != "invoke":
            columns.op(record)
    zero = _finite(run_start if not math.isnan(run_start) else first)
    end = _finite(run_end if complete else last) - zero
    return RunFrames(
        zero=zero,
        end=max(end, 0.0) if np.isfinite(end) else 0.0,
        complete=complete,
        records=count,
        ops=columns.ops(zero),
        received=columns.received(zero),
        faults=[op.shifted(zero) for op in episodes_of(nemesis)],
        samples=columns.samples(zero),
        monitor=_monitor_stats(end_value),
    )


class _Columns:
    """The frames' rows as compact columns: floats in arrays, strings as codes into a
    table of the distinct values."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}
        self.values: list[Any] = []
        self.op_t, self.op_latency = array("d"), array("d")
        self.op_type, self.op_f, self.op_process = array("i"), array("i"), array("i")
        self.msg_t, self.msg_key, self.msg_notify = array("d"), array("q"), array("b")
        self.sample_t = array("d")
        self.sample_rows: list[tuple[Any, ...]] = []

    def code(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def op(self, record: Record) -> None:
        code = self.code
        self.op_t.append(record["time"])
        latency = record.get("latency")
        self.op_latency.append(latency if isinstance(latency, int | float) else math.nan)
        self.op_type.append(code(record["type"]))
        self.op_f.append(code(record["f"]))
        self.op_process.append(code(record["process"]))

    def message(self, record: Record) -> None:
        try:  # inline, not a call: most of a soak's records are messages
            data = record["value"]["params"]["data"]
            nonce, seq = data["nonce"], data["seq"]
        except (KeyError, TypeError, IndexError):
            nonce = seq = None
        self.msg_t.append(record["time"])
        notify = type(nonce) is str
        self.msg_notify.append(notify)
        self.msg_key.append(hash((nonce, seq if isinstance(seq, int | float) else None)))

    def sample(self, record: Record) -> None:
        value = record.get("value")
        if isinstance(value, dict):
            self.sample_t.append(record["time"])
            self.sample_rows.append(tuple(value.get(c, math.nan) for c in SAMPLE_COLUMNS[1:]))

    def decode(self, codes: array[int]) -> np.ndarray[Any, np.dtype[np.object_]]:
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        return table[np.frombuffer(codes, dtype=np.intc)] if len(codes) else table[:0]

    # The frames take their columns as they are (copy=False): a soak's are hundreds of MB,
    # which pandas would otherwise copy into one block while these still exist.
    def ops(self, zero: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "t": _shifted(self.op_t, zero),
                "type": self.decode(self.op_type),
                "f": self.decode(self.op_f),
                "latency": np.frombuffer(self.op_latency, dtype=float),
                "process": self.decode(self.op_process),
            },
            copy=False,
        )

    def received(self, zero: float) -> pd.DataFrame:
        notify = np.frombuffer(self.msg_notify, dtype=np.int8).astype(bool)
        return pd.DataFrame(
            {
                "t": _shifted(self.msg_t, zero),
                "notify": notify,
                "repeat": _repeats(np.frombuffer(self.msg_key, dtype=np.int64)) & notify,
            },
            copy=False,
        )

    def samples(self, zero: float) -> pd.DataFrame:
        """The monitor's resource samples, flattened (missing figures are NaN)."""
        frame = pd.DataFrame.from_records(self.sample_rows, columns=SAMPLE_COLUMNS[1:])
        frame.insert(0, "t", np.frombuffer(self.sample_t, dtype=float) - zero)
        for column in SAMPLE_COLUMNS[3:]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        frame["target"] = frame["target"].astype(str)
        return frame


def _shifted(times: array[float], zero: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """``times`` less ``zero``, in place: a soak's columns are tens of MB, and a copy of
    each at the end of the pass made its peak."""
    shifted = np.frombuffer(times, dtype=np.float64)
    shifted -= zero
    return shifted


def _repeats(keys: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether the same key came earlier, for each key: a stable sort puts equal keys
    together in their order, so every one but the first of a run is a repeat. Sorts
    ``keys`` in place (a copy sorted would be tens of MB more, at the pass's peak)."""
    order = np.argsort(keys, kind="stable")
    keys.sort()
    repeat = np.zeros(len(keys), dtype=bool)
    repeat[order[1:]] = keys[1:] == keys[:-1]
    return repeat


def _monitor_stats(value: Any) -> dict[str, Any]:
    """The sampler's own cost, from the run-end record's value."""
    stats = value.get("monitor") if isinstance(value, dict) else None
    return stats if isinstance(stats, dict) else {}


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0
