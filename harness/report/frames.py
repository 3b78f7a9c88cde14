"""A run's history as a few pandas frames (operations, messages, sessions) and its faults.

Built once per run with vectorised pandas; only the few records whose nested ``value`` is
needed (messages, notify calls, nemesis ops) are visited one by one.
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
NOTIFY = "call:notify"


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
    received: pd.DataFrame  # messages received: t, nonce, seq, session, delay (nonce: notify)
    # notify calls completed: t, started, type, session, nonce, emitted, delivered, lost,
    # before_stream
    notify: pd.DataFrame
    sessions: pd.DataFrame  # from the history: session, start, end, lost
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
    notify = _notify_calls(history, df, received[received["nonce"].notna()])
    return RunFrames(
        zero=zero,
        end=max(last - zero, 0.0) if np.isfinite(last - zero) else 0.0,
        complete=complete,
        records=len(df),
        ops=ops.reset_index(drop=True),
        received=received,
        notify=notify,
        sessions=_sessions(history, df),
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
    """Every message received; notify messages carry their nonce, seq and send time."""
    rows = np.flatnonzero(((df["f"] == "message") & (df["type"] == "ok")).to_numpy()).tolist()
    data = [_notify_data(history[i].get("value")) for i in rows]
    frame = pd.DataFrame(data, columns=["nonce", "seq", "sent_at"])
    frame["t"] = df["t"].to_numpy()[rows]
    frame["session"] = df["session"].to_numpy()[rows]
    sent_at = pd.to_numeric(frame["sent_at"], errors="coerce")
    frame["delay"] = df["time"].to_numpy()[rows] - sent_at
    return frame


def _notify_data(value: Any) -> tuple[Any, Any, Any]:
    try:
        data = value["params"]["data"]
        return data["nonce"], data["seq"], data.get("sent_at")
    except (KeyError, TypeError, IndexError):
        return None, None, None


def _notify_calls(
    history: Sequence[Record], df: pd.DataFrame, received: pd.DataFrame
) -> pd.DataFrame:
    """One row per completed notify call: how many it emitted, delivered (first copies by
    nonce) and lost, and whether it started before its session's stream first opened (the
    server had nowhere to send those messages yet). A call that failed emitted nothing;
    one that ended unknown (info) is credited with what arrived."""
    rows = np.flatnonzero((df["f"] == NOTIFY).to_numpy()).tolist()
    calls = df.iloc[rows][["t", "type", "process", "session"]].reset_index(drop=True)
    values = [history[i].get("value") for i in rows]
    invoked = calls["type"] == "invoke"
    calls["arg_nonce"] = [v.get("nonce") if isinstance(v, dict) else None for v in values]
    calls["arg_nonce"] = calls["arg_nonce"].where(invoked)
    calls["emitted"] = [_emitted(v) for v in values]
    before = calls.groupby("process")[["arg_nonce", "t"]].shift(1)
    calls["nonce"], calls["started"] = before["arg_nonce"], before["t"].fillna(calls["t"])
    done = calls[~invoked].copy()
    unique = received.drop_duplicates(["nonce", "seq"]).groupby("nonce").size()
    done["delivered"] = done["nonce"].map(unique).fillna(0).astype(int)
    emitted = done["emitted"].where(done["type"] == "ok", 0).fillna(0).astype(int)
    done["emitted"] = np.maximum(emitted, done["delivered"])
    done["lost"] = done["emitted"] - done["delivered"]
    opened = df[(df["f"] == "stream_open") & (df["type"] == "ok")].groupby("session")["t"].min()
    first_open = done["session"].map(opened)  # NaN: no stream in the history, so no claim
    done["before_stream"] = done["started"] < first_open
    columns = ["t", "started", "type", "session", "nonce", "emitted", "delivered", "lost"]
    return done[[*columns, "before_stream"]].reset_index(drop=True)


def _emitted(value: Any) -> float:
    if isinstance(value, dict) and isinstance(value.get("emitted"), int | float):
        return float(value["emitted"])
    return float("nan")


def _sessions(history: Sequence[Record], df: pd.DataFrame) -> pd.DataFrame:
    """Sessions as the history shows them: created by initialize or reinit, lost when the
    client had to re-initialize (a 404), else censored at their last record."""
    created = df[df["f"].isin(("initialize", "reinit")) & (df["type"] == "ok")]
    created = created[created["session"].notna()].drop_duplicates("session")
    lost_at = (
        df[(df["f"] == "reinit") & (df["type"] == "invoke") & df["session"].notna()]
        .groupby("session")["t"]
        .min()
    )
    last_seen = df[df["session"].notna()].groupby("session")["t"].max()
    sessions = pd.DataFrame({"session": created["session"], "start": created["t"]})
    sessions["lost"] = sessions["session"].isin(lost_at.index)
    end = sessions["session"].map(lost_at).fillna(sessions["session"].map(last_seen))
    sessions["end"] = np.maximum(end.to_numpy(dtype=float), sessions["start"].to_numpy())
    return sessions.reset_index(drop=True)


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
