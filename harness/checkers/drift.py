"""drift: latency that creeps up over a long run (a soak), first window against the last.

After a warm-up (10 % of the run, at most a minute, and the load shape's ramp), the successful
client operations of the first and the last window are compared per operation: the first and
the last hour when the run lasts at least three hours, else its first and last third. An
operation drifts when its p99 grew by more than ``p99_growth`` (a fraction: 0.5 is +50 %)
and by at least ``min_growth`` seconds (so that 2 ms -> 4 ms is not a failure), and the p99's
trend over ten slices of the run rose that much too (the 95 % lower bound of its Theil-Sen
slope): a machine busy for the last minutes moves the last window, not the trend. What comes
after the planned end (users stopping, deleting their sessions) is left out. Operations
with fewer than MIN_SAMPLES successes in either window are shown but not judged.

Settings come from the keyword arguments (harness.analysis passes the run's ``drift_p99`` and
``drift_min``), else the defaults below.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace

import numpy as np
from scipy.stats import theilslopes

from harness.checkers._common import Interned
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import DriftRow, DriftSettings, DriftTable, Percentiles
from harness.history import EVENT_FS, NOT_CLIENTS, Record, is_run_start
from harness.history.fanout import Reads

NAME = "drift"
COUNTS = ("operations", "judged", "drifting", "p99_growth_max", "p99_delta_max_ms")
DEFAULT_P99_GROWTH = 0.5
DEFAULT_MIN_GROWTH = 0.020  # seconds
MIN_SAMPLES = 100
HOUR = 3600.0
LONG_RUN = 3 * HOUR  # from here on: first hour against last hour; below, thirds
MAX_WARMUP = 60.0
WARMUP_FRACTION = 0.1
TREND_BUCKETS = 10  # slices of the judged span whose p99s must show a rising trend


def reads(ctx: CheckContext) -> Reads | None:
    """Client operations, not events (harness.history.fanout.Selective)."""
    return _operation


def _operation(f: str, kind: str) -> bool:
    return f not in EVENT_FS


def check(
    history: Iterable[Record],
    ctx: CheckContext,
    p99_growth: float | None = None,
    min_growth: float | None = None,
) -> CheckResult:
    p99_growth = DEFAULT_P99_GROWTH if p99_growth is None else p99_growth
    min_growth = DEFAULT_MIN_GROWTH if min_growth is None else min_growth
    zero, done = _scan(history)
    counts = dict.fromkeys(COUNTS, 0.0)
    settings = DriftSettings(p99_growth, min_growth, MIN_SAMPLES)
    if not done:
        table = DriftTable([], None, settings)
        return CheckResult(NAME, "unknown", "no successful operation", counts, table=table)
    zero = zero if zero is not None else min(done.times)
    end = max(done.times)
    if ctx.duration > 0:
        # Past the planned end the users are stopping (and deleting their sessions).
        end = min(end, zero + ctx.duration)
    windows = drift_windows(zero, end, ctx.ramp)
    rows = []
    for f, first, last in _by_window(done, windows):
        row = compare(f, first, last)
        judged = row.first.n >= MIN_SAMPLES and row.last.n >= MIN_SAMPLES
        if judged:
            row = replace(row, trend_rise_s=p99_rise(done, f, windows[0][0], end))
        drifting = bool(
            judged
            and row.p99_growth is not None
            and row.p99_growth > p99_growth
            and row.p99_delta_s >= min_growth
            # A drift grows steadily: the rise of the p99's trend alone must be as large (a
            # burst of noise at the end moves the last window, not the trend).
            and (row.trend_rise_s is None or _beyond(row.trend_rise_s, row, p99_growth, min_growth))
        )
        rows.append(replace(row, judged=judged, drifting=drifting))
    judged_rows = [row for row in rows if row.judged]
    growths = [row.p99_growth for row in judged_rows if row.p99_growth is not None]
    counts["operations"] = float(len(rows))
    counts["judged"] = float(len(judged_rows))
    counts["drifting"] = float(sum(row.drifting for row in judged_rows))
    counts["p99_growth_max"] = max(growths, default=0.0)
    counts["p99_delta_max_ms"] = max((row.p99_delta_s * 1000 for row in judged_rows), default=0.0)
    rows.sort(key=lambda row: (not row.judged, -row.first.n - row.last.n))
    (a0, a1), (b0, b1) = windows
    since = ((round(a0 - zero, 3), round(a1 - zero, 3)), (round(b0 - zero, 3), round(b1 - zero, 3)))
    table = DriftTable(rows, since, settings)
    return _verdict(counts, table, p99_growth, min_growth)


def drift_windows(
    zero: float, end: float, ramp: float = 0.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The first and the last window (epoch seconds) of a run from ``zero`` to ``end``, after
    a warm-up (10 %, at most a minute) and the load's ``ramp``."""
    span = max(0.0, end - zero)
    start = zero + min(max(min(MAX_WARMUP, span * WARMUP_FRACTION), ramp), span / 2)
    length = end - start
    if length >= LONG_RUN:
        return (start, start + HOUR), (end - HOUR, end)
    third = length / 3
    return (start, start + third), (end - third, end)


def _beyond(rise: float, row: DriftRow, p99_growth: float, min_growth: float) -> bool:
    first = row.first.p99 or 0.0
    return rise >= min_growth and (first <= 0 or rise / first > p99_growth)


def p99_rise(
    done: Iterable[tuple[float, str, float]], f: str, start: float, end: float
) -> float | None:
    """How much ``f``'s p99 rose over ``start``..``end`` by its trend, at the least: the 95 %
    lower bound of the Theil-Sen slope of the p99s of TREND_BUCKETS equal slices, times the
    span (seconds); None when too few slices have samples."""
    width = (end - start) / TREND_BUCKETS
    if width <= 0:
        return None
    slices: list[list[float]] = [[] for _ in range(TREND_BUCKETS)]
    for t, name, latency in done:
        if name == f and start <= t < end:
            slices[min(TREND_BUCKETS - 1, int((t - start) / width))].append(latency)
    points = [
        ((i + 0.5) * width / HOUR, float(np.percentile(values, 99)))
        for i, values in enumerate(slices)
        if len(values) >= MIN_SAMPLES // 10
    ]
    if len(points) < TREND_BUCKETS // 2:
        return None
    hours, p99s = zip(*points, strict=True)
    return float(theilslopes(p99s, hours, 0.95)[2]) * (end - start) / HOUR


def compare(f: str, first: list[float], last: list[float]) -> DriftRow:
    a, b = _percentiles(first), _percentiles(last)
    growth = delta = None
    if a.p99 is not None and b.p99 is not None:
        delta = b.p99 - a.p99
        growth = delta / a.p99 if a.p99 > 0 else None
    return DriftRow(f, a, b, growth, delta if delta is not None else 0.0)


def _percentiles(latencies: list[float]) -> Percentiles:
    if not latencies:
        return Percentiles(0)
    p50, p90, p99 = np.percentile(np.array(latencies, dtype=float), [50, 90, 99])
    return Percentiles(len(latencies), float(p50), float(p90), float(p99))


class _Done:
    """(time, f, latency) of successful operations, as columns: a soak has millions."""

    def __init__(self) -> None:
        self.times, self.latencies = array("d"), array("d")
        self.fs: list[str] = []  # one shared str per distinct f (interned)
        self._f = Interned()

    def append(self, row: tuple[float, str, float]) -> None:
        self.times.append(row[0])
        self.fs.append(self._f(row[1]))
        self.latencies.append(row[2])

    def __len__(self) -> int:
        return len(self.fs)

    def __iter__(self) -> Iterator[tuple[float, str, float]]:
        return zip(self.times, self.fs, self.latencies, strict=True)


def _scan(history: Iterable[Record]) -> tuple[float | None, _Done]:
    """In one pass: the run-start record's time (None without one), and (time, f, latency)
    of every successful client operation."""
    start: float | None = None
    found = _Done()
    for record in history:
        if record["type"] != "ok" or record["process"] in NOT_CLIENTS:
            if start is None and is_run_start(record):
                start = float(record["time"])
            continue
        f = record["f"]
        latency = record.get("latency")
        if f in EVENT_FS or latency is None or record.get("interrupted"):
            continue
        found.append((float(record["time"]), str(f), float(latency)))
    return start, found


def _by_window(
    done: Iterable[tuple[float, str, float]],
    windows: tuple[tuple[float, float], tuple[float, float]],
) -> list[tuple[str, list[float], list[float]]]:
    (a0, a1), (b0, b1) = windows
    ops: dict[str, tuple[list[float], list[float]]] = {}
    for t, f, latency in done:
        first, last = ops.setdefault(f, ([], []))
        if a0 <= t < a1:
            first.append(latency)
        if b0 <= t <= b1:
            last.append(latency)
    return [(f, first, last) for f, (first, last) in ops.items() if first or last]


def _ops(count: float) -> str:
    return f"{int(count)} operation" + ("" if int(count) == 1 else "s")


def _verdict(
    counts: dict[str, float], table: DriftTable, p99_growth: float, min_growth: float
) -> CheckResult:
    if not counts["judged"]:
        summary = f"no operation has {MIN_SAMPLES} successes in both the first and last window"
        return CheckResult(NAME, "unknown", summary, counts, table=table)
    rule = f"p99 +{p99_growth * 100:.0f}% and +{min_growth * 1000:.0f} ms"
    drifting = [row for row in table.rows if row.drifting]
    if drifting:
        worst = max(drifting, key=lambda row: row.p99_delta_s)
        summary = (
            f"{len(drifting)} of {_ops(counts['judged'])} drift beyond {rule}; "
            f"{worst.f} p99 {(worst.first.p99 or 0.0) * 1000:.1f} -> "
            f"{(worst.last.p99 or 0.0) * 1000:.1f} ms"
        )
        examples = [{"why": f"{row.f} p99 grew", **asdict(row)} for row in drifting[:5]]
        return CheckResult(NAME, False, summary, counts, examples, table=table)
    summary = (
        f"no drift beyond {rule} in {_ops(counts['judged'])}; p99 growth at most "
        f"{round(counts['p99_growth_max'] * 100) + 0:+d}%"
    )
    return CheckResult(NAME, True, summary, counts, table=table)
