"""The tables checkers give beside their counts, as typed rows (the report draws and lists
them; nothing guesses at keys). Times are epoch seconds unless a name says otherwise.

A checker's ``CheckResult.table`` is one of ``Table``, or None when it has nothing beyond
its counts and examples.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SessionRow:
    """One session, for a Kaplan-Meier curve: lost at ``end``, else censored there."""

    session: str
    start: float
    end: float
    lost: bool
    outcome: str  # survived, lost or unknown
    group: str | None  # the node that created it


@dataclass(frozen=True)
class RecoveryRow:
    """One user affected by one applied fault: how long from the fault's start until it had
    an ``ok`` operation again (None: never)."""

    fault: str  # the episode's label, e.g. kill-node:n1
    fault_start: float
    user: str
    session: str | None  # at its first failure
    failed_at: float
    recovered_after: float | None


@dataclass(frozen=True)
class SurvivalTable:
    sessions: list[SessionRow] = field(default_factory=list)
    recovery: list[RecoveryRow] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryTable:
    """Each notify call that completed ``ok``, a column per field (a soak has a million, and
    an object each took 200 MB to pickle across to the report): the time of its completion,
    and how many of its messages it emitted, were delivered and were lost."""

    time: array[float] = field(default_factory=lambda: array("d"))
    emitted: array[int] = field(default_factory=lambda: array("l"))
    delivered: array[int] = field(default_factory=lambda: array("l"))
    lost: array[int] = field(default_factory=lambda: array("l"))

    def add(self, time: float, emitted: int, delivered: int, lost: int) -> None:
        self.time.append(time)
        self.emitted.append(emitted)
        self.delivered.append(delivered)
        self.lost.append(lost)


@dataclass(frozen=True)
class StallRow:
    """The longest stall after one fault, and how many users it affected."""

    fault: str
    start: float
    affected: int
    stall_max: float  # seconds
    stalled: int  # users that never recovered


@dataclass(frozen=True)
class LivenessTable:
    stalls: list[StallRow] = field(default_factory=list)


@dataclass(frozen=True)
class Fit:
    """A Theil-Sen trend of one series, per hour, in the series' raw unit (bytes, fds)."""

    samples: int
    points: int  # after reducing a long series
    start_s: float  # epoch seconds of the first sample fitted
    span_s: float
    slope_per_h: float
    intercept: float  # the fitted value at start_s
    low_per_h: float  # 95 % confidence interval of the slope
    high_per_h: float
    late_slope_per_h: float  # over the second half
    late_low_per_h: float
    first: float
    last: float
    peak: float


@dataclass(frozen=True)
class Trend:
    """One judged series of the leak check: a process's (or Redis's) metric and its fit."""

    target: str
    pid: int | None
    metric: str  # rss, fds, used_memory
    label: str  # what it measures, e.g. "RSS"
    unit: str  # the unit it is shown in, e.g. MiB
    unit_divisor: float  # raw unit per shown unit
    threshold_per_h: float  # raw unit
    fit: Fit
    leaking: bool
    status: str  # leak, levels off, growing, flat
    memory_limit: float | None = None  # memory metrics only
    hours_to_limit: float | None = None  # at the slope; None: not growing
    hours_to_limit_worst: float | None = None  # at the upper bound of the slope


@dataclass(frozen=True)
class LeakSettings:
    thresholds_per_h: dict[str, float]  # metric -> raw unit per hour
    warmup: float | None  # seconds; None: 25 % of each series, at most a minute
    memory_limit: float  # bytes


@dataclass(frozen=True)
class LeakTable:
    trends: list[Trend]
    settings: LeakSettings


@dataclass(frozen=True)
class Percentiles:
    """Latency percentiles of one window, in seconds (None when it has no sample)."""

    n: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class DriftRow:
    f: str
    first: Percentiles
    last: Percentiles
    p99_growth: float | None  # a fraction: 0.5 is +50 %
    p99_delta_s: float
    judged: bool = False
    drifting: bool = False
    # the p99's rise over the judged span by its trend, 95 % lower bound (None: too sparse)
    trend_rise_s: float | None = None


@dataclass(frozen=True)
class DriftSettings:
    p99_growth: float
    min_growth_s: float
    min_samples: int


@dataclass(frozen=True)
class DriftTable:
    rows: list[DriftRow]
    # the first and last window, seconds since the run started; None when nothing succeeded
    windows: tuple[tuple[float, float], tuple[float, float]] | None
    settings: DriftSettings


Table = SurvivalTable | DeliveryTable | LivenessTable | LeakTable | DriftTable
