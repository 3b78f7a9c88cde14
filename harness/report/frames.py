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

from harness.chaos.faults import FAULTS, HEALS
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
class FaultSpan:
    """One nemesis op, in seconds since the run started; ``end`` is when a heal undid it."""

    name: str
    target: str | None
    start: float
    applied: float | None  # when its completion was recorded (None: the run ended first)
    outcome: str  # ok, fail, info, or "pending"
    detail: str
    end: float | None = None
    healed_by: str | None = None
    heals: str | None = None  # on a heal op: the fault it undid

    @property
    def is_heal(self) -> bool:
        return self.name in HEALS

    @property
    def lasting(self) -> bool:
        """A fault with a duration (a band on charts), not an instant action."""
        return FAULTS.get(self.name) is not None and FAULTS[self.name].heal is not None

    @property
    def label(self) -> str:
        return f"{self.name}:{self.target}" if self.target else self.name


@dataclass
class RunFrames:
    """Times are seconds since ``zero`` (the run-start record, else the first record)."""

    zero: float
    end: float  # seconds since zero of the run-end record, else of the last record
    complete: bool  # the history has its run-end record (a crashed run's has not)
    records: int
    ops: pd.DataFrame  # completions of client operations: t, type, f, latency, process, ...
    received: pd.DataFrame  # messages received: t, nonce, seq, session (nonce: notify)
    faults: list[FaultSpan]
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


def _faults(history: Sequence[Record], df: pd.DataFrame, zero: float) -> list[FaultSpan]:
    faults: list[FaultSpan] = []
    pending: FaultSpan | None = None
    waiting: dict[tuple[str, str | None], list[FaultSpan]] = {}
    for i in np.flatnonzero((df["process"] == NEMESIS).to_numpy()).tolist():
        record = history[i]
        target = record.get("value")
        target = str(target) if target is not None else None
        t = float(record["time"]) - zero
        if record["type"] == "invoke":
            pending = FaultSpan(record["f"], target, t, None, "pending", "")
            faults.append(pending)
            continue
        span = pending if pending is not None and pending.name == record["f"] else None
        if span is None:  # a completion without its invoke (a history cut at the start)
            span = FaultSpan(record["f"], target, t, None, "pending", "")
            faults.append(span)
        pending = None
        span.applied, span.outcome = t, record["type"]
        span.detail = str(record.get("detail") or record.get("error") or "")
        _pair_heal(span, waiting)
    return faults


def _pair_heal(span: FaultSpan, waiting: dict[tuple[str, str | None], list[FaultSpan]]) -> None:
    if span.outcome != "ok":
        return
    kind = FAULTS.get(span.name)
    if kind is not None and kind.heal is not None:
        waiting.setdefault((kind.heal, span.target), []).append(span)
    opened = waiting.get((span.name, span.target))
    if opened:
        healed = opened.pop(0)
        healed.end, healed.healed_by = span.applied, span.name
        span.heals = healed.label
