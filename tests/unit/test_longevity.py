"""Longevity, without a cluster: sizes and profile settings, the leak checker on synthetic
series (a leak, growth that levels off, noise, a restart, a long series), the drift checker,
and the report's resource charts and tables from synthetic samples."""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from harness.analysis import checker_options
from harness.checkers import drift, leak
from harness.checkers.context import CheckContext
from harness.checkers.result import CheckResult
from harness.checkers.tables import DriftTable, LeakTable
from harness.history import Record
from harness.report import load_run, render_report
from harness.run.directory import RunManifest
from harness.run.profile import SOAK_DEFAULTS, ProfileError, load_profile
from harness.sizes import parse_count_rate, parse_fraction, parse_size

MIB = 1024 * 1024
ZERO = 1_800_000_000.0
CTX = CheckContext()


def test_sizes_rates_and_fractions() -> None:
    assert parse_size("1GiB") == 1024**3
    assert parse_size("512MB") == 512e6
    assert parse_size("50MiB/h") == 50 * MIB
    assert parse_size("64M") == 64 * MIB
    assert parse_size(4096) == 4096
    assert parse_count_rate("200/h") == 200
    assert parse_fraction("50%") == 0.5 and parse_fraction("0.25") == 0.25
    for bad in ("lots", "-1GiB", "1 parsec"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_soak_settings_in_a_profile_and_as_flags(tmp_path: Path) -> None:
    path = tmp_path / "soak.yaml"
    path.write_text(
        "duration: 8h\nrolling-restart-every: 10m\nredis-restart-every: 1h\n"
        "memory-limit: 2GiB\nleak-rss: 20MiB\nleak-fds: 100/h\ndrift-p99: 30%\ndrift-min: 50ms\n"
    )
    profile = load_profile(str(path), {"users": 20}, SOAK_DEFAULTS)
    assert (profile.shape, profile.duration, profile.users) == ("soak", 8 * 3600, 20)
    assert (profile.memory_limit, profile.leak_rss, profile.leak_fds) == (
        2 * 1024**3,
        20 * MIB,
        100,
    )
    assert (profile.drift_p99, profile.drift_min) == (0.3, 0.05)
    schedule = profile.fault_schedule()
    kills = [f for f in schedule if f.name == "kill-node"]
    assert [f.target for f in kills[:4]] == ["n1", "n2", "n3", "n1"]
    assert len(kills) == 47  # every 10 min, none at the end
    redis = [f.at for f in schedule if f.name == "kill-redis"]
    assert redis[:2] == [3600 + 300, 7200 + 300]  # half a rolling period after the node restarts
    assert load_profile(None, {}, SOAK_DEFAULTS).duration == 3600  # soak's default
    with pytest.raises(ProfileError, match="needs Redis"):
        load_profile(None, {"store": "memory", "redis_restart_every": "1h"})
    with pytest.raises(ProfileError, match="memory-limit"):
        load_profile(None, {"memory_limit": "a lot"})


# ---- the leak checker -----------------------------------------------------------------------


def sample(t: float, target: str, pid: int, **values: float) -> Record:
    kind = "redis" if target == "redis" else "node"
    return {
        "time": ZERO + t,
        "type": "ok",
        "process": "monitor",
        "f": "sample",
        "value": {"target": target, "kind": kind, "pid": pid, **values},
    }


def run_start(**profile: Any) -> Record:
    return {"time": ZERO, "type": "ok", "process": "harness", "f": "run-start", "value": profile}


def series(
    shape: Any, seconds: int = 600, every: float = 1.0, target: str = "n1", pid: int = 1
) -> list[Record]:
    rng = random.Random(3)
    records = []
    for i in range(int(seconds / every)):
        t = i * every
        rss = 60 * MIB + shape(t) + rng.gauss(0, 0.05 * MIB)
        records.append(sample(t, target, pid, rss=rss, fds=40 + rng.choice((0, 0, 1, -1))))
    return records


def trend(result: CheckResult, target: str = "n1", metric: str = "rss") -> dict[str, Any]:
    """One series' trend, its fit's figures inlined."""
    assert isinstance(result.table, LeakTable)
    (found,) = [t for t in result.table.trends if t.target == target and t.metric == metric]
    return {**asdict(found), **asdict(found.fit)}


def test_a_steady_leak_is_flagged_with_its_slope_interval_and_time_to_the_limit() -> None:
    history = series(lambda t: 100 * MIB * t / 3600)  # 100 MiB/h
    result = leak.check(history, CTX)
    assert result.valid is False
    rss = trend(result)
    assert rss["status"] == "leak"
    assert 95 < rss["low_per_h"] / MIB < 100 < rss["high_per_h"] / MIB < 105
    assert rss["hours_to_limit"] == pytest.approx((1024 * MIB - rss["last"]) / rss["slope_per_h"])
    assert result.counts["leaking"] == 1 and result.counts["rss_slope_max_mb_h"] > 95
    assert "95% CI" in result.summary and "h to the memory limit" in result.summary
    assert trend(result, metric="fds")["status"] in ("flat", "growing")


def test_growth_that_levels_off_is_not_a_leak() -> None:
    # +60 MiB over the first 5 minutes (a cache filling up), then flat.
    history = series(lambda t: 60 * MIB * min(t, 300) / 300)
    result = leak.check(history, CTX)
    rss = trend(result)
    assert rss["low_per_h"] > 50 * MIB, "over the whole window it grows fast"
    assert rss["status"] == "levels off" and result.valid is True


def test_noise_without_growth_is_flat_and_thresholds_come_from_the_profile() -> None:
    flat = leak.check(series(lambda t: 0.0), CTX)
    assert flat.valid is True and trend(flat)["status"] in ("flat", "growing")
    slow = series(lambda t: 20 * MIB * t / 3600)  # 20 MiB/h: below the default 50
    assert leak.check(slow, CTX).valid is True
    given = {"leak_rss": 10 * MIB, "memory_limit": 512 * MIB, "drift_p99": 5.0}
    manifest = RunManifest(scenario="notifications", backend="local", store="redis", profile=given)
    options = checker_options(manifest)
    assert options["drift"]["p99_growth"] == 5.0
    result = leak.check(slow, CTX, **options["leak"])
    assert result.valid is False
    assert isinstance(result.table, LeakTable)
    assert result.table.settings.memory_limit == 512 * MIB
    assert trend(result)["threshold_per_h"] == 10 * MIB


def redis_filling(seconds: int, retention: float, per_s: float) -> list[Record]:
    """Redis memory of a steady load whose event logs fill for ``retention`` seconds (from
    the start) and then hold, with the node reporting that retention in its samples."""
    records = [run_start()]
    for t in range(seconds):
        used = 2 * MIB + per_s * min(t, retention)
        records.append(sample(t, "redis", 9, used_memory=used))
        records.append(sample(t, "n1", 1, rss=60 * MIB, fds=40, log_retention=retention))
    return records


def test_event_logs_filling_for_their_retention_are_not_a_leak() -> None:
    fast = 300 * MIB / 3600  # 300 MiB/h while filling: far above the 50 MiB/h threshold
    settled = leak.check(redis_filling(300, 120.0, fast), CTX)
    assert settled.valid is True, settled.summary
    short = leak.check(redis_filling(130, 120.0, fast), CTX)
    assert short.valid == "unknown"
    assert "Redis memory of redis not judged" in short.summary
    assert "a soak of at least 3 min decides" in short.summary
    # Without the server's word on its retention, the same data reads as a leak: the settle
    # is what tells the two apart.
    silent = [
        r
        for r in redis_filling(150, 120.0, fast)
        if r["value"] is None or "log_retention" not in r["value"]
    ]
    assert leak.check(silent, CTX).valid is False


def test_a_leak_past_the_retention_is_still_a_leak() -> None:
    growing = [run_start()]
    for t in range(400):
        growing.append(sample(t, "redis", 9, used_memory=2 * MIB + 200 * MIB * t / 3600))
        growing.append(sample(t, "n1", 1, rss=60 * MIB, fds=40, log_retention=60.0))
    result = leak.check(growing, CTX)
    assert result.valid is False and "Redis memory of redis" in result.summary


def test_a_restarted_node_is_a_new_series() -> None:
    before = series(lambda t: 100 * MIB * t / 3600, seconds=300, pid=1)
    after: list[Record] = [
        sample(r["time"] - ZERO + 300, "n1", 2, rss=r["value"]["rss"], fds=r["value"]["fds"])
        for r in series(lambda t: 100 * MIB * t / 3600, seconds=300)
    ]
    result = leak.check(before + after, CTX)
    assert isinstance(result.table, LeakTable)
    pids = sorted(t.pid or 0 for t in result.table.trends if t.metric == "rss")
    assert pids == [1, 2]
    assert result.counts["leaking"] == 2


def test_a_long_series_is_reduced_before_the_fit() -> None:
    history = series(lambda t: 60 * MIB * t / 3600, seconds=8 * 3600, every=2.0)
    result = leak.check(history, CTX)
    rss = trend(result)
    assert rss["samples"] > 14_000 and rss["points"] <= leak.MAX_POINTS
    assert rss["status"] == "leak" and 58 < rss["slope_per_h"] / MIB < 62


def test_too_few_samples_say_unknown() -> None:
    assert leak.check([], CTX).valid == "unknown"
    assert leak.check(series(lambda t: 0.0, seconds=15), CTX).valid == "unknown"


# ---- the drift checker ----------------------------------------------------------------------


def ops(seconds: int, latency: Any, f: str = "call:notify", per_second: int = 5) -> list[Record]:
    rng = random.Random(5)
    records: list[Record] = [run_start(shape="soak")]
    for i in range(seconds * per_second):
        t = ZERO + i / per_second
        records.append(
            {
                "time": t,
                "type": "ok",
                "process": f"w0-u{i % 20}",
                "f": f,
                "latency": latency(t - ZERO) * rng.uniform(0.8, 1.2),
            }
        )
    return records


def test_latency_that_grows_drifts_and_steady_latency_does_not() -> None:
    steady = drift.check(ops(600, lambda t: 0.050), CTX)
    assert steady.valid is True
    assert isinstance(steady.table, DriftTable)
    (row,) = steady.table.rows
    assert row.judged and not row.drifting
    growing = drift.check(ops(600, lambda t: 0.050 + 0.100 * t / 600), CTX)
    assert growing.valid is False
    assert growing.counts["drifting"] == 1 and growing.counts["p99_growth_max"] > 0.5
    assert isinstance(growing.table, DriftTable) and growing.table.windows is not None
    windows = growing.table.windows
    assert windows[0][0] == pytest.approx(60, abs=1)  # a tenth of the run is left out
    assert windows[1][1] == pytest.approx(600, abs=1)


def test_small_absolute_growth_and_sparse_operations_are_not_drift() -> None:
    tiny = drift.check(ops(600, lambda t: 0.002 + 0.004 * t / 600), CTX)  # 2 -> 6 ms: +200%
    assert tiny.valid is True
    sparse = drift.check(ops(600, lambda t: 0.05 + t, per_second=0), CTX)
    assert sparse.valid == "unknown"
    growing = ops(600, lambda t: 0.050 + 0.100 * t / 600)
    assert drift.check(growing, CTX, p99_growth=5.0).valid is True


def test_a_burst_of_noise_at_the_end_is_not_drift() -> None:
    """A loaded machine at the end of a clean soak: the last window's p99 jumps, but the p99
    of the run's slices shows no steady rise."""
    burst = drift.check(ops(600, lambda t: 0.150 if t > 540 else 0.050), CTX)
    (row,) = burst.table.rows if isinstance(burst.table, DriftTable) else []
    assert row.p99_growth is not None and row.p99_growth > 0.5, "the two windows differ"
    assert burst.valid is True and not row.drifting


def test_the_users_stopping_after_the_planned_end_are_not_judged() -> None:
    stopping = ops(600, lambda t: 0.050) + [
        {
            "time": ZERO + 600 + i / 100,
            "type": "ok",
            "process": f"w0-u{i}",
            "f": "call:notify",
            "latency": 2.0,
        }
        for i in range(200)
    ]
    unplanned = drift.check(stopping, CTX).table
    planned = drift.check(stopping, CheckContext(duration=600.0)).table
    assert isinstance(unplanned, DriftTable) and isinstance(planned, DriftTable)
    assert unplanned.rows[0].last.p99 == 2.0, "without the planned end the stops count"
    assert planned.windows is not None and planned.windows[1][1] <= 600
    assert (planned.rows[0].last.p99 or 1.0) < 0.1, "the 2 s stops are not in the last window"


def test_long_runs_compare_the_first_and_the_last_hour() -> None:
    (a0, a1), (b0, b1) = drift.drift_windows(0.0, 8 * 3600.0)
    assert (a0, a1 - a0, b1 - b0, b1) == (60.0, 3600.0, 3600.0, 8 * 3600.0)
    (a0, a1), (b0, b1) = drift.drift_windows(0.0, 900.0)
    assert a0 == 60.0 and math.isclose(a1 - a0, 280.0) and b1 == 900.0


# ---- the report -----------------------------------------------------------------------------


def test_a_report_with_samples_has_resource_charts_slopes_and_drift(tmp_path: Path) -> None:
    history: list[Record] = [run_start(shape="soak", memory_limit=1024 * MIB)]
    history += series(lambda t: 100 * MIB * t / 3600, target="n1", pid=11)
    history += series(lambda t: 0.0, target="n2", pid=12)
    history += [
        sample(t, "redis", 13, used_memory=2 * MIB + 1000 * t, keys=60, clients=10, fds=30)
        for t in range(600)
    ]
    history += ops(600, lambda t: 0.05)[1:]
    history.sort(key=lambda r: r["time"])
    results = [leak.check(history, CTX), drift.check(history, CTX)]
    run = load_run(tmp_path, label="soak", results=results, history=history)
    files = render_report(tmp_path / "report", [run])
    for chart in ("memory", "redis", "fds", "sessions", "cpu"):
        assert f"charts/{chart}.png" in files or chart == "sessions"  # no /metrics gauges here
    summary = json.loads(files["summary.json"].read_text())
    (entry,) = summary["runs"]
    assert {r["target"] for r in entry["resources"]} == {"n1", "n2", "redis"}
    slopes = {(r["target"], r["metric"]): r for r in entry["longevity"]["leak"]["rows"]}
    assert slopes[("n1", "rss")]["status"] == "leak" and slopes[("n2", "rss")]["leaking"] is False
    assert 95 < slopes[("n1", "rss")]["low_per_h"] < 100  # in MiB per hour
    assert entry["longevity"]["drift"]["status"] == "pass"
    markdown = files["report.md"].read_text()
    for heading in ("### Resources", "### Leak check: growth per hour", "### Latency drift"):
        assert heading in markdown
    assert "| LEAK |" in markdown and "95% CI /h" in markdown
    html = files["report.html"].read_text()
    assert "Leak check: growth per hour" in html and "Latency drift" in html
    junit = files["junit.xml"].read_text()
    assert 'name="leak"' in junit and "<failure" in junit
