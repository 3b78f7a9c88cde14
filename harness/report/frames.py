"""A run's history as a few pandas frames (operations, messages received, resource samples)
and its faults, for the report's time series. Figures the checkers decide (lost sessions,
lost messages) are theirs, not recomputed here.

Built once per run with vectorised pandas; only the few records whose nested ``value`` is
needed (messages, samples, nemesis ops) are visited one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    received: pd.DataFrame  # messages received: t, nonce, seq, session (nonce: notify)
    faults: list[FaultOp]  # times in seconds since zero
    # resource samples (harness.monitor): SAMPLE_COLUMNS, one row per target and interval
    samples: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SAMPLE_COLUMNS))
    monitor: dict[str, Any] = field(default_factory=dict)  # the sampler's own cost (run-end)

    @property
    def span(self) -> float:
        return max(self.end, 1e-9)


def frames_of(history: Sequence[Record]) -> RunFrames:
    df = pd.DataFrame.from_records(list(history), columns=COLUMNS)
    df["time"] = pd.to_numeric(df["time"], errors="coerce")
    df["latency"] = pd.to_numeric(df["latency"], errors="coerce")
    harness = df["process"] == HARNESS
    zero = _first(df.loc[harness & (df["f"] == RUN_START), "time"], df["time"].min())
    last = _first(df.loc[harness & (df["f"] == RUN_END), "time"], df["time"].max())
    complete = bool((harness & (df["f"] == RUN_END)).any())
    df["t"] = df["time"] - zero
    is_op = ~harness & ~df["process"].isin((NEMESIS, MONITOR)) & ~df["f"].isin(EVENT_FS)
    ops = df.loc[is_op & (df["type"] != "invoke"), ["t", "type", "f", "latency", "process"]]
    received = _received(history, df)
    return RunFrames(
        zero=zero,
        end=max(last - zero, 0.0) if np.isfinite(last - zero) else 0.0,
        complete=complete,
        records=len(df),
        ops=ops.reset_index(drop=True),
        received=received,
        faults=_faults(history, df, zero),
        samples=_samples(history, df),
        monitor=_monitor_stats(history, df),
    )


def _samples(history: Sequence[Record], df: pd.DataFrame) -> pd.DataFrame:
    """The monitor's resource samples, flattened (missing figures are NaN)."""
    rows = np.flatnonzero(((df["f"] == SAMPLE) & (df["process"] == MONITOR)).to_numpy())
    values = [history[i].get("value") for i in rows.tolist()]
    keep = [i for i, value in enumerate(values) if isinstance(value, dict)]
    frame = pd.DataFrame.from_records(
        [values[i] for i in keep], columns=[c for c in SAMPLE_COLUMNS if c != "t"]
    )
    frame.insert(0, "t", df["t"].to_numpy()[rows[keep]] if keep else np.array([], dtype=float))
    for column in SAMPLE_COLUMNS[3:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["target"] = frame["target"].astype(str)
    return frame


def _monitor_stats(history: Sequence[Record], df: pd.DataFrame) -> dict[str, Any]:
    ends = np.flatnonzero(((df["process"] == HARNESS) & (df["f"] == RUN_END)).to_numpy())
    if not len(ends):
        return {}
    value = history[int(ends[0])].get("value")
    stats = value.get("monitor") if isinstance(value, dict) else None
    return stats if isinstance(stats, dict) else {}


def _first(values: pd.Series, default: float) -> float:
    value = float(values.iloc[0]) if len(values) else float(default)
    return value if np.isfinite(value) else 0.0


def _received(history: Sequence[Record], df: pd.DataFrame) -> pd.DataFrame:
    """Every message received; notify messages carry their nonce and seq."""
    rows = np.flatnonzero(((df["f"] == "message") & (df["type"] == "ok")).to_numpy()).tolist()
    data = [_notify_data(history[i].get("value")) for i in rows]
    frame = pd.DataFrame(data, columns=["nonce", "seq"])
    frame["t"] = df["t"].to_numpy()[rows]
    frame["session"] = df["session"].to_numpy()[rows]
    return frame


def _notify_data(value: Any) -> tuple[Any, Any]:
    try:
        data = value["params"]["data"]
        return data["nonce"], data["seq"]
    except (KeyError, TypeError, IndexError):
        return None, None


def _faults(history: Sequence[Record], df: pd.DataFrame, zero: float) -> list[FaultOp]:
    """The nemesis's ops as harness.chaos.episodes pairs them, in seconds since ``zero``."""
    rows = np.flatnonzero((df["process"] == NEMESIS).to_numpy()).tolist()
    return [op.shifted(zero) for op in episodes_of(history[i] for i in rows)]
