"""What several checkers need from a history: users, nonces, faults and listening spans.

Everything here is fed one record at a time from a checker's own single pass, and keeps only
dicts keyed by session, process or nonce, so that a million records take well under a second.
"""

from __future__ import annotations

import math
import pickle
from array import array
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from harness.chaos.episodes import EpisodeBuilder, FaultOp
from harness.checkers.tables import RecoveryRow
from harness.history import STREAM_SUFFIX, Record

MAX_EXAMPLES = 5
# A stream the client itself ended: what it would still have received is censored, not lost.
CLIENT_CLOSED = "closed by client"
INF = math.inf
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class Interned(dict[Any, Any]):
    """One shared object per distinct value: a soak's records each bring their own copy of
    the same few thousand session ids and process names, which a checker that keeps them
    per message or per call would otherwise hold millions of times."""

    def __call__(self, value: Any) -> Any:
        return self.setdefault(value, value)


class KeptRecords:
    """Records a checker keeps to the end of its pass (examples to be), pickled one after
    another into one buffer, and unpickled only when asked for. A record kept as it is leaves
    its dozen small objects among the pass's freed ones: the heap fragments, and every later
    record is slower to allocate and free (broadcast's 52,000 touch completions, kept whole,
    made its pass over 10M records take 39 s instead of 26 s)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ends = array("q")

    def __len__(self) -> int:
        return len(self._ends)

    def add(self, record: Record) -> int:
        """Keeps a copy of ``record``; its number, to get it back by."""
        self._buffer += pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        self._ends.append(len(self._buffer))
        return len(self._ends) - 1

    def __getitem__(self, number: int) -> Record:
        start = self._ends[number - 1] if number else 0
        return cast(Record, pickle.loads(self._buffer[start : self._ends[number]]))


def user_of(process: str) -> str:
    """The user a process belongs to: ``w0-u3/stream`` -> ``w0-u3``."""
    return process[: -len(STREAM_SUFFIX)] if process.endswith(STREAM_SUFFIX) else process


def nonce_in(message: Any) -> str | None:
    """The nonce a server message carries: ``params.data.nonce`` (notify) or ``params._meta``
    / ``params.metadata`` (sampling, broadcasts)."""
    if not isinstance(message, dict):
        return None
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    for key in ("data", "_meta", "metadata"):
        holder = params.get(key)
        if isinstance(holder, dict):
            nonce = holder.get("nonce")
            if isinstance(nonce, str):
                return nonce
    return None


def text_of(value: Any) -> str | None:
    """A tool result's text: the ``text`` of structured content, or the text itself."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get("text")
        return text if isinstance(text, str) else None
    return None


def add_example(
    examples: list[dict[str, Any]], record: Record | dict[str, Any], why: str, **detail: Any
) -> None:
    """Keeps the first MAX_EXAMPLES offending records, each with why it offends (``why``) and
    what the checker knew about it (``detail``)."""
    if len(examples) < MAX_EXAMPLES:
        example = dict(record)
        example["why"] = why
        if detail:
            example["detail"] = detail
        examples.append(example)


def percentile(values: list[float] | array[float] | FloatArray, q: float) -> float:
    """The q-th percentile (0..100) by nearest rank of unsorted ``values``; nan when empty.
    An array of millions (a soak's message latencies) is sorted by numpy, not as a list of
    float objects; a numpy array is partitioned around the rank in place (reordered, not
    copied: a soak's latencies are tens of MB)."""
    if len(values) == 0:
        return math.nan
    rank = min(max(1, math.ceil(q / 100 * len(values))), len(values))
    if isinstance(values, np.ndarray):
        values.partition(rank - 1)
        return float(values[rank - 1])
    if isinstance(values, array):
        return float(np.sort(np.frombuffer(values, dtype=np.float64))[rank - 1])
    return sorted(values)[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3) if not math.isnan(seconds) else seconds


@dataclass
class Faults:
    """The run's fault episodes (harness.chaos.episodes, the one pairing of faults and heals
    that the report uses too); feed it nemesis records in history order."""

    builder: EpisodeBuilder = field(default_factory=EpisodeBuilder)
    episodes: list[FaultOp] = field(default_factory=list)  # faults, not heals, as invoked

    def feed(self, record: Record) -> None:
        before = len(self.builder.ops)
        self.builder.feed(record)
        self.episodes += [op for op in self.builder.ops[before:] if not op.is_heal]

    @property
    def latest(self) -> int | None:
        """The index of the latest episode started so far (during a pass), if any."""
        return len(self.episodes) - 1 if self.episodes else None

    def active_on(self, node: Any, time: float, names: frozenset[str]) -> bool:
        """Whether a fault named in ``names`` held ``node`` at ``time``."""
        target = None if node is None else str(node)
        return any(e.name in names and e.holds(target, time) for e in self.episodes)

    def active_during(self, node: Any, begin: float, end: float, names: frozenset[str]) -> bool:
        """Whether a fault named in ``names`` held ``node`` at some time in [begin, end]: a
        request in flight when a node was paused or its link black-holed is held too."""
        target = None if node is None else str(node)
        return any(
            e.name in names
            and e.applied
            and e.target == target
            and e.start <= end
            and e.until > begin
            for e in self.episodes
        )


@dataclass
class Span:
    """When a session's listening stream was open, resumes included: from its first open to
    its final end (``end`` is INF if it never ended in the history)."""

    start: float
    end: float
    end_reason: str | None

    def covers(self, begin: float, until: float) -> bool:
        return self.start <= begin and self.end >= until

    def client_closed(self) -> bool:
        return self.end_reason == CLIENT_CLOSED


@dataclass
class Listening:
    """Feeds on ``stream_open`` and ``stream_break`` records; answers :meth:`span`."""

    first_open: dict[str, float] = field(default_factory=dict)
    last_open: dict[str, float] = field(default_factory=dict)
    last_break: dict[str, tuple[float, str | None]] = field(default_factory=dict)

    def feed_open(self, record: Record) -> None:
        session = record.get("session")
        if session and record["type"] == "ok":
            time = record["time"]
            self.first_open.setdefault(session, time)
            self.last_open[session] = time

    def feed_break(self, record: Record) -> None:
        session = record.get("session")
        if session:
            value = record.get("value")
            reason = value.get("reason") if isinstance(value, dict) else None
            self.last_break[session] = (record["time"], reason)

    def span(self, session: str | None) -> Span | None:
        if session is None:
            return None
        start = self.first_open.get(session)
        if start is None:
            return None
        ended = self.last_break.get(session)
        if ended is not None and ended[0] >= self.last_open[session]:
            return Span(start, ended[0], ended[1])
        return Span(start, INF, None)

    def sessions(self) -> list[str]:
        return list(self.first_open)


@dataclass
class Recovery:
    """Per fault episode, the users it affected and how long until each worked again.

    A user is affected by the latest fault started before one of its operations failed (a
    ``fail`` or ``info`` completion, or a stream that broke with an error), unless the failure
    came more than ``window`` seconds after the fault was healed. It has recovered at its
    first ``ok`` operation after that failure (think time between operations included); the
    recovery time is counted from the fault's start. Feed it client completions in order.
    """

    faults: Faults
    window: float = 30.0
    # (episode index, user) -> [session at the first failure, first failure time, ok time]
    affected: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    _waiting: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def failed(self, record: Record) -> None:
        episode = self.faults.latest
        if episode is None or record["time"] > self.faults.episodes[episode].until + self.window:
            return
        key = (episode, user_of(record["process"]))
        if key not in self.affected:
            self.affected[key] = [record.get("session"), record["time"], None]
            self._waiting.setdefault(key[1], []).append(key)

    def succeeded(self, record: Record) -> None:
        waiting = self._waiting.pop(user_of(record["process"]), None)
        if waiting:
            for key in waiting:
                self.affected[key][2] = record["time"]

    def table(self) -> list[RecoveryRow]:
        """One row per (applied fault, affected user): recovered after how many seconds."""
        rows: list[RecoveryRow] = []
        for (index, user), (session, failed_at, ok_at) in self.affected.items():
            episode = self.faults.episodes[index]
            if not episode.applied:
                continue
            after = None if ok_at is None else ok_at - episode.start
            rows.append(RecoveryRow(episode.label, episode.start, user, session, failed_at, after))
        return rows
