"""How long each session a fault touched was out, and how long its listening stream was down.

A pure function of a history (``measure``), meant as the one definition of recovery time for
the survival checker, the report and ``bench/failover.py``.

A user (``w0-u3`` and its ``w0-u3/stream``) has two lanes that can be out:

- requests: out from an operation that ends ``fail`` or ``info`` (a failed ``answer`` too)
  until the next operation that ends ``ok``;
- the listening stream: out from a ``stream_break`` (any reason but ``closed by client``), or
  a ``stream_open`` that failed, until the next ``stream_open`` that ends ``ok``.

An outage starts at the first failure (an operation counts from its invoke, but never from
before the fault started) and ends when every lane that went out has come back. It belongs
to the latest fault started before it began, unless it began more than ``window`` seconds
after that fault was healed; failures with no such fault are only counted. Its length counts
only the time the session was trying and not getting through: the union of its requests from
the first failed one to the first ok one, and of its stream's gaps (the client's reconnect
delays are part of a gap); the users' think time between requests is not. ``wall`` is the
same outage on the wall clock. A stream gap is ``resumed`` when the stream was reopened with
Last-Event-ID (a fresh stream after a new session is not).

One ``Outage`` per user and fault (several outages of a user in one fault are added up);
one ``StreamGap`` per break. Those never recovered when the history ends have ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.checkers._common import CLIENT_CLOSED, Faults, percentile, user_of
from harness.history import EVENT_FS, NEMESIS, NOT_CLIENTS, Record

WINDOW = 30.0  # seconds after a fault's heal in which a failure is still its doing


@dataclass(frozen=True)
class StreamGap:
    """One break of a user's listening stream, to the stream open again."""

    user: str
    session: str | None  # the session whose stream broke
    fault: str
    fault_start: float
    broke: float  # epoch seconds
    reopened: float | None  # None: not open again when the history ends
    resumed: bool  # reopened with Last-Event-ID

    @property
    def seconds(self) -> float | None:
        return None if self.reopened is None else self.reopened - self.broke


@dataclass(frozen=True)
class Outage:
    """What one fault did to one user's session."""

    user: str
    session: str | None  # the session at the first failure
    fault: str
    fault_start: float
    started: float  # the first failure (an operation's invoke, not before the fault)
    recovered: float | None  # when every lane was back; None: never
    seconds: float | None  # time out and trying (think time excluded); None: never back
    wall: float | None  # ``recovered - started``
    failures: int  # failed operations and stream breaks it counted
    stream_gap: float | None  # its longest stream gap that closed; None if none did


@dataclass(frozen=True)
class Spread:
    """Nearest-rank percentiles of some durations, in seconds (nan when there are none)."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        got = list(values)
        top = max(got, default=math.nan)
        return cls(len(got), percentile(got, 50), percentile(got, 99), top)


@dataclass(frozen=True)
class RecoveryReport:
    outages: list[Outage]
    gaps: list[StreamGap]
    unattributed: int  # failures that no fault explains

    @property
    def outage(self) -> Spread:
        """Over the outages that ended."""
        return Spread.of(o.seconds for o in self.outages if o.seconds is not None)

    @property
    def stream_gap(self) -> Spread:
        """Over the stream gaps that closed."""
        return Spread.of(g.seconds for g in self.gaps if g.seconds is not None)

    @property
    def unrecovered(self) -> int:
        return sum(1 for o in self.outages if o.seconds is None)

    @property
    def unresumed(self) -> int:
        """Stream gaps closed by a fresh stream (no Last-Event-ID) or not closed at all."""
        return sum(1 for g in self.gaps if not g.resumed)


def measure(history: Iterable[Record], window: float = WINDOW) -> RecoveryReport:
    """Outages and stream gaps caused by the faults of ``history`` (ordered by time)."""
    meter = OutageMeter()
    for record in history:
        meter.feed(record)
    return meter.report()


@dataclass
class _Incident:
    """One outage of one user while it lasts."""

    episode: int
    session: str | None
    spans: list[tuple[float, float]] = field(default_factory=list)
    requests_out: bool = False
    stream_out: float | None = None  # when the stream broke
    stream_session: str | None = None  # the session whose stream broke
    failures: int = 0
    gap: float | None = None  # longest closed stream gap

    @property
    def over(self) -> bool:
        return not self.requests_out and self.stream_out is None


@dataclass
class _Total:
    """One user's outages in one fault, added up."""

    started: float
    session: str | None
    seconds: float = 0.0
    recovered: float | None = None  # None: the last of them never ended
    failures: int = 0
    gap: float | None = None


@dataclass
class OutageMeter:
    """``measure`` one record at a time, for a checker's own single pass: feed it every
    record of the history in order, then ask for its ``report``."""

    faults: Faults = field(default_factory=Faults)
    window: float = WINDOW
    invoked: dict[str, float] = field(default_factory=dict)  # process -> invoke time
    incidents: dict[str, _Incident] = field(default_factory=dict)  # by user
    totals: dict[tuple[int, str], _Total] = field(default_factory=dict)  # (episode, user)
    gaps: list[tuple[int, StreamGap]] = field(default_factory=list)  # (episode, gap)
    unattributed: int = 0

    def feed(self, record: Record) -> None:
        process = record["process"]
        if process in NOT_CLIENTS:
            if process == NEMESIS:
                self.faults.feed(record)
            return
        f, kind = record["f"], record["type"]
        if kind == "invoke":
            self.invoked[process] = record["time"]
            return
        begun = self.invoked.pop(process, None) if f not in EVENT_FS else None
        if f == "message" or record.get("interrupted"):
            return
        if begun is None:  # an event: it began ``latency`` before it was recorded
            begun = record["time"] - float(record.get("latency") or 0.0)
        user = user_of(process)
        if f == "stream_open":
            self._stream_opened(record, user, begun)
        elif f == "stream_break":
            if _reason(record) != CLIENT_CLOSED:
                self._stream_down(record, user, record["time"])
        elif kind == "ok":
            self._request_ok(record, user, begun)
        else:
            self._request_failed(record, user, begun)

    # ---- the request lane ----------------------------------------------------------------

    def _request_failed(self, record: Record, user: str, begun: float) -> None:
        incident = self._incident(record, user)
        if incident is not None:
            incident.failures += 1
            incident.requests_out = True
            self._span(incident, begun, record["time"])

    def _request_ok(self, record: Record, user: str, begun: float) -> None:
        incident = self.incidents.get(user)
        if incident is not None and incident.requests_out:
            incident.requests_out = False
            self._span(incident, begun, record["time"])
            self._maybe_over(user, incident, record["time"])

    # ---- the stream lane -----------------------------------------------------------------

    def _stream_opened(self, record: Record, user: str, begun: float) -> None:
        if record["type"] != "ok":
            self._stream_down(record, user, begun)
            return
        incident = self.incidents.get(user)
        if incident is None or incident.stream_out is None:
            return
        broke, time = incident.stream_out, record["time"]
        value = record.get("value")
        resumed = isinstance(value, dict) and bool(value.get("last_event_id"))
        self._gap(incident, user, time, resumed)
        incident.stream_out = None
        self._span(incident, broke, time)
        incident.gap = max(incident.gap or 0.0, time - broke)
        self._maybe_over(user, incident, time)

    def _stream_down(self, record: Record, user: str, since: float) -> None:
        incident = self.incidents.get(user)
        if incident is not None and incident.stream_out is not None:
            return  # already down: a failed reconnect
        incident = self._incident(record, user)
        if incident is not None:
            incident.failures += 1
            incident.stream_out = max(since, self.faults.episodes[incident.episode].start)
            incident.stream_session = record.get("session")

    def _gap(self, incident: _Incident, user: str, reopened: float | None, resumed: bool) -> None:
        assert incident.stream_out is not None
        episode = self.faults.episodes[incident.episode]
        gap = StreamGap(
            user,
            incident.stream_session,
            episode.label,
            episode.start,
            incident.stream_out,
            reopened,
            resumed,
        )
        self.gaps.append((incident.episode, gap))

    # ---- incidents -----------------------------------------------------------------------

    def _incident(self, record: Record, user: str) -> _Incident | None:
        """The user's outage in progress, or a new one if a fault explains this failure."""
        incident = self.incidents.get(user)
        if incident is not None:
            return incident
        episode = self.faults.latest
        if episode is None or record["time"] > self.faults.episodes[episode].until + self.window:
            self.unattributed += 1
            return None
        incident = self.incidents[user] = _Incident(episode, record.get("session"))
        return incident

    def _span(self, incident: _Incident, begun: float, until: float) -> None:
        start = max(begun, self.faults.episodes[incident.episode].start)
        incident.spans.append((start, max(start, until)))

    def _maybe_over(self, user: str, incident: _Incident, time: float) -> None:
        if incident.over:
            del self.incidents[user]
            self._add(user, incident, time)

    def _add(self, user: str, incident: _Incident, recovered: float | None) -> None:
        started, seconds = _union(incident.spans)
        if incident.stream_out is not None:
            started = min(started, incident.stream_out)
        key = (incident.episode, user)
        total = self.totals.get(key)
        if total is None:
            total = self.totals[key] = _Total(started, incident.session)
        total.started = min(total.started, started)
        total.seconds += seconds
        total.failures += incident.failures
        total.recovered = recovered
        if incident.gap is not None:
            total.gap = max(total.gap or 0.0, incident.gap)

    def report(self) -> RecoveryReport:
        """Ends the pass: what is still out when the history ends never recovered."""
        for user, incident in self.incidents.items():
            if incident.stream_out is not None:
                self._gap(incident, user, None, False)
            self._add(user, incident, None)
        self.incidents.clear()
        applied = [episode.applied for episode in self.faults.episodes]
        outages = [self._outage(key, t) for key, t in self.totals.items() if applied[key[0]]]
        gaps = [gap for index, gap in self.gaps if applied[index]]
        return RecoveryReport(outages, gaps, self.unattributed)

    def _outage(self, key: tuple[int, str], total: _Total) -> Outage:
        episode = self.faults.episodes[key[0]]
        recovered = total.recovered
        return Outage(
            user=key[1],
            session=total.session,
            fault=episode.label,
            fault_start=episode.start,
            started=total.started,
            recovered=recovered,
            seconds=None if recovered is None else total.seconds,
            wall=None if recovered is None else recovered - total.started,
            failures=total.failures,
            stream_gap=total.gap,
        )


def _reason(record: Record) -> Any:
    value = record.get("value")
    return value.get("reason") if isinstance(value, dict) else None


def _union(spans: list[tuple[float, float]]) -> tuple[float, float]:
    """(the earliest start, the total length covered) of some time spans."""
    if not spans:
        return math.inf, 0.0
    ordered = sorted(spans)
    first, end = ordered[0]
    start, covered = first, 0.0
    for begin, until in ordered[1:]:
        if begin > end:
            covered += end - start
            start, end = begin, until
        elif until > end:
            end = until
    return first, covered + end - start


def as_rows(report: RecoveryReport) -> list[dict[str, Any]]:
    """The outages as plain dicts (for JSON and tables)."""
    return [asdict(outage) for outage in report.outages]
